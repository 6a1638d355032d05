// Rate next at the speed of a keyboard: 1–9 rate, 0 rates 10, S skips, U takes back the last rating.
// Each key presses the page's own button (htmx then swaps the next trailer in); a key pressed while an
// answer is on its way waits for it, so that "7" then "u" typed quickly undo the 7, not the one before.
(function () {
  "use strict";

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
    if (!box() || event.ctrlKey || event.metaKey || event.altKey || event.repeat) {
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
