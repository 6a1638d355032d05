// Loading a preset reloads the form with its values: ask first when the form has been changed.
// Without JavaScript the preset links still work (without the question).
(function () {
  var form = document.getElementById("trainingrun_form");
  var changed = form.dataset.changed === "true";
  var mark = function () { changed = true; };
  form.addEventListener("input", mark);
  form.addEventListener("change", mark);
  document.querySelectorAll("#presets a.preset-link").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (changed && !window.confirm("Load the " + link.dataset.preset + " preset? Your changes to this form will be lost.")) {
        event.preventDefault();
      }
    });
  });
})();
