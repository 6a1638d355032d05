// Rate next at the speed of a keyboard: 1–9 rate, 0 rates 10, S skips, U takes back the last rating.
// Each key presses the page's own button (htmx then swaps the next trailer in); a key pressed while an
// answer is on its way waits for it, so that "7" then "u" typed quickly undo the 7, not the one before.
// The keys can be turned off (#rate-keys-on, remembered in this browser): a stray key or speech input would
// otherwise rate. After each answer the focus goes to the new trailer's first score, not back to the page's top.
(function () {
  "use strict";

  var STORE = "reelscore.rateKeys";
  function keysOn() {
    var toggle = document.getElementById("rate-keys-on");
    return !toggle || toggle.checked;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("rate-keys-on");
    if (!toggle) {
      return;
    }
    try {
      toggle.checked = window.localStorage.getItem(STORE) !== "off";
    } catch (e) { /* storage refused: the keys stay on */ }
    toggle.addEventListener("change", function () {
      try {
        window.localStorage.setItem(STORE, toggle.checked ? "on" : "off");
      } catch (e) { /* not remembered, still applied */ }
    });
  });

  var pending = [];
  var busy = false;
  var settled = null;  // the answer whose swap last released the queue

  function box() {
    return document.querySelector("[data-rate-keys]");
  }

  function buttonFor(key) {
    var root = box();
    if (!root) {
      return null;
    }
    if (/^[0-9]$/.test(key)) {
      return root.querySelector('button[name="score"][value="' + (key === "0" ? "10" : key) + '"]');
    }
    if (key === "s" || key === "S") {
      return root.querySelector("[data-skip]");
    }
    if (key === "u" || key === "U") {
      return root.querySelector("[data-undo]");
    }
    return null;
  }

  function press(key) {
    var button = buttonFor(key);
    if (button) {
      busy = true;
      button.click();
    }
    return Boolean(button);
  }

  document.addEventListener("keydown", function (event) {
    if (!box() || !keysOn() || event.ctrlKey || event.metaKey || event.altKey || event.repeat) {
      return;
    }
    if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) {
      return;  // typing in a field is not rating
    }
    if (!/^[0-9sSuU]$/.test(event.key)) {
      return;
    }
    event.preventDefault();
    if (busy) {
      pending.push(event.key);
    } else {
      press(event.key);
    }
  });

  // The answer is in: the next trailer is on the page; press the next waiting key on it. htmx fires
  // afterSettle once per swapped element (the card and the out-of-band messages), so only the first
  // one of an answer releases the queue: a second one would press the next key before its answer.
  document.addEventListener("htmx:afterSettle", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (xhr && xhr === settled) {
      return;
    }
    settled = xhr;
    busy = false;
    while (pending.length && !busy) {
      press(pending.shift());
    }
    var root = box();
    if (!busy && root && (!document.activeElement || document.activeElement === document.body)) {
      // The card the focus was in was swapped out: on to the new trailer's first score (or what it says).
      var next = root.querySelector('button[name="score"]') || root.querySelector("h2 a, .notice");
      if (next) {
        if (!next.matches("a, button")) {
          next.setAttribute("tabindex", "-1");
        }
        next.focus({preventScroll: true});
      }
    }
  });
  document.addEventListener("htmx:responseError", function () {
    busy = false;
    pending = [];
  });
  document.addEventListener("htmx:sendError", function () {
    busy = false;
    pending = [];
  });
})();
