// Alerts, incidents and ATT&CK pages: bulk selection, status and triage changes through the JSON API.
(function () {
  "use strict";

  // The page's stylesheet (the layout links app.css only).
  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = "/static/triage.css";
  document.head.appendChild(css);

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

  // postJSON sends body to url and resolves with the decoded answer, or rejects with the server's error text.
  function postJSON(url, body) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    var token = csrfToken();
    if (token) {
      headers["X-CSRF-Token"] = token;
    }
    return fetch(url, { method: "POST", headers: headers, body: JSON.stringify(body), credentials: "same-origin" })
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (!resp.ok) {
            throw new Error(data.error || ("request failed: HTTP " + resp.status));
          }
          return data;
        });
      });
  }

  function say(el, text, isError) {
    if (!el) {
      return;
    }
    el.textContent = text;
    el.className = isError ? "msg err" : "msg ok";
    el.setAttribute("data-state", isError ? "error" : "done");
  }

  // Bulk selection: #select-all, .row-select and a #bulk-close button whose data-* name the request.
  function initBulk() {
    var button = document.getElementById("bulk-close");
    if (!button) {
      return;
    }
    var all = document.getElementById("select-all");
    var msg = document.getElementById("bulk-status");
    var boxes = function () { return Array.prototype.slice.call(document.querySelectorAll(".row-select")); };
    var selected = function () { return boxes().filter(function (b) { return b.checked; }).map(function (b) { return b.value; }); };
    var refresh = function () {
      var n = selected().length;
      button.disabled = n === 0;
      button.textContent = n ? "Close selected (" + n + ")" : "Close selected";
    };
    boxes().forEach(function (b) { b.addEventListener("change", refresh); });
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        refresh();
      });
    }
    button.addEventListener("click", function () {
      var ids = selected();
      if (!ids.length) {
        return;
      }
      var body = { ids: ids };
      if (button.dataset.bulkStatus) {
        body.status = button.dataset.bulkStatus;
      }
      if (button.dataset.bulkState) {
        body.state = button.dataset.bulkState;
        var cls = document.querySelector(button.dataset.bulkClassification || "#none");
        if (cls && cls.value) {
          body.classification = cls.value;
        }
      }
      button.disabled = true;
      postJSON(button.dataset.bulkUrl, body).then(function (data) {
        say(msg, "Closed " + data.changed + " of " + ids.length + ".", false);
        window.location.reload();
      }, function (err) {
        say(msg, err.message, true);
        refresh();
      });
    });
    refresh();
  }

  // formBody collects a form's named fields; empty values are left out (the API leaves those fields as they are).
  function formBody(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.value !== "") {
        body[el.name] = el.value;
      }
    });
    return body;
  }

  // Forms with data-api post their fields as JSON and reload the page when the change is stored.
  function initApiForms() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-api]"), function (form) {
      var msg = form.querySelector("[role=status]");
      var submit = function (body) {
        if (body.state && body.state !== "closed") {
          delete body.classification;
        }
        postJSON(form.dataset.api, body).then(function () {
          say(msg, "Saved.", false);
          window.location.reload();
        }, function (err) { say(msg, err.message, true); });
      };
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        submit(formBody(form));
      });
      Array.prototype.forEach.call(form.querySelectorAll("[data-set-status]"), function (b) {
        b.addEventListener("click", function () { submit({ status: b.dataset.setStatus }); });
      });
      Array.prototype.forEach.call(form.querySelectorAll("[data-owner]"), function (b) {
        b.addEventListener("click", function () { submit({ owner: b.dataset.owner }); });
      });
    });
  }

  // The ATT&CK page scrolls the technique it was opened for into view.
  function initFocus() {
    var cell = document.querySelector(".tcell.focus");
    if (cell) {
      cell.scrollIntoView({ block: "center", inline: "center" });
    }
  }

  function init() {
    initBulk();
    initApiForms();
    initFocus();
    // Marks the page interactive (browser tests wait for it before clicking).
    document.body.setAttribute("data-triage", "ready");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
