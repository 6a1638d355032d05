// The site's small behaviours, kept out of the HTML so the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  // The phone menu: the ☰ button folds the navigation open and shut.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) {
      toggle.setAttribute("aria-expanded", document.body.classList.toggle("nav-open"));
    }
  });

  // A page the browser froze whole and brought back on Back or Forward shows what was true then: load it again
  // (pages are sent with Cache-Control: no-store, so it comes from the server, as it is now).
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      window.location.reload();
    }
  });

  // Escape folds the open phone menu again, and gives the focus back to its button.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.body.classList.contains("nav-open")) {
      document.body.classList.remove("nav-open");
      var toggle = document.querySelector("[data-nav-toggle]");
      if (toggle) {
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    }
  });

  // Selects that submit their form when a choice is picked with the mouse or a finger (the predictions page's
  // version picker). A choice stepped through with the arrow keys is not submitted (each step would load a page):
  // the form's own button submits it.
  var keyed = false;
  document.addEventListener("keydown", function (event) {
    if (event.target.matches && event.target.matches("select[data-autosubmit]")) {
      keyed = true;
    }
  }, true);
  document.addEventListener("pointerdown", function () {
    keyed = false;
  }, true);
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]") && !keyed) {
      event.target.form.submit();
    }
  });

  // A trailer the browser cannot play: hide the dead player, show the notice with the download.
  function playerFailed(video) {
    video.hidden = true;
    var notice = video.parentElement.querySelector(".player-error");
    if (notice) {
      notice.hidden = false;
    }
  }
  document.addEventListener("error", function (event) {  // media errors do not bubble: caught on the way down
    if (event.target.matches && event.target.matches("video[data-player]")) {
      playerFailed(event.target);
    }
  }, true);
  document.addEventListener("DOMContentLoaded", function () {  // one that failed before this script ran
    document.querySelectorAll("video[data-player]").forEach(function (video) {
      if (video.error) {
        playerFailed(video);
      }
    });
  });

  // Content htmx swapped in that asks to be seen (a rating saved from further down the page).
  document.addEventListener("htmx:load", function (event) {
    var element = event.detail.elt;
    if (element && element.matches && element.matches("[data-scroll-into-view]")) {
      element.scrollIntoView({block: "nearest"});
    }
  });
})();
