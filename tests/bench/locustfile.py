"""A working day against a running Kehu (issue #19 item 4): locust users that sign in like people do and mix
what they do through the day. Run by scripts/load-test.sh (`make bench-load`), which starts the production
profile, runs locust headless for a fixed time and prints p50/p95/p99 per step; by hand:

    .venv/bin/locust -f tests/bench/locustfile.py --headless -H http://127.0.0.1:58000 -u 8 -r 2 -t 60s

Users (weights): sales reps (6: customer list, search, the 360° page, logging a call, moving a deal), service
agents (2: the queue, the ticket list, a ticket), a marketer (1: segment counts) and API clients (2: the customer
list and records over the REST API). Every user is one of the demo logins (password KEHU_LOAD_PASSWORD,
default the demo's). Production cookies are Secure; on plain-HTTP loopback the client is told to send them anyway.
"""

from __future__ import annotations

import datetime
import os
import random

from locust import HttpUser, between, task

PASSWORD = os.environ.get("KEHU_LOAD_PASSWORD", "kehu-demo-2026")
SEARCH_TERMS = ["科技", "上海", "北京", "张", "王", "李", "有限公司", "贸易", "138", "Acme"]


class KehuUser(HttpUser):
    abstract = True
    wait_time = between(0.5, 2.0)
    logins: tuple[str, ...] = ()

    def on_start(self) -> None:
        self.username = random.choice(self.logins)  # noqa: S311 - load mix, not security
        page = self.client.get("/accounts/login/", name="sign in page")
        token = self._cookie("csrftoken")
        self.client.post(
            "/accounts/login/",
            data={"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{self.host}/accounts/login/"},
            name="sign in",
            allow_redirects=False,
        )
        self._unsecure_cookies()
        assert page.status_code == 200
        self.customer_ids = self._ids("/api/customers/?page_size=100", name="api: customer ids")

    # Secure cookies over plain HTTP: the requests cookie jar keeps them but does not send them; resend them
    def _unsecure_cookies(self) -> None:
        for cookie in list(self.client.cookies):
            cookie.secure = False

    def _cookie(self, name: str) -> str:
        self._unsecure_cookies()
        return self.client.cookies.get(name, "")

    def _ids(self, url: str, name: str) -> list[int]:
        response = self.client.get(url, name=name)
        if response.status_code != 200:
            return []
        return [row["id"] for row in response.json().get("results", [])]

    def _write_headers(self, **extra: str) -> dict:
        return {"X-CSRFToken": self._cookie("csrftoken"), "Referer": f"{self.host}/", **extra}


class SalesRep(KehuUser):
    weight = 6
    logins = ("rep1", "rep2", "rep3", "rep4")

    def on_start(self) -> None:
        super().on_start()
        self.deals = self._ids("/api/opportunities/?status=open&page_size=50", name="api: open deals")

    @task(4)
    def customer_list(self) -> None:
        self.client.get("/customers/", name="customer list")

    @task(4)
    def search(self) -> None:
        self.client.get(f"/customers/?q={random.choice(SEARCH_TERMS)}", name="customer search")  # noqa: S311

    @task(5)
    def customer_360(self) -> None:
        if self.customer_ids:
            self.client.get(f"/customers/{random.choice(self.customer_ids)}/", name="360° page")  # noqa: S311

    @task(2)
    def log_call(self) -> None:
        if not self.customer_ids:
            return
        self.client.post(
            "/api/interactions/",
            json={
                "customer": random.choice(self.customer_ids),  # noqa: S311
                "channel": "call",
                "direction": "out",
                "subject": "回访电话 follow-up call",
                "occurred_at": datetime.datetime.now(datetime.UTC).isoformat(),
                "duration_minutes": 5,
            },
            headers=self._write_headers(),
            name="log a call",
        )

    @task(1)
    def move_deal(self) -> None:
        if not self.deals:
            return
        deal_id = random.choice(self.deals)  # noqa: S311
        deal = self.client.get(f"/api/opportunities/{deal_id}/", name="api: deal")
        if deal.status_code != 200:
            return
        pipeline = self.client.get(f"/api/pipelines/{deal.json()['pipeline']}/", name="api: pipeline").json()
        stages = [s["id"] for s in pipeline.get("stages", []) if s.get("kind") == "open"]
        if len(stages) < 2:
            return
        target = random.choice([s for s in stages if s != deal.json()["stage"]])  # noqa: S311
        with self.client.post(
            f"/api/opportunities/{deal_id}/move/",
            json={"stage": target},
            headers=self._write_headers(**{"If-Match": deal.headers.get("ETag", "")}),
            name="move a deal",
            catch_response=True,
        ) as moved:
            if moved.status_code == 409:  # someone moved it in between: a correct answer, not an error
                moved.success()


class ServiceAgent(KehuUser):
    weight = 2
    logins = ("agent", "agent2")

    def on_start(self) -> None:
        super().on_start()
        self.tickets = self._ids("/api/tickets/?page_size=100", name="api: ticket ids")

    @task(3)
    def queue(self) -> None:
        self.client.get("/service/", name="ticket queue")

    @task(2)
    def ticket_list(self) -> None:
        self.client.get("/service/tickets/", name="ticket list")

    @task(3)
    def ticket(self) -> None:
        if self.tickets:
            self.client.get(f"/service/tickets/{random.choice(self.tickets)}/", name="ticket page")  # noqa: S311


class Marketer(KehuUser):
    weight = 1
    logins = ("marketer",)

    def on_start(self) -> None:
        super().on_start()
        self.segments = self._ids("/api/segments/?page_size=50", name="api: segments")

    @task
    def segment_count(self) -> None:
        if self.segments:
            self.client.get(f"/api/segments/{random.choice(self.segments)}/count/", name="segment count")  # noqa: S311


class ApiClient(KehuUser):
    weight = 2
    logins = ("manager", "admin")

    @task(2)
    def list_customers(self) -> None:
        self.client.get("/api/customers/?page_size=50", name="api: customer list")

    @task(3)
    def read_customer(self) -> None:
        if self.customer_ids:
            self.client.get(f"/api/customers/{random.choice(self.customer_ids)}/", name="api: customer")  # noqa: S311
