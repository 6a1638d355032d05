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
  // version picker, rate next's order). A choice stepped through with the arrow keys is not submitted (each step
  // would load a page, or swap in another trailer): the form's own button submits it.
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
      event.target.form.requestSubmit();  // a submit event: htmx answers it where the form is htmx's
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

  // A part of the page that polls (a run's progress, the runs list, a trailer's processing) is swapped whole every
  // second or two: what someone was doing in it stays as it was. The focused element (by its id, or its place
  // among the links and buttons) gets the focus back, and a section opened (<details>) stays open.
  var kept = null;
  function controls(root) {
    return Array.prototype.slice.call(root.querySelectorAll("a[href], button, input, select, textarea, summary"));
  }
  // A poll that brought what is there already is not swapped in: a screen reader keeps its place. (The CSRF token
  // in its forms is masked afresh each time: it is left out of the comparison.)
  var shown = {};
  function sameness(html) {
    return html.replace(/name="csrfmiddlewaretoken" value="[^"]*"/g, "");
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.matches("[hx-trigger^='every']")) {
      kept = null;
      return;
    }
    var now = sameness(event.detail.serverResponse || "");
    if (target.id && shown[target.id] === now) {
      event.detail.shouldSwap = false;
      return;
    }
    shown[target.id] = now;
    var active = document.activeElement;
    var inside = active && target.contains(active) && active !== target;
    kept = {
      id: target.id,
      focusId: inside ? active.id : "",
      focusIndex: inside ? controls(target).indexOf(active) : -1,
      open: Array.prototype.map.call(target.querySelectorAll("details[open]"), function (d) {
        return Array.prototype.indexOf.call(target.querySelectorAll("details"), d);
      })
    };
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!kept) {
      return;
    }
    var root = document.getElementById(kept.id);
    var was = kept;
    kept = null;
    if (!root) {
      return;
    }
    var all = root.querySelectorAll("details");
    was.open.forEach(function (i) {
      if (all[i]) {
        all[i].open = true;
      }
    });
    var back = (was.focusId && document.getElementById(was.focusId)) ||
      (was.focusIndex >= 0 ? controls(root)[was.focusIndex] : null);
    if (back && document.activeElement !== back) {
      back.focus({preventScroll: true});
    }
  });

  // Content htmx swapped in that asks to be seen (a rating saved from further down the page).
  document.addEventListener("htmx:load", function (event) {
    var element = event.detail.elt;
    if (element && element.matches && element.matches("[data-scroll-into-view]")) {
      element.scrollIntoView({block: "nearest"});
    }
  });

  // A status that changes in a part of the page that follows the work (a trailer's processing, a run) is said in
  // the page's announcer, once: the part itself is swapped whole, and a live region swapped in is often not read.
  // Each part is known by its id and what it names (a trailer's id: two trailers may share a title); a part that
  // goes away and comes back is said again. The words land a moment after the swap's own notice (the messages),
  // which a screen reader then reads first, and the region is emptied first, so that the same words are said again.
  var announced = {};
  function announce(first) {
    var region = document.getElementById("announcer");
    var seen = {};
    document.querySelectorAll("[data-announce][id]").forEach(function (node) {
      var words = node.getAttribute("data-announce");
      var key = words + "\u0000" + (node.getAttribute("data-trailer") || "");
      seen[node.id] = true;
      if (!first && announced[node.id] !== key && region) {
        region.textContent = "";
        setTimeout(function () { region.textContent = words; }, 400);
      }
      announced[node.id] = key;
    });
    Object.keys(announced).forEach(function (id) {
      if (!seen[id]) {
        delete announced[id];
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { announce(true); });
  document.addEventListener("htmx:afterSettle", function () { announce(false); });
})();
