// Small glue: keyboard shortcut for the global search ("/"), and htmx CSRF already set on <body>.
document.addEventListener("keydown", function (e) {
  if (e.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
    const box = document.getElementById("global-search-input");
    if (box) { e.preventDefault(); box.focus(); }
  }
});

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
