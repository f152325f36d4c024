"""Quote PDF benchmark (issue #16: a quote PDF rendered < 1 s): a realistic quote of 20 lines with Chinese
product names, customer and terms, rendered N times in zh-Hans (Noto Sans CJK embedded) and in en, through
`kehu.sales.pdf.quote_pdf` (context with field rights + template + WeasyPrint). It needs no large dataset:
the default test database (SQLite in memory) or a small PostgreSQL database will do.

    .venv/bin/python -m pytest tests/bench/bench_sales_pdf.py -p no:cacheprovider -o addopts="" \
        -o python_files="bench_*.py" -s -n 0          # BENCH_PDF_RUNS=30 (default)

Figures are printed (and appended to var/bench.log); nothing asserts wall-clock times. The first render of
each language is reported apart (font loading: fontconfig, the CJK collection) and left out of p50/p95.
Besides the wall time, the process CPU time of each render is reported: on a shared machine the wall time
mostly measures the wait for a core.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal as D

import pytest

from tests.bench.conftest import report, timed

pytestmark = pytest.mark.django_db

RUNS = int(os.environ.get("BENCH_PDF_RUNS", "30"))

PRODUCTS = [
    "螺杆式空压机 AC-100（变频）", "冷冻式干燥机 DR-30", "精密过滤器 F-12（三级）", "储气罐 1 m³（碳钢）",
    "自动排水阀 AV-2", "无油涡旋压缩机 OS-7", "热回收系统 HR-55", "智能群控系统 SC-8",
    "管路系统安装（含材料）", "年度维保合同（含两次上门）", "空滤芯 AF-100", "油滤芯 OF-100",
    "油气分离器 OS-100", "专用润滑油 20 L", "压力传感器 PT-16", "温度传感器 TT-4",
    "现场调试与培训", "远程监控网关 IoT-3", "备用电机 15 kW", "运输与吊装",
]  # fmt: skip


@pytest.fixture
def quote(db):
    from kehu.customers import services as customer_services
    from kehu.products.models import PriceList, PriceListItem, Product
    from kehu.sales.services import quotes
    from tests.sales.conftest import Org

    org = Org()
    price_list = PriceList.objects.create(name="标准价 2026", currency="CNY", valid_from="2020-01-01")
    customer = customer_services.customer_create(
        data={"name": "苏州工业园区精密机械制造股份有限公司", "tax_id": "91320594MA1XXXXX0Q"}, by=org.manager
    )
    made = quotes.quote_create(
        customer=customer,
        by=org.manager,
        price_list=price_list,
        data={
            "title": "空压站改造项目报价 Compressor station retrofit",
            "terms": "1. 付款方式：合同签订后预付 30%，到货验收后支付 60%，质保金 10% 一年后支付。\n"
            "2. 交货期：合同生效后 45 个工作日。\n3. 质保期：整机 24 个月，易损件除外。\n"
            "4. 报价含 13% 增值税专用发票。",
        },
    )
    for n, name in enumerate(PRODUCTS, 1):
        product = Product.objects.create(
            sku=f"P-{n:03d}", name=name, list_price=D(1000 + n * 137), currency="CNY"
        )
        PriceListItem.objects.create(price_list=price_list, product=product, unit_price=D(900 + n * 131))
        quotes.quote_line_add(
            quote=made,
            data={"product": product, "quantity": D(n % 5 + 1), "discount_percent": D(n % 4 * 2)},
            by=org.manager,
        )
    made.refresh_from_db()
    assert made.lines.count() == 20
    return made, org.manager


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_quote_pdf(quote, language):
    from kehu.sales.pdf import quote_pdf

    made, user = quote
    t0 = time.perf_counter()
    first = quote_pdf(quote=made, user=user, language=language)
    print(
        f"BENCH quote PDF {language}: first render {(time.perf_counter() - t0) * 1000:.0f} ms, {len(first)} bytes"
    )
    assert first.startswith(b"%PDF")
    render = lambda: quote_pdf(quote=made, user=user, language=language)  # noqa: E731
    report(f"quote PDF, 20 lines, {language}, wall", timed(render, RUNS))
    cpu = []
    for _ in range(RUNS):
        t0 = time.process_time()
        render()
        cpu.append((time.process_time() - t0) * 1000)
    report(f"quote PDF, 20 lines, {language}, CPU", cpu)
