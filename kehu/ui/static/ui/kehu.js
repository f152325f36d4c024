// Small glue that works under the Content-Security-Policy (no inline scripts, no eval; docs/adr/0007):
// behaviour is declared with data attributes in the templates and wired here.
(function () {
  "use strict";

  // "/" focuses the global search
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
      const box = document.getElementById("global-search-input");
      if (box) { e.preventDefault(); box.focus(); }
    }
  });

  // <form data-confirm="…"> and <button data-confirm="…">: ask before submitting
  document.addEventListener("submit", function (e) {
    const form = e.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) e.preventDefault();
  }, true);
  document.addEventListener("click", function (e) {
    const button = e.target.closest && e.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) e.preventDefault();
  }, true);

  // <select data-autosubmit>: submit its form on change
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("select[data-autosubmit]") && e.target.form) e.target.form.submit();
  });

  // <div data-show-when="field=value">: shown only while the form's `field` has that value
  function fieldValue(form, name) {
    const inputs = form.querySelectorAll("[name='" + name + "']");
    for (const input of inputs) {
      if ((input.type === "radio" || input.type === "checkbox") && !input.checked) continue;
      return input.value;
    }
    return "";
  }
  function applyShowWhen(root) {
    (root || document).querySelectorAll("[data-show-when]").forEach(function (el) {
      const form = el.closest("form");
      if (!form) return;
      const [name, value] = el.dataset.showWhen.split("=");
      el.hidden = fieldValue(form, name) !== value;
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target.form) applyShowWhen(e.target.form);
  });

  // <span data-bg="#aabbcc">: a colour chosen by users (tags), set through the CSSOM (no style attribute)
  function applyColours(root) {
    (root || document).querySelectorAll("[data-bg]").forEach(function (el) {
      el.style.backgroundColor = el.dataset.bg;
    });
  }

  // <section data-swap-status="400 403">: htmx swaps these error answers in (validation messages) too
  document.addEventListener("htmx:beforeSwap", function (e) {
    const holder = e.target.closest && e.target.closest("[data-swap-status]");
    if (holder && holder.dataset.swapStatus.split(" ").includes(String(e.detail.xhr.status))) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  function init(root) { applyShowWhen(root); applyColours(root); }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (e) { init(e.target); });
})();
