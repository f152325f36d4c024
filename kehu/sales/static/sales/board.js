// The kanban board (sales/board.html). Runs under the strict Content-Security-Policy (no inline script, no
// eval, no style attributes): the template declares everything with data attributes, this file wires it.
// Drag and drop with SortableJS (vendored); every move is `POST /api/opportunities/{id}/move/` with the
// card's ETag in If-Match. After a move the column heads (count, totals, weighted totals) are reloaded from
// the server; a stale move (409: someone else changed the deal) or a refused one reloads the columns
// involved and says why. A drop on a won/lost column asks for the close reason first (refusing puts the card
// back). On a phone one column is shown at a time (stage switcher) and cards move through "Move to…".
(function () {
  "use strict";

  const root = document.querySelector("[data-board]");
  if (!root) return;
  const query = root.dataset.query || "";
  const message = root.querySelector("[data-board-message]");
  const closeDialog = document.querySelector("[data-close-dialog]");
  const moveDialog = document.querySelector("[data-move-dialog]");
  const sortables = [];
  let busy = false;

  function withQuery(url, extra) {
    const parts = [query, extra].filter(Boolean).join("&");
    return parts ? url + (url.includes("?") ? "&" : "?") + parts : url;
  }
  function stageUrl(template, stageId) { return template.replace(/\/0\/cards\/$/, "/" + stageId + "/cards/"); }
  function moveUrl(cardId) { return root.dataset.moveUrl.replace(/\/0\/move\/$/, "/" + cardId + "/move/"); }
  function column(stageId) { return root.querySelector("[data-column][data-stage='" + stageId + "']"); }
  function listOf(col) { return col.querySelector("[data-cards]"); }
  function format(template, stage) { return template.replace("{stage}", stage); }

  function say(text, kind) {
    message.textContent = text;
    message.className = "msg board-message msg-" + (kind || "success");
    message.hidden = !text;
  }

  function setBusy(value) {
    busy = value;
    root.classList.toggle("busy", value);
    sortables.forEach(function (s) { s.option("disabled", value); });
  }

  // "load more" shows while the column lists fewer cards than its count
  function updateMore(col) {
    const button = col.querySelector("[data-load-more]");
    if (!button) return;
    const head = col.querySelector("[data-head]");
    const count = head ? parseInt(head.dataset.count, 10) : 0;
    button.hidden = col.dataset.kind !== "open" || listOf(col).children.length >= count;
  }

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  async function getHtml(url) {
    const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    return response.text();
  }

  async function refreshHeads() {
    const fragment = parse(await getHtml(withQuery(root.dataset.totalsUrl)));
    fragment.querySelectorAll("[data-head]").forEach(function (head) {
      const col = column(head.dataset.head);
      if (!col) return;
      col.querySelector("[data-head]").replaceWith(head);
      const option = root.querySelector("[data-board-switch] option[value='" + head.dataset.head + "']");
      if (option) option.textContent = col.dataset.stageName + " (" + head.dataset.count + ")";
      updateMore(col);
    });
  }

  async function reloadColumn(stageId) {
    const col = column(stageId);
    if (!col || col.dataset.kind !== "open") return;
    const fragment = parse(await getHtml(stageUrl(withQuery(root.dataset.cardsUrl), stageId)));
    listOf(col).replaceChildren(fragment);
    updateMore(col);
  }

  async function loadMore(col) {
    const cards = listOf(col).querySelectorAll("[data-card]");
    const last = cards[cards.length - 1];
    const url = stageUrl(withQuery(root.dataset.cardsUrl, last ? "after=" + last.dataset.id : ""), col.dataset.stage);
    const fragment = parse(await getHtml(url));
    const known = new Set(Array.from(cards).map(function (c) { return c.dataset.id; }));
    fragment.querySelectorAll("[data-card]").forEach(function (card) {
      if (!known.has(card.dataset.id)) listOf(col).appendChild(card);
    });
    updateMore(col);
  }

  // the close reason of a drop on a won/lost column; resolves null when the user refuses
  function askReason(kind, card) {
    return new Promise(function (resolve) {
      const form = closeDialog.querySelector("form");
      form.reset();
      closeDialog.querySelectorAll("[data-when]").forEach(function (el) {
        el.hidden = el.dataset.when !== kind;
        el.querySelectorAll("select").forEach(function (s) { s.disabled = el.dataset.when !== kind; });
      });
      closeDialog.querySelector("[data-close-card]").textContent = card.dataset.name || "";
      closeDialog.returnValue = "";
      closeDialog.addEventListener("close", function onClose() {
        closeDialog.removeEventListener("close", onClose);
        if (closeDialog.returnValue !== "ok") { resolve(null); return; }
        const answer = {
          close_reason: form.elements[kind + "_reason"].value,
          close_note: form.elements.close_note.value,
        };
        if (kind === "lost" && form.elements.lost_to && form.elements.lost_to.value) {
          answer.lost_to = form.elements.lost_to.value;
        }
        resolve(answer);
      });
      closeDialog.showModal();
    });
  }

  async function postMove(card, stageId, body) {
    const response = await fetch(moveUrl(card.dataset.id), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": root.dataset.csrf,
        "If-Match": '"' + card.dataset.id + "-" + card.dataset.version + '"',
      },
      body: JSON.stringify(Object.assign({ stage: Number(stageId) }, body)),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return { ok: response.ok, status: response.status, data: data };
  }

  function errorText(data) {
    if (!data) return "";
    if (typeof data.detail === "string") return data.detail;
    return Object.values(data).flat().filter(function (v) { return typeof v === "string"; }).join(" ");
  }

  // move `card` (already placed in the target list, or to be placed at its top) to `stageId`;
  // `putBack` restores the card where it was when the move is refused before it is sent
  async function move(card, fromStage, stageId, putBack) {
    const target = column(stageId);
    const kind = target.dataset.kind;
    const body = {};
    if (kind !== "open") {
      const reason = await askReason(kind, card);
      if (!reason) { putBack(); return; }
      Object.assign(body, reason);
    } else {
      const prev = card.previousElementSibling;
      const next = card.nextElementSibling;
      body.after = prev && listOf(target).contains(prev) ? Number(prev.dataset.id) : null;
      body.before = next && listOf(target).contains(next) ? Number(next.dataset.id) : null;
    }
    const result = await postMove(card, stageId, body);
    if (result.ok) {
      card.dataset.version = result.data.version;
      card.classList.remove("stalled");
      const stalled = card.querySelector("[data-testid=stalled]");
      if (stalled) stalled.remove();
      if (kind !== "open") card.remove();
      await refreshHeads();
      // the message comes last: once it shows, the heads are up to date
      if (kind !== "open") say(format(root.dataset.msgClosed, target.dataset.stageName));
      else if (String(fromStage) !== String(stageId)) say(format(root.dataset.msgMoved, target.dataset.stageName));
      return;
    }
    if (kind !== "open") putBack();
    // stale (409): the deal may now be in any column, so every column is re-read; otherwise the two involved
    const stages = result.status === 409
      ? Array.from(root.querySelectorAll("[data-column]")).map(function (c) { return c.dataset.stage; })
      : Array.from(new Set([String(fromStage), String(stageId)]));
    for (const s of stages) await reloadColumn(s);
    await refreshHeads();
    const detail = errorText(result.data);
    const lead = result.status === 409 ? root.dataset.msgStale : root.dataset.msgFailed;
    say(lead + (detail ? " " + detail : ""), "error");
  }

  async function guarded(work) {
    setBusy(true);
    try { await work(); } catch (e) { say(root.dataset.msgFailed, "error"); } finally { setBusy(false); }
  }

  // drag and drop
  root.querySelectorAll("[data-cards]").forEach(function (list) {
    sortables.push(window.Sortable.create(list, {
      group: "board",
      animation: 120,
      forceFallback: true, // mouse/touch events instead of HTML5 drag and drop: the same on every browser
      fallbackOnBody: true,
      delay: 200,
      delayOnTouchOnly: true, // a phone scrolls unless the finger rests on the card
      filter: "[data-move-menu]",
      preventOnFilter: false,
      draggable: "[data-card]",
      ghostClass: "board-card-ghost",
      chosenClass: "board-card-chosen",
      onEnd: function (evt) {
        const card = evt.item;
        const from = evt.from;
        const to = evt.to;
        if (from === to && evt.oldIndex === evt.newIndex) return;
        const putBack = function () { from.insertBefore(card, from.children[evt.oldIndex] || null); };
        guarded(function () { return move(card, from.dataset.stage, to.dataset.stage, putBack); });
      },
    }));
  });

  // "Move to…" (phones, keyboards): choose a stage in a dialog; the card goes to the top of that column
  root.addEventListener("click", function (e) {
    const button = e.target.closest("[data-move-menu]");
    if (button && !busy) {
      const card = button.closest("[data-card]");
      const fromStage = card.closest("[data-cards]").dataset.stage;
      moveDialog.querySelector("[data-move-card]").textContent = card.dataset.name || "";
      moveDialog.querySelectorAll("button[value]").forEach(function (b) {
        if (b.value) b.disabled = b.value === String(fromStage);
      });
      moveDialog.returnValue = "";
      moveDialog.addEventListener("close", function onClose() {
        moveDialog.removeEventListener("close", onClose);
        const stageId = moveDialog.returnValue;
        if (!stageId || stageId === String(fromStage)) return;
        const from = card.parentElement;
        const next = card.nextElementSibling;
        const putBack = function () { from.insertBefore(card, next); };
        const target = column(stageId);
        if (target.dataset.kind === "open") listOf(target).prepend(card);
        guarded(function () { return move(card, fromStage, stageId, putBack); });
      });
      moveDialog.showModal();
      return;
    }
    const more = e.target.closest("[data-load-more]");
    if (more && !busy) guarded(function () { return loadMore(more.closest("[data-column]")); });
  });

  // the phone's stage switcher: one column at a time
  const switcher = root.querySelector("[data-board-switch]");
  if (switcher) {
    switcher.addEventListener("change", function () {
      root.querySelectorAll("[data-column]").forEach(function (col) {
        col.classList.toggle("current", col.dataset.stage === switcher.value);
      });
    });
  }
})();
