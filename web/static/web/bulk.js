// "Select all on this page" in the memory browser: a checkbox with
// data-select-all="NAME" ticks every checkbox named NAME in its form. Works
// after htmx swaps the results in (the listener is on the document).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var all = event.target.closest("input[data-select-all]");
    if (!all || !all.form) { return; }
    var name = all.getAttribute("data-select-all");
    all.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]')
      .forEach(function (box) { box.checked = all.checked; });
  });
})();
