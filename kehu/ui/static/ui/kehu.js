// Small glue: keyboard shortcut for the global search ("/"), and htmx CSRF already set on <body>.
document.addEventListener("keydown", function (e) {
  if (e.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
    const box = document.getElementById("global-search-input");
    if (box) { e.preventDefault(); box.focus(); }
  }
});
