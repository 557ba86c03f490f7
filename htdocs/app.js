// One API in C: progressive enhancement only; every page works without this file.
// - [data-copy="text"] buttons copy their text to the clipboard;
// - forms with [data-confirm="question"] ask before they are sent.
(function () {
  "use strict";
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-copy]");
    if (!b || !navigator.clipboard) return;
    ev.preventDefault();
    navigator.clipboard.writeText(b.getAttribute("data-copy")).then(function () {
      var old = b.textContent;
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = old; }, 1200);
    });
  });
  document.addEventListener("submit", function (ev) {
    var q = ev.target.getAttribute("data-confirm");
    if (q && !window.confirm(q)) ev.preventDefault();
  });
  document.documentElement.classList.add("js");
})();
