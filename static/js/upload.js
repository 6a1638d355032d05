// The upload page: each chosen or dropped file goes up to the API (POST /api/trailers/) in its own request,
// with its own progress bar, and its row then links to the new trailer or says why the file was refused.
// (htmx, loaded on every page, sends a form's files in one request: one bar for all, so not here.)
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var input = document.getElementById("id_files");
  var zone = document.getElementById("dropzone");
  var list = document.getElementById("uploads");
  var endpoint = form.dataset.endpoint;  // the API's trailers: uploads go there, and each trailer is followed there
  var trailerPage = form.dataset.trailerPage;  // a trailer's page, with 0 for its id
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  document.body.classList.add("js");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function humanSize(n) {
    var units = ["bytes", "KB", "MB", "GB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + " bytes" : n.toFixed(1) + " " + units[i];
  }

  function row(file, before) {
    var item = el("li", "upload card");
    item.dataset.name = file.name;
    var head = el("div", "upload-head");
    head.appendChild(el("span", "upload-name", file.name));
    head.appendChild(el("span", "muted", humanSize(file.size)));
    item.appendChild(head);
    var bar = el("progress", "upload-progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", "Upload progress of " + file.name);
    item.appendChild(bar);
    var result = el("p", "upload-result muted", "Waiting…");
    item.appendChild(result);
    list.insertBefore(item, before);  // a batch on top of the ones before, in the order chosen
    return { item: item, bar: bar, result: result };
  }

  function done(ui, ok, node) {
    ui.item.classList.add(ok ? "upload-ok" : "upload-refused");
    ui.bar.hidden = !ok;  // a full bar beside a refusal read as a file that went in
    ui.result.className = "upload-result notice " + (ok ? "notice-success" : "notice-error");
    ui.result.textContent = "";
    ui.result.appendChild(node);
  }

  function refused(ui, reason) {
    done(ui, false, document.createTextNode("Refused: " + reason));
  }

  // Files still on their way: leaving or reloading the page would drop them, so the browser asks first.
  var sending = 0;
  window.addEventListener("beforeunload", function (event) {
    if (sending > 0) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  function send(file, before) {
    var ui = row(file, before);
    if (maxBytes && file.size > maxBytes) {
      // Known too large before sending: say so without uploading a byte.
      refused(ui, "The file is too large: " + humanSize(file.size) + ", and the limit is " + form.dataset.maxSize + ".");
      return;
    }
    var data = new FormData();
    data.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", endpoint);
    xhr.setRequestHeader("X-CSRFToken", token);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        ui.bar.value = Math.round(event.loaded / event.total * 100);
        // The list is a live region: its words change at each quarter only, or a screen reader read out every
        // percent (85 times for one file) and the result came late. The bar itself moves all the way.
        var said = "Uploading… " + Math.floor(ui.bar.value / 25) * 25 + "%";
        if (ui.result.textContent !== said) {
          ui.result.textContent = said;
        }
      }
    });
    xhr.upload.addEventListener("load", function () {
      ui.bar.value = 100;
      ui.result.textContent = "Checking the file…";
    });
    xhr.addEventListener("load", function () {
      // The API's answers: the new trailer (201), or the one error shape, {"detail", "code"}.
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 201 && body) {
        var frag = document.createDocumentFragment();
        frag.appendChild(document.createTextNode("Uploaded: "));
        var link = el("a", "trailer-link", body.title);
        link.href = body.page_url;
        frag.appendChild(link);
        var state = el("span", "upload-status", " — queued for processing.");
        frag.appendChild(state);
        done(ui, true, frag);
        follow(endpoint + body.id + "/", state, ui);
      } else if (xhr.status === 401 || xhr.status === 403) {
        refused(ui, "You are logged out (or the page is too old): reload the page and log in again.");
      } else if (body && body.detail) {
        if (body.duplicate_of) {
          var dup = document.createDocumentFragment();
          dup.appendChild(document.createTextNode("Refused: " + body.detail + " "));
          var existing = el("a", "trailer-link", "Open it");
          existing.href = trailerPage.replace("/0/", "/" + body.duplicate_of + "/");
          dup.appendChild(existing);
          done(ui, false, dup);
        } else {
          refused(ui, body.detail);
        }
      } else {
        refused(ui, "The server answered " + xhr.status + " " + xhr.statusText + ".");
      }
    });
    xhr.addEventListener("error", function () { refused(ui, "The connection failed before the upload finished."); });
    xhr.addEventListener("abort", function () { refused(ui, "The upload was cancelled."); });
    xhr.addEventListener("loadend", function () { sending -= 1; });
    sending += 1;
    xhr.send(data);
  }

  // After the upload, the row follows the trailer's processing until it is ready or has failed.
  var STATUS_WORDS = { queued: " — queued for processing.", processing: " — being processed…" };
  function follow(url, state, ui) {
    if (!url || !window.fetch) { return; }
    var tries = 0;
    function poll() {
      tries += 1;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (trailer) {
          if (!trailer) { return; }
          ui.item.dataset.status = trailer.status;
          if (trailer.status === "ready") {
            var count = (trailer.subclips || []).length;
            state.textContent = " — ready: " + count + " subclip" + (count === 1 ? "" : "s") + ".";
          } else if (trailer.status === "failed") {
            ui.result.className = "upload-result notice notice-error";
            state.textContent = " — processing failed: " + trailer.error;
          } else {
            state.textContent = STATUS_WORDS[trailer.status] || "";
            if (tries < 600) { setTimeout(poll, 2000); }
          }
        })
        .catch(function () { if (tries < 600) { setTimeout(poll, 5000); } });
    }
    setTimeout(poll, 1000);
  }

  function sendAll(files) {
    var before = list.firstChild;
    for (var i = 0; i < files.length; i++) { send(files[i], before); }
  }

  input.addEventListener("change", function () {
    sendAll(input.files);
    input.value = "";
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    sendAll(input.files);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
    });
  });
  zone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files) { sendAll(event.dataTransfer.files); }
  });
  // The zone is a keyboard stop: Enter or Space opens the file picker, as a click anywhere in it does.
  zone.tabIndex = 0;
  zone.addEventListener("keydown", function (event) {
    if (event.target !== zone) { return; }
    if (event.key === "Enter" || event.key === " " || event.key === "Spacebar") {
      event.preventDefault();
      input.click();
    }
  });
  zone.addEventListener("click", function (event) {
    if (event.target === input || (event.target.closest && event.target.closest("label, a, button"))) { return; }
    input.click();
  });
})();
