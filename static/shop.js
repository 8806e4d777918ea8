/* SMS for sats: small progressive enhancements. Everything works without this file, only less smoothly.
   No inline scripts anywhere (CSP): behaviour is attached here by data attributes, through event
   delegation so that it also works for the parts htmx swaps in. */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  /* --- Words in the page's language: the body's data-shop-strings, JSON (shop/js_strings.py) ---
     t("key", {name: value}) fills its %(name)s; a message with a number has one text per CLDR plural
     category, chosen by the browser for the page's language (<html lang>). */
  var strings = {};
  try { strings = JSON.parse(document.body.getAttribute("data-shop-strings") || "{}"); } catch (e) { strings = {}; }
  var pluralRules = window.Intl && Intl.PluralRules ? new Intl.PluralRules(document.documentElement.lang || "en") : null;

  function fill(text, values) {
    return String(text || "").replace(/%\((\w+)\)s/g, function (all, name) {
      return values && values[name] !== undefined ? values[name] : all;
    });
  }
  function t(key, values) { return fill(strings[key], values); }
  function tPlural(forms, count, values) {
    forms = forms || {};
    var category = pluralRules ? pluralRules.select(count) : (count === 1 ? "one" : "other");
    var text = forms[category] !== undefined ? forms[category] : forms.other;
    return fill(text, Object.assign({ count: count }, values));
  }

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
      button.textContent = t("copied");
      button.classList.add("copied");
    }, function () {
      button.textContent = t("copyByHand");
    });
    setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 2000);
  });

  /* --- Print buttons: <button data-print hidden> ------------------------------------------- */
  function showPrint(root) {
    $all("[data-print]", root).forEach(function (button) { button.hidden = false; });
  }

  // Copy buttons are rendered hidden (without this file they would do nothing) and shown here.
  function showCopy(root) {
    $all("button[data-copy][hidden]", root).forEach(function (button) { button.hidden = false; });
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) window.print();
  });

  /* --- Announcements: one polite live region per page, for the moments that matter ----------- */
  function announce(text) {
    var box = document.getElementById("announcer");
    if (!box || !text) return;
    box.textContent = "";
    setTimeout(function () { box.textContent = text; }, 50);  // a changed text is read, even when equal
  }

  /* --- Countdowns: <span data-countdown="seconds left"> ---------------------------------------
     They tick outside any live region (a screen reader would read every second); one sentence is
     announced when data-announce-at seconds are left, and the status is polled at zero. */
  var deadlines = new WeakMap();

  function formatSeconds(total) {
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  /* --- Time left: <span data-until="ISO timestamp">, e.g. a rental's. Written as "13 days, 4 hours, 5 minutes"
     in the page's language (Intl, no catalog), so it moves every minute, and every second in the last day.
     Like the countdowns, it is in no live region. */
  var lang = document.documentElement.lang || "en";
  var UNITS = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  function formatLeft(total) {
    var parts = [];
    UNITS.forEach(function (unit) {
      var n = Math.floor(total / unit[1]);
      total -= n * unit[1];
      if ((n || parts.length) && parts.length < 3) {
        parts.push(new Intl.NumberFormat(lang, { style: "unit", unit: unit[0], unitDisplay: "long" }).format(n));
      }
    });
    if (!parts.length) parts.push(new Intl.NumberFormat(lang, { style: "unit", unit: "second", unitDisplay: "long" }).format(0));
    return Intl.ListFormat ? new Intl.ListFormat(lang, { style: "narrow", type: "unit" }).format(parts) : parts.join(" ");
  }

  function tickLeft(now) {
    var reachedZero = false;
    $all("[data-until]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("data-until"));
      if (isNaN(end)) return;
      var left = Math.max(0, Math.floor((end - now) / 1000));
      var text = formatLeft(left);
      if (el.textContent !== text) el.textContent = text;
      if (left === 0 && !el.hasAttribute("data-done")) { el.setAttribute("data-done", ""); reachedZero = true; }
    });
    return reachedZero;
  }

  function tick() {
    var now = Date.now(), reachedZero = tickLeft(now);
    $all("[data-countdown]").forEach(function (el) {
      if (!deadlines.has(el)) deadlines.set(el, now + 1000 * parseInt(el.getAttribute("data-countdown"), 10));
      var left = Math.max(0, Math.round((deadlines.get(el) - now) / 1000));
      var text = formatSeconds(left);
      if (el.textContent !== text) el.textContent = text;
      var at = parseInt(el.getAttribute("data-announce-at"), 10);
      if (left > 0 && left <= at && !el.hasAttribute("data-announced")) {
        el.setAttribute("data-announced", "");
        announce(el.getAttribute("data-announce"));
      }
      if (left === 0 && !el.hasAttribute("data-done")) { el.setAttribute("data-done", ""); reachedZero = true; }
    });
    if (reachedZero) setTimeout(pollNow, 1000);
  }
  setInterval(tick, 1000);

  /* --- Filter boxes for long selects: <input data-filter-for="select id"> ------------------
     Options carry their names (data-names, "|"-separated; the label first) and short forms matched only
     exactly (data-codes: UK, US, DE...). Ranked: an exact name or code, a name starting with the text, a
     word starting with it, the text anywhere. An option is selected on its own only when it alone is the
     best match; otherwise the current one stays if it matches, else the list asks to choose. When nothing
     matches, nothing changes. */
  var filterTimers = new WeakMap();

  // Case and accents do not count, in any script ("España" = "espana", "Россия" = "россия", "Großbritannien"
  // = "grossbritannien"); anything but letters and digits separates words.
  function fold(text) {
    return (text || "").normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase().replace(/ß/g, "ss")
      .replace(/[^\p{L}\p{N}]+/gu, " ").trim();
  }

  function termsOf(option) {
    if (!option._terms) {
      var names = (option.getAttribute("data-names") || "").split("|").filter(Boolean);
      var folded = [];
      names.forEach(function (name, i) {
        folded.push({ text: fold(name), shown: name, alias: i > 0 });
        name.split(/[,/+]/).forEach(function (part) {  // "Google,youtube,Gmail": each part is a name too
          if (part.trim() && part !== name) folded.push({ text: fold(part), shown: part.trim(), alias: false });
        });
      });
      option._terms = {
        names: folded.filter(function (n) { return n.text; }),
        codes: (option.getAttribute("data-codes") || "").split("|").map(fold).filter(Boolean)
      };
    }
    return option._terms;
  }

  function rank(option, query) {
    var terms = termsOf(option), compactQuery = query.replace(/ /g, ""), best = null;
    if (terms.codes.indexOf(query) !== -1) best = { tier: 0, name: null };
    terms.names.forEach(function (name) {
      var compact = name.text.replace(/ /g, ""), tier = null;
      if (name.text === query || compact === compactQuery) tier = 0;
      else if (name.text.indexOf(query) === 0 || compact.indexOf(compactQuery) === 0) tier = 1;
      else if ((" " + name.text).indexOf(" " + query) !== -1) tier = 2;
      else if (compact.indexOf(compactQuery) !== -1) tier = 3;
      if (tier !== null && (!best || tier < best.tier)) best = { tier: tier, name: name };
    });
    return best;
  }

  function usable(option) { return option.value !== "" && !option.disabled; }

  function promptOption(select) {
    if (!select._prompt) {
      select._prompt = document.createElement("option");
      select._prompt.value = "";
      select._prompt.disabled = true;
    }
    return select._prompt;
  }

  // The status box is a live region that stays in the page once shown (empty when there is nothing to say):
  // a region that appears together with its text is not reliably read out.
  function setStatus(input, text) {
    var box = document.getElementById(input.getAttribute("aria-describedby"));
    if (!box) return;
    if (box.textContent !== text) box.textContent = text;
  }

  function applyFilter(input) {
    var select = document.getElementById(input.getAttribute("data-filter-for"));
    if (!select) return;
    if (!select._allOptions) {
      select._allOptions = Array.prototype.slice.call(select.options);
      select._allOptions.forEach(function (o) { o.setAttribute("data-label", o.textContent); });
    }
    select._allOptions.forEach(function (o) { o.textContent = o.getAttribute("data-label"); });
    var noun = input.getAttribute("data-filter-noun");  // "country" or "service": which words to use
    var raw = input.value.trim(), query = fold(raw), before = select.value, status = "";
    var ranked = [];
    if (query) {
      select._allOptions.forEach(function (option, index) {
        var match = usable(option) || option.disabled ? rank(option, query) : null;
        if (match) ranked.push({ option: option, tier: match.tier, name: match.name, index: index });
      });
      ranked.sort(function (a, b) { return a.tier - b.tier || a.index - b.index; });
    }
    var keepPrompt = before === "" && select._allOptions.every(function (o) { return o.value !== ""; });
    if (!query || !ranked.length) {
      // Nothing typed, or nothing matches: every option, and the selection as it was.
      select.replaceChildren.apply(select, (keepPrompt ? [promptOption(select)] : []).concat(select._allOptions));
      select.value = before;
      if (raw) status = fill((strings.noMatch || {})[noun], { query: raw });  // even "?" or "-": never silence
    } else {
      ranked.forEach(function (r) {  // found by another name: say which ("England (United Kingdom)")
        if (r.name && r.name.alias && r.tier < 3) r.option.textContent = r.option.getAttribute("data-label") + " (" + r.name.shown + ")";
      });
      var best = ranked.filter(function (r) { return r.tier === ranked[0].tier && usable(r.option); });
      var shown = ranked.map(function (r) { return r.option; });
      var count = tPlural((strings.matches || {})[noun], ranked.length, { query: raw });
      var chosen;
      if (best.length === 1) {
        chosen = best[0].option.value;
        status = t("matchSelected", { matches: count, name: best[0].option.getAttribute("data-label").split(" \u00b7 ")[0] });
      } else if (before && shown.some(function (o) { return o.value === before; })) {
        chosen = before;
        status = t("matchKept", { matches: count });
      } else {
        chosen = "";
        promptOption(select).textContent = tPlural(strings.chooseOneOf, ranked.length);
        shown.unshift(promptOption(select));
        status = t("matchChoose", { matches: count });
      }
      select.replaceChildren.apply(select, shown);
      select.value = chosen;
    }
    setStatus(input, status);
    if (select.value !== before) {
      clearTimeout(filterTimers.get(select));
      filterTimers.set(select, setTimeout(function () {
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }, 350));
    }
  }

  function showFilters(root) {
    $all("input[data-filter-for]", root).forEach(function (input) {
      input.hidden = false;
      var box = document.getElementById(input.getAttribute("aria-describedby"));
      if (box) box.hidden = false;
    });
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("input[data-filter-for]")) applyFilter(event.target);
    if (event.target.matches("textarea[data-counter]")) updateCounter(event.target);
  });
  document.addEventListener("keydown", function (event) {
    // Enter in a filter box goes to its list instead of submitting the order form.
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
    counter.textContent = left >= 0 ? t("counter", { used: used, limit: limit }) : t("tooLong", { over: -left, used: used, limit: limit });
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
    hint(button, t("weblnConfirm"));
    Promise.resolve(window.webln.enable()).then(function () {
      return window.webln.sendPayment(button.getAttribute("data-webln"));
    }).then(function () {
      hint(button, t("weblnSent"));
      pollNow();
    }, function () {
      button.disabled = false;
      hint(button, t("weblnFailed"));
      pollNow();
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("[data-sandbox-pay]") || !window.fetch) return;
    event.preventDefault();
    var button = $("button", form);
    button.disabled = true;
    hint(form, t("sandboxPaying"));
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return { ok: response.ok }; });
    }).then(function (answer) {
      if (answer.ok) {
        hint(form, t("sandboxPaid"));
      } else {
        button.disabled = false;
        hint(form, t("sandboxFailed", { reason: answer.reason || t("unknownReason") }));
      }
      pollNow();
    }, function () {
      button.disabled = false;
      hint(form, t("sandboxUnreachable"));
    });
  });

  /* --- Times in the buyer's zone: every <time datetime> is rendered in UTC, named ("… UTC"); here it is
     rewritten in the browser's time zone, named too ("GMT+9", "CET"), in the page's language. data-local:
     "short" (no year) or "seconds". The UTC text stays as the tooltip. */
  function localTimes(root) {
    if (!window.Intl || !Intl.DateTimeFormat) return;
    $all("time[datetime]", root).forEach(function (el) {
      if (el.hasAttribute("data-utc")) return;
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      var style = el.getAttribute("data-local");
      var options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
      if (style !== "short") options.year = "numeric";
      if (style === "seconds") options.second = "2-digit";
      el.setAttribute("data-utc", el.textContent.trim());
      el.title = el.textContent.trim();
      el.textContent = new Intl.DateTimeFormat(lang, options).format(when);
    });
  }

  /* --- "Tell me when the code arrives": <button data-notify hidden>, opt-in, asked on the click only.
     Nothing leaves the shop: the page itself sees the code in its status part and shows a browser
     notification (the Notification API, no push service). When the tab is hidden, its title and icon
     change too, until the buyer looks at it again. */
  var notifyKey = "notify:" + location.pathname;
  function notifyArmed() {
    try { return window.Notification && Notification.permission === "granted" && sessionStorage.getItem(notifyKey) === "1"; }
    catch (e) { return false; }
  }
  function setArmed(on) {
    try { if (on) sessionStorage.setItem(notifyKey, "1"); else sessionStorage.removeItem(notifyKey); } catch (e) { /* private mode */ }
    $all("[data-notify]").forEach(function (button) { button.setAttribute("aria-pressed", on ? "true" : "false"); });
  }
  function showNotify() {
    if (!("Notification" in window)) return;
    $all("[data-notify]").forEach(function (button) { button.hidden = false; });
    setArmed(notifyArmed());
  }
  function notifyHint(text) {
    var box = $("[data-notify-hint]");
    if (box) box.textContent = text;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-notify]");
    if (!button || !window.Notification) return;
    if (button.getAttribute("aria-pressed") === "true") { setArmed(false); notifyHint(""); return; }
    Promise.resolve(Notification.requestPermission()).then(function (permission) {
      setArmed(permission === "granted");
      var text = permission === "granted" ? t("notifyOn") : t("notifyBlocked");
      notifyHint(text);
      announce(text);
    });
  });

  var ALERT_ICON = "data:image/svg+xml," + encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#3b4bd8"/>' +
    '<path d="M18 4 8 18h7l-2 10 11-15h-7z" fill="#f7931a"/><circle cx="24" cy="8" r="7" fill="#e02424" stroke="#fff" stroke-width="2"/></svg>');
  var alerting = null;  // {title, icon} to restore, while the tab shows that a code arrived unseen
  function setIcon(href) {
    var link = $("link[rel~=icon]");
    if (link) link.setAttribute("href", href);
  }
  function alertTab(text) {
    if (!document.hidden) return;
    if (!alerting) {
      var link = $("link[rel~=icon]");
      alerting = { icon: link ? link.getAttribute("href") : "" };
      setIcon(ALERT_ICON);
    }
    alerting.text = text;
    document.title = "\ud83d\udd14 " + text + " \u00b7 " + document.title.replace(/^\ud83d\udd14 [^\u00b7]* \u00b7 /, "");
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !alerting) return;
    setIcon(alerting.icon);
    document.title = document.title.replace(/^\ud83d\udd14 [^\u00b7]* \u00b7 /, "");
    alerting = null;
  });

  function codeArrived(code, rental) {
    var text = t(rental ? "newSms" : "notifyCode", { code: code });
    if (notifyArmed()) {
      try {
        var notice = new Notification(text, { tag: notifyKey, lang: lang });
        notice.onclick = function () { window.focus(); notice.close(); };
      } catch (e) { /* e.g. Android Chrome allows only service-worker notifications: the tab still shows it */ }
    }
    return text;
  }

  /* --- Live status (htmx polls it: hx-trigger, hx-headers, 286 and HX-Reswap from the server) ---
     Here only what htmx cannot do: say when the connection is lost, and after a new state is swapped in,
     move focus to its heading when focus was inside the old one (else the next Tab starts over from the
     top), or announce the heading when the buyer is elsewhere on the page. */
  function setOffline(on) {
    var region = $(".status-region");
    if (!region || region.classList.contains("offline") === on) return;
    region.classList.toggle("offline", on);
    announce(on ? t("offline") : t("online"));
  }
  /* When the status part asks again: each live answer says in how many milliseconds (X-Poll-In), which is
     just after the shop's next look at sms4sats for this order, so that a code shows a moment after the shop
     learns it rather than up to a poll period later. htmx's own "every" starts it (and polls a page without
     this file); once this keeps the time, its ticks are held back (they carry no triggering event; poll-now
     and visibilitychange do), unless this poll is long overdue: a request that never ended. */
  var pollTimer = null;
  var nextPollAt = 0;
  function pollIn(ms) {
    clearTimeout(pollTimer);
    nextPollAt = Date.now() + ms;
    pollTimer = setTimeout(pollNow, ms);
  }
  function plainPeriod() {
    var status = document.getElementById("order-status");
    return (status && parseInt(status.getAttribute("data-poll-ms"), 10)) || 2000;
  }
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    if (!elt || elt.id !== "order-status" || event.detail.triggeringEvent) return;
    if (Date.now() < nextPollAt + 2 * plainPeriod()) event.preventDefault();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.elt || event.detail.elt.id !== "order-status") return;
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 286) { clearTimeout(pollTimer); nextPollAt = 0; return; }
    var hint = xhr ? parseInt(xhr.getResponseHeader("X-Poll-In"), 10) : NaN;
    pollIn(hint > 0 ? hint : plainPeriod());
  });

  document.addEventListener("htmx:sendError", function () { setOffline(true); });
  document.addEventListener("htmx:responseError", function () { setOffline(true); });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) setOffline(false);
  });
  var before = null;  // what the status part showed before a swap: its heading, codes, focused control
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "order-status") { before = null; return; }
    var active = document.activeElement;
    before = {
      focusWasIn: target.contains(active),
      copy: active && active.getAttribute ? active.getAttribute("data-copy") : null,
      title: ($(".status-title", target) || {}).textContent,
      codes: $all("[data-code]", target).length
    };
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    showFilters(document);
    showWebln(document);
    showCopy(document);
    localTimes(document);
    tick();
    var status = document.getElementById("order-status");
    if (!status || !event.detail.target || event.detail.target.id !== "order-status" || !before) return;
    var title = $(".status-title", status);
    var codes = $all("[data-code]", status);
    var arrived = codes.length > before.codes ? codeArrived(codes[0].textContent.trim(), !!$(".inbox", status)) : null;
    if (title && before.title === title.textContent) {
      // The same state with news (a rental's new SMS): focus stays where it was, the news is read politely.
      var same = before.copy !== null && $all("[data-copy]", status).filter(function (b) { return b.getAttribute("data-copy") === before.copy; })[0];
      if (before.focusWasIn && same) same.focus({ preventScroll: true });
      else if (before.focusWasIn) title.focus({ preventScroll: true });
      if (arrived) announce(t("newSms", { code: codes[0].nextElementSibling ? codes[0].nextElementSibling.textContent : codes[0].textContent }));
    } else {
      var active = document.activeElement;
      if (title && (before.focusWasIn || !active || active === document.body)) title.focus({ preventScroll: true });
      else if (title) announce(status.getAttribute("data-announce") || title.textContent.trim());
    }
    before.arrived = arrived;
  });
  document.addEventListener("htmx:afterSettle", function (event) {  // after htmx has put the new <title>
    if (event.detail.target && event.detail.target.id === "order-status" && before && before.arrived) alertTab(before.arrived);
  });

  /* --- The chosen country and service stay in the page's address, so that changing the currency or the
     language (both come back to this address, their `next`) keeps them. --- */
  function here() { return location.pathname + location.search; }
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!field.form || !field.form.classList.contains("order-form") || !window.URLSearchParams) return;
    if (field.name !== "country" && field.name !== "service") return;
    var query = new URLSearchParams(location.search);
    query.delete("again");
    if (field.name === "country") query.delete("service");  /* another country's list */
    if (field.value) query.set(field.name, field.value); else query.delete(field.name);
    var search = query.toString();
    history.replaceState(history.state, "", location.pathname + (search ? "?" + search : ""));
  });
  document.addEventListener("submit", function (event) {
    var next = event.target.matches(".language-form") && $("input[name=next]", event.target);
    if (next) next.value = here();
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.fiat-currency");
    if (!link || !window.URL) return;
    var url = new URL(link.href);
    url.searchParams.set("next", here());
    link.href = url.toString();
  });

  /* --- Focus rings for keyboard users only: headings get focus from script after a live update, which
     Chromium may ring even for a mouse user (shop.css rings them only under html[data-keyboard]). */
  document.addEventListener("keydown", function (event) {
    if (!event.ctrlKey && !event.metaKey) document.documentElement.setAttribute("data-keyboard", "");
  }, true);
  document.addEventListener("pointerdown", function () { document.documentElement.removeAttribute("data-keyboard"); }, true);

  /* --- Forms returned with errors: the first error gets focus (autofocus on fields; here the notes) --- */
  function focusFormError() {
    if ($("[autofocus]")) return;
    var note = $(".order-form .notice-error");
    if (note) { note.setAttribute("tabindex", "-1"); note.focus(); }
  }

  function init() {
    focusFormError();
    showPrint(document);
    showCopy(document);
    showNotify();
    localTimes(document);
    showFilters(document);
    showWebln(document);
    $all("textarea[data-counter]").forEach(updateCounter);
    tick();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
