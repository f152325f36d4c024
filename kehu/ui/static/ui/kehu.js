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

// The global search box (base.html) is an ARIA combobox: results arrive by htmx into #search-results as a
// listbox of links (ui/search_results.html). Up/Down move the highlighted option (aria-activedescendant, focus
// stays in the input), Enter opens it (without one, Enter submits the form: the full results page), Escape
// closes the list. A click outside closes it too. No inline handlers: the page runs under a strict CSP.
function initGlobalSearch() {
  const form = document.querySelector("[data-global-search]");
  if (!form) return;
  const input = form.querySelector("input[role=combobox]");
  const popup = document.getElementById(input.getAttribute("aria-controls"));
  let active = -1;

  const options = () => Array.from(popup.querySelectorAll("[role=option]"));
  const hasContent = () => popup.textContent.trim() !== "";

  function highlight(index) {
    const opts = options();
    active = index >= 0 && index < opts.length ? index : -1;
    opts.forEach((opt, i) => {
      opt.setAttribute("aria-selected", i === active ? "true" : "false");
      opt.classList.toggle("active", i === active);
    });
    if (active >= 0) {
      input.setAttribute("aria-activedescendant", opts[active].id);
      opts[active].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function setOpen(open) {
    const show = open && hasContent();
    popup.hidden = !show;
    input.setAttribute("aria-expanded", show && options().length ? "true" : "false");
    form.classList.toggle("open", show);
    if (!show) highlight(-1);
  }

  input.addEventListener("keydown", function (e) {
    const opts = options();
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!opts.length) return;
      e.preventDefault();
      setOpen(true);
      const step = e.key === "ArrowDown" ? 1 : -1;
      const start = active < 0 ? (step > 0 ? -1 : opts.length) : active;
      highlight((start + step + opts.length) % opts.length);
    } else if (e.key === "Enter") {
      if (!popup.hidden && active >= 0 && opts[active]) {
        e.preventDefault();
        window.location.assign(opts[active].href);
      }
    } else if (e.key === "Escape") {
      if (!popup.hidden) {
        e.preventDefault(); // close the list first; a second Escape clears the box (the browser's default)
        setOpen(false);
      }
    }
  });
  input.addEventListener("focus", function () { setOpen(true); });
  input.addEventListener("input", function () { highlight(-1); });
  popup.addEventListener("mousemove", function (e) {
    const opt = e.target.closest("[role=option]");
    if (opt) highlight(options().indexOf(opt));
  });
  document.addEventListener("click", function (e) {
    if (!form.contains(e.target)) setOpen(false);
  });
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target !== popup) return;
    active = -1;
    setOpen(document.activeElement === input);
  });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", initGlobalSearch);
} else {
  initGlobalSearch();
}
