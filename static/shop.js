/* SMS for sats: small progressive enhancements. Everything works without this file, only less smoothly.
   No inline scripts anywhere (CSP): behaviour is attached here by data attributes, through event
   delegation so that it also works for the parts htmx swaps in. */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function pollNow() {
    var status = document.getElementById("order-status");
    if (status && window.htmx && status.hasAttribute("hx-get")) window.htmx.trigger(status, "poll-now");
  }

  /* --- Copy buttons: <button data-copy="text"> ---------------------------------------------- */
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    copy(button.getAttribute("data-copy")).then(function () {
      button.textContent = "Copied ✓";
      button.classList.add("copied");
    }, function () {
      button.textContent = "Select and copy it by hand";
    });
    setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 2000);
  });

  /* --- Countdowns: <span data-countdown="seconds left"> --------------------------------------- */
  var deadlines = new WeakMap();

  function formatSeconds(total) {
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function tick() {
    var now = Date.now(), reachedZero = false;
    $all("[data-countdown]").forEach(function (el) {
      if (!deadlines.has(el)) deadlines.set(el, now + 1000 * parseInt(el.getAttribute("data-countdown"), 10));
      var left = Math.max(0, Math.round((deadlines.get(el) - now) / 1000));
      var text = formatSeconds(left);
      if (el.textContent !== text) el.textContent = text;
      if (left === 0 && !el.hasAttribute("data-done")) { el.setAttribute("data-done", ""); reachedZero = true; }
    });
    if (reachedZero) setTimeout(pollNow, 1000);
  }
  setInterval(tick, 1000);

  /* --- Filter boxes for long selects: <input data-filter-for="select id"> ------------------ */
  var filterTimers = new WeakMap();

  function applyFilter(input) {
    var select = document.getElementById(input.getAttribute("data-filter-for"));
    if (!select) return;
    if (!select._allOptions) select._allOptions = Array.prototype.slice.call(select.options);
    var query = input.value.trim().toLocaleLowerCase();
    var before = select.value;
    var matches = select._allOptions.filter(function (option) {
      return !query || (option.value !== "" && option.textContent.toLocaleLowerCase().indexOf(query) !== -1);
    });
    select.replaceChildren.apply(select, matches.length ? matches : select._allOptions);
    var firstUsable = matches.filter(function (o) { return !o.disabled && o.value !== ""; })[0];
    if (query && firstUsable && !matches.some(function (o) { return o.value === before; })) select.value = firstUsable.value;
    if (select.value !== before) {
      clearTimeout(filterTimers.get(select));
      filterTimers.set(select, setTimeout(function () {
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }, 350));
    }
    input.setAttribute("aria-label", input.getAttribute("placeholder") + " (" + matches.length + " shown)");
  }

  function showFilters(root) {
    $all("input[data-filter-for]", root).forEach(function (input) { input.hidden = false; });
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("input[data-filter-for]")) applyFilter(event.target);
    if (event.target.matches("textarea[data-counter]")) updateCounter(event.target);
  });
  document.addEventListener("keydown", function (event) {
    // Enter in a filter box picks the first match instead of submitting the order form.
    if (event.key === "Enter" && event.target.matches("input[data-filter-for]")) {
      event.preventDefault();
      var select = document.getElementById(event.target.getAttribute("data-filter-for"));
      if (select) select.focus();
    }
  });

  /* --- Message counter: <textarea data-counter="id" data-limit="140"> ------------------------- */
  function updateCounter(area) {
    var counter = document.getElementById(area.getAttribute("data-counter"));
    if (!counter) return;
    var limit = parseInt(area.getAttribute("data-limit"), 10);
    var used = Array.from(area.value.trim()).length;
    var left = limit - used;
    counter.textContent = left >= 0 ? used + " / " + limit + " characters" : "Too long by " + (-left) + " (" + used + " / " + limit + ")";
    counter.classList.toggle("over", left < 0);
    counter.setAttribute("aria-live", left <= 10 ? "polite" : "off");
  }

  /* --- Paying: WebLN and the sandbox wallet (both only hints; the status is the truth) ------- */
  function hint(from, text) {
    var box = $("[data-pay-hint]", from.closest("#order-status") || document);
    if (box) box.textContent = text;
  }

  function showWebln(root) {
    if (!window.webln) return;
    $all("[data-webln]", root).forEach(function (button) { button.hidden = false; });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-webln]");
    if (!button || !window.webln) return;
    button.disabled = true;
    hint(button, "Confirm the payment in your browser wallet…");
    Promise.resolve(window.webln.enable()).then(function () {
      return window.webln.sendPayment(button.getAttribute("data-webln"));
    }).then(function () {
      hint(button, "Your wallet sent the payment. The status updates as soon as it arrives.");
      pollNow();
    }, function () {
      button.disabled = false;
      hint(button, "Your wallet did not confirm. If you did pay, the status below updates by itself.");
      pollNow();
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("[data-sandbox-pay]") || !window.fetch) return;
    event.preventDefault();
    var button = $("button", form);
    button.disabled = true;
    hint(form, "Paying with the sandbox wallet…");
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return { ok: response.ok }; });
    }).then(function (answer) {
      if (answer.ok) {
        hint(form, "Paid with the sandbox wallet. Waiting for sms4sats to see it…");
      } else {
        button.disabled = false;
        hint(form, "The sandbox wallet could not pay: " + (answer.reason || "unknown reason") + ".");
      }
      pollNow();
    }, function () {
      button.disabled = false;
      hint(form, "Could not reach the sandbox wallet. Try again.");
    });
  });

  /* --- Live status (htmx polling): only send what changed; catch up when the tab comes back --- */
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "order-status" && elt.getAttribute("data-version")) {
      event.detail.headers["X-Order-Version"] = elt.getAttribute("data-version");
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    // An empty 286 says "final, and nothing changed since your version". htmx stops polling only when it
    // swaps, so swap in the part as it is, without its polling attributes.
    var xhr = event.detail.xhr;
    if (xhr.status !== 286 || xhr.responseText || !event.detail.target) return;
    var kept = event.detail.target.cloneNode(true);
    kept.removeAttribute("hx-get");
    kept.removeAttribute("hx-trigger");
    event.detail.serverResponse = kept.outerHTML;
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") pollNow();
  });
  function setOffline(on) {
    var region = $(".status-region");
    if (region) region.classList.toggle("offline", on);
  }
  document.addEventListener("htmx:sendError", function () { setOffline(true); });
  document.addEventListener("htmx:responseError", function () { setOffline(true); });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) setOffline(false);
  });
  document.addEventListener("htmx:afterSwap", function () {
    showFilters(document);
    showWebln(document);
    tick();
  });

  function init() {
    showFilters(document);
    showWebln(document);
    $all("textarea[data-counter]").forEach(updateCounter);
    tick();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
