// Copy buttons: <button data-copy-target="ID"> copies the value (or text) of
// the element with that id and says so in the next .copy-status element.
// Without the Clipboard API (plain http on another host) the text is
// selected instead, for Ctrl+C.
(function () {
  "use strict";
  function report(button, message) {
    var status = button.parentElement.querySelector(".copy-status");
    if (status) { status.textContent = message; }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy-target]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) { return; }
    var text = "value" in source ? source.value : source.textContent;
    function fallback() {
      if (source.select) { source.select(); }
      report(button, "Selected: press Ctrl+C (⌘C) to copy.");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { report(button, "Copied."); },
        fallback
      );
    } else {
      fallback();
    }
  });
})();
