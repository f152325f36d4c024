// Visits on a phone: check-in/out with the browser's geolocation, and notes kept in localStorage while
// offline, sent when the connection returns (idempotent per client id, so a retried send is stored once).
// No inline JS (Content-Security-Policy): everything is wired from data attributes.
(function () {
  "use strict";
  var QUEUE = "kehu.salesmgmt.notes";

  function $(sel) { return document.querySelector(sel); }
  function csrf() { var el = $("input[name=csrfmiddlewaretoken]"); return el ? el.value : ""; }
  function say(el, text, bad) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("msg-error", !!bad);
    el.classList.toggle("msg-success", !bad);
    el.hidden = false;
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function post(url, fields) {
    var body = new FormData();
    Object.keys(fields).forEach(function (k) { if (fields[k] !== null && fields[k] !== undefined) body.append(k, fields[k]); });
    body.append("csrfmiddlewaretoken", csrf());
    return fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-Requested-With": "fetch", "X-CSRFToken": csrf() } });
  }

  // ---- check-in / check-out
  function geoButtons() {
    var status = $("#geo-status");
    document.querySelectorAll("[data-geo-action]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!navigator.geolocation) { say(status, btn.dataset.msgUnavailable, true); return; }
        btn.disabled = true;
        say(status, btn.dataset.msgLocating, false);
        navigator.geolocation.getCurrentPosition(function (pos) {
          var report = $("#checkout-report");
          post(btn.dataset.geoAction, {
            latitude: pos.coords.latitude, longitude: pos.coords.longitude, accuracy: pos.coords.accuracy,
            age_ms: Math.max(0, Math.round(Date.now() - (pos.timestamp || Date.now()))),
            report: report ? report.value : null,
          }).then(function (r) { return r.json().then(function (d) { return [r.ok, d]; }); })
            .then(function (res) {
              if (res[0]) { window.location.reload(); return; }
              btn.disabled = false; say(status, res[1].error, true);
            })
            .catch(function () { btn.disabled = false; say(status, btn.dataset.msgOffline, true); });
        }, function (err) {
          btn.disabled = false;
          say(status, err && err.code === 1 ? btn.dataset.msgDenied : btn.dataset.msgUnavailable, true);
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
      });
    });
  }

  // ---- notes, offline first
  function load() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function save(q) { localStorage.setItem(QUEUE, JSON.stringify(q)); }
  function showWaiting() {
    var el = $("#notes-waiting");
    if (!el) return;
    var n = load().length;
    el.hidden = n === 0;
    el.textContent = (el.dataset.template || "%s").replace("%s", n);
  }
  function addToList(text, when) {
    var list = $("#notes");
    if (!list) return;
    var empty = list.querySelector(".empty"); if (empty) empty.remove();
    var li = document.createElement("li");
    li.setAttribute("data-testid", "note");
    li.textContent = text;
    list.appendChild(li);
  }
  var flushing = false;
  function flush() {
    if (flushing || !navigator.onLine) { showWaiting(); return; }
    var q = load();
    if (!q.length) { showWaiting(); return; }
    flushing = true;
    var note = q[0];
    // the age, not the phone's clock: the server dates the note on its own clock
    post(note.url, { text: note.text, client_id: note.client_id, age_ms: Math.max(0, Date.now() - note.typed) })
      .then(function (r) {
        var rest = load().filter(function (n) { return n.client_id !== note.client_id; });
        if (r.ok) { save(rest); if (note.url === currentUrl()) addToList(note.text); }
        else if (r.status >= 400 && r.status < 500) {
          save(rest);  // refused for good (empty, too long, time in the future): say so, do not retry forever
          r.json().then(function (d) { say($("#note-status"), d.error || "", true); }).catch(function () {});
        }
        flushing = false; showWaiting();
        if (r.ok || (r.status >= 400 && r.status < 500)) flush();
      })
      .catch(function () { flushing = false; showWaiting(); });
  }
  function currentUrl() { var f = $("#note-form"); return f ? f.dataset.url : ""; }
  function noteForm() {
    var form = $("#note-form");
    if (!form) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var box = form.querySelector("textarea");
      var text = box.value.trim();
      if (!text) return;
      var q = load();
      q.push({ url: form.dataset.url, text: text, client_id: uuid(), typed: Date.now() });
      save(q);
      box.value = "";
      showWaiting();
      flush();
    });
  }

  function serviceWorker() { // keeps the visit pages openable without a connection (visits_sw.js)
    var el = $("[data-visits-sw]");
    if (!el || !("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register(el.dataset.visitsSw).then(function () {
      document.documentElement.setAttribute("data-visits-sw", "registered");
    }).catch(function () {});
  }

  document.addEventListener("DOMContentLoaded", function () {
    geoButtons(); noteForm(); showWaiting(); flush(); serviceWorker();
    window.addEventListener("online", flush);
    window.addEventListener("offline", showWaiting);
    document.documentElement.setAttribute("data-visits-ready", "1");
  });
})();
