// Tollgate usage console: reads the sidecar's JSON APIs and draws them.
// Plain script, no build step; uPlot is loaded before it.
(function () {
  "use strict";

  var TOKEN_KEY = "tollgate.console.token";
  var TZ_KEY = "tollgate.console.tz";
  var STATS_EVERY_MS = 5000;
  var TOP_LIMIT = 10;

  // What the page drew, for tests and for the curious: lastSeries is the
  // usage chart's queries and lines (quantities is null for windows not
  // started yet), lastTop the top tenants list, lastQuota the quotas,
  // lastStats the live metrics.
  var pub = window.tollgateConsole = { lastSeries: null, lastTop: null, lastQuota: null, lastStats: null };

  var $ = function (id) { return document.getElementById(id); };
  var catalog = { meters: [], tenants: [] };
  var chart = null;
  var prevStats = null;
  // Each view draws only the answer to its latest request.
  var seq = { usage: 0, top: 0, quota: 0 };

  // ---- API -----------------------------------------------------------

  function ApiError(status, code, message) {
    this.status = status; this.code = code; this.message = message;
  }

  // api fetches path with params, sending the bearer token when one is set,
  // and resolves to the decoded JSON or rejects with an ApiError.
  function api(path, params) {
    var qs = new URLSearchParams(params || {}).toString();
    var headers = { Accept: "application/json" };
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(path + (qs ? "?" + qs : ""), { headers: headers, cache: "no-store" }).then(function (resp) {
      return resp.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (resp.ok) return body;
        var err = body && body.error ? body.error : { code: "http_" + resp.status, message: text.trim() || resp.statusText };
        throw new ApiError(resp.status, err.code, err.message);
      });
    }, function (e) {
      throw new ApiError(0, "unreachable", "cannot reach the sidecar (" + e.message + "): is it running?");
    });
  }

  // describe turns an error into the sentence the page shows.
  function describe(err, what) {
    if (!(err instanceof ApiError)) return "Cannot show " + what + ": " + err;
    if (err.status === 401) {
      return "Not authorized (401) to read " + what + ": enter a valid token in the Token field above (it is kept in this tab only).";
    }
    if (err.status === 403) {
      return "Forbidden (403): the token may not read " + what + "; ask for a token with that scope.";
    }
    if (err.status === 404) {
      return "The sidecar has no API for " + what + " (404): is this a Tollgate sidecar with the console?";
    }
    return "Cannot show " + what + ": " + err.message + (err.status ? " (" + err.status + " " + err.code + ")" : "");
  }

  // Auth failures also light the banner under the header.
  function authBanner(err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      show($("auth"), describe(err, "this data"), true);
    }
  }

  function show(el, text, isError) {
    el.textContent = text;
    el.classList.toggle("error", !!isError);
    el.hidden = false;
  }
  function hide(el) { el.hidden = true; }

  // ---- Time zones ----------------------------------------------------

  var partsCache = {};
  function formatter(tz) {
    if (!partsCache[tz]) {
      partsCache[tz] = new Intl.DateTimeFormat("en-US", {
        timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit"
      });
    }
    return partsCache[tz];
  }

  // wall returns the calendar fields of instant d in tz.
  function wall(d, tz) {
    var out = {};
    formatter(tz).formatToParts(d).forEach(function (p) { if (p.type !== "literal") out[p.type] = +p.value; });
    return { y: out.year, mo: out.month - 1, d: out.day, h: out.hour, mi: out.minute, s: out.second };
  }

  // offsetMs is tz's offset from UTC at instant ms.
  function offsetMs(ms, tz) {
    var w = wall(new Date(ms), tz);
    return Date.UTC(w.y, w.mo, w.d, w.h, w.mi, w.s) - Math.floor(ms / 1000) * 1000;
  }

  // zoned returns the instant of a wall-clock time in tz (fields may
  // overflow, as with Date.UTC).
  function zoned(y, mo, d, h, tz) {
    var guess = Date.UTC(y, mo, d, h);
    var off = offsetMs(guess, tz);
    var t = guess - off;
    var off2 = offsetMs(t, tz);
    if (off2 !== off) t = guess - off2;
    return new Date(t);
  }

  function rfc3339(d) { return d.toISOString().replace(/\.\d{3}Z$/, "Z"); }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // fmt shows an instant in tz as 2024-05-01 13:00.
  function fmt(d, tz, withTime) {
    var w = wall(d, tz);
    var s = w.y + "-" + pad(w.mo + 1) + "-" + pad(w.d);
    return withTime ? s + " " + pad(w.h) + ":" + pad(w.mi) : s;
  }

  function currentTZ() { return $("tz").value || "UTC"; }

  function fillZones() {
    var zones = ["UTC"];
    if (Intl.supportedValuesOf) zones = zones.concat(Intl.supportedValuesOf("timeZone").filter(function (z) { return z !== "UTC"; }));
    var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (mine && zones.indexOf(mine) < 0) zones.push(mine);
    var sel = $("tz");
    zones.forEach(function (z) {
      var o = document.createElement("option");
      o.value = o.textContent = z;
      sel.appendChild(o);
    });
    var saved = sessionStorage.getItem(TZ_KEY);
    sel.value = saved && zones.indexOf(saved) >= 0 ? saved : "UTC";
  }

  // ---- Periods ------------------------------------------------------

  // period returns the range the chart shows for the window, containing the
  // anchor date (YYYY-MM-DD, a calendar day in tz), and the one before it.
  function period(win, anchor, tz) {
    var a = anchor.split("-").map(Number);
    var y = a[0], mo = a[1] - 1, d = a[2];
    var cur, prev, label;
    if (win === "hour") {
      cur = [zoned(y, mo, d, 0, tz), zoned(y, mo, d + 1, 0, tz)];
      prev = [zoned(y, mo, d - 1, 0, tz), cur[0]];
      label = "hours of " + anchor + ", against the day before";
    } else if (win === "day") {
      cur = [zoned(y, mo, 1, 0, tz), zoned(y, mo + 1, 1, 0, tz)];
      prev = [zoned(y, mo - 1, 1, 0, tz), cur[0]];
      label = "days of " + anchor.slice(0, 7) + ", against the month before";
    } else {
      cur = [zoned(y, 0, 1, 0, tz), zoned(y + 1, 0, 1, 0, tz)];
      prev = [zoned(y - 1, 0, 1, 0, tz), cur[0]];
      label = "months of " + y + ", against the year before";
    }
    return { cur: cur, prev: prev, label: label };
  }

  function today(tz) {
    var w = wall(new Date(), tz);
    return w.y + "-" + pad(w.mo + 1) + "-" + pad(w.d);
  }

  // ---- Query state --------------------------------------------------

  function query() {
    return {
      meter: $("meter").value, tenant: $("tenant").value.trim(), window: $("window").value,
      anchor: $("anchor").value || today(currentTZ()), tz: currentTZ()
    };
  }

  function meterUnit(name) {
    for (var i = 0; i < catalog.meters.length; i++) if (catalog.meters[i].name === name) return catalog.meters[i].unit;
    return "";
  }

  function knownTenant(id) {
    for (var i = 0; i < catalog.tenants.length; i++) if (catalog.tenants[i].id === id) return true;
    return false;
  }

  function num(n) { return Number(n).toLocaleString("en-US"); }

  // amount shows a quantity with its unit, plural unless it is one.
  function amount(n, unit) { return num(n) + " " + unit + (n === 1 ? "" : "s"); }

  // ---- Usage chart ---------------------------------------------------

  function drawUsage(q) {
    var msg = $("usage-msg");
    hide(msg);
    $("usage-totals").textContent = "";
    seq.usage++;
    if (!q.meter) {
      clearChart();
      show(msg, "No meters configured: nothing to chart yet.");
      return;
    }
    if (!knownTenant(q.tenant)) {
      clearChart();
      show(msg, q.tenant ? "Unknown tenant \"" + q.tenant + "\": pick one from the list (tenants come from the metering section)." :
        "Pick a tenant to see its usage.");
      return;
    }
    var p = period(q.window, q.anchor, q.tz);
    $("usage-title").textContent = "— " + q.tenant + ", " + q.meter + ": " + p.label + " (" + q.tz + ")";
    var base = { meter: q.meter, tenant: q.tenant, window: q.window, tz: q.tz };
    var cur = Object.assign({ from: rfc3339(p.cur[0]), to: rfc3339(p.cur[1]) }, base);
    var prev = Object.assign({ from: rfc3339(p.prev[0]), to: rfc3339(p.prev[1]) }, base);
    var my = seq.usage;
    Promise.all([api("/v1/usage", cur), api("/v1/usage", prev)]).then(function (res) {
      if (my !== seq.usage) return;
      var rows = res[0].rows, prevRows = res[1].rows;
      var xs = rows.map(function (r) { return Date.parse(r.window_start) / 1000; });
      var ys = rows.map(function (r) { return r.quantity; });
      // Windows that have not started yet are left out of the line.
      var now = Date.now() / 1000;
      var drawn = rows.map(function (r, i) { return xs[i] > now ? null : r.quantity; });
      var ps = rows.map(function (_, i) { return i < prevRows.length ? prevRows[i].quantity : null; });
      pub.lastSeries = {
        query: cur, previousQuery: prev,
        windowStarts: rows.map(function (r) { return r.window_start; }),
        quantities: drawn, previousQuantities: prevRows.map(function (r) { return r.quantity; })
      };
      var prevQty = prevRows.map(function (r) { return r.quantity; });
      var total = sum(ys), prevTotal = sum(prevQty);
      // The previous period up to the same point, for a fair comparison
      // while this period is still running.
      var started = drawn.filter(function (v) { return v !== null; }).length;
      renderTotals(total, sum(prevQty.slice(0, started)), prevTotal, started < drawn.length, meterUnit(q.meter));
      if (total === 0 && prevTotal === 0) {
        clearChart();
        show(msg, "No usage yet in this range: pick another period, tenant or meter. Usage appears once " +
          q.tenant + "'s requests are metered.");
        return;
      }
      plot(xs, drawn, ps, q);
    }, function (err) {
      if (my !== seq.usage) return;
      clearChart();
      pub.lastSeries = null;
      authBanner(err);
      show(msg, describe(err, "usage"), true);
    });
  }

  function sum(a) { return a.reduce(function (s, v) { return s + v; }, 0); }

  // renderTotals compares this period with the previous one up to the
  // same point (running: this period has windows still to come).
  function renderTotals(total, prevSame, prevTotal, running, unit) {
    var el = $("usage-totals");
    el.textContent = "";
    var b = document.createElement("b");
    b.textContent = amount(total, unit);
    el.appendChild(document.createTextNode(running ? "This period so far: " : "This period: "));
    el.appendChild(b);
    el.appendChild(document.createTextNode(" · previous period" + (running ? " to the same point: " : ": ") + num(prevSame) + " "));
    if (prevSame > 0) {
      var change = (total - prevSame) / prevSame * 100;
      var s = document.createElement("span");
      s.className = change > 0 ? "up" : change < 0 ? "down" : "";
      s.textContent = (change > 0 ? "+" : "") + change.toFixed(1) + "%";
      el.appendChild(s);
    }
    if (running) el.appendChild(document.createTextNode(" · whole previous period: " + num(prevTotal)));
  }

  function clearChart() {
    if (chart) { chart.destroy(); chart = null; }
  }

  function chartWidth() { return Math.max(260, $("chart").clientWidth || 600); }

  function plot(xs, ys, ps, q) {
    clearChart();
    var tz = q.tz;
    var opts = {
      width: chartWidth(), height: 280,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), tz); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } } },
      series: [
        { label: q.window === "hour" ? "Hour" : q.window === "day" ? "Day" : "Month" },
        { label: "This period", stroke: "#2563eb", width: 2, fill: "rgba(37,99,235,0.08)", points: { show: true } },
        { label: "Previous period", stroke: "#9ca3af", width: 2, dash: [6, 4], points: { show: false } }
      ],
      axes: [{}, { size: 70, values: function (u, vals) { return vals.map(num); } }]
    };
    chart = new uPlot(opts, [xs, ys, ps], $("chart"));
  }

  window.addEventListener("resize", function () {
    if (chart) chart.setSize({ width: chartWidth(), height: 280 });
  });

  // ---- Top tenants ---------------------------------------------------

  function drawTop(q) {
    var msg = $("top-msg"), table = $("top-table");
    hide(msg);
    table.hidden = true;
    if (!q.meter) {
      show(msg, "No meters configured: nothing to rank yet.");
      return;
    }
    var p = period(q.window, q.anchor, q.tz);
    $("top-title").textContent = "— " + q.meter + ", " + fmt(p.cur[0], q.tz) + " to " + fmt(new Date(p.cur[1] - 1), q.tz) + " (" + q.tz + ")";
    var params = { meter: q.meter, window: q.window, from: rfc3339(p.cur[0]), to: rfc3339(p.cur[1]), tz: q.tz, limit: TOP_LIMIT };
    var my = ++seq.top;
    api("/v1/usage/top", params).then(function (res) {
      if (my !== seq.top) return;
      pub.lastTop = { query: params, tenants: res.tenants };
      var body = table.tBodies[0];
      body.textContent = "";
      if (res.tenants.length === 0) {
        show(msg, "No usage yet in this range: no tenant used " + q.meter + " in this period.");
        return;
      }
      var most = Math.max(1, res.tenants[0].quantity);
      var unit = meterUnit(q.meter);
      res.tenants.forEach(function (t, i) {
        var tr = body.insertRow();
        tr.insertCell().textContent = i + 1;
        var btn = document.createElement("button");
        btn.type = "button";
        btn.className = "link";
        btn.textContent = t.tenant;
        btn.title = "Show " + t.tenant + "'s usage and quotas";
        btn.addEventListener("click", function () { $("tenant").value = t.tenant; refreshTenant(); });
        tr.insertCell().appendChild(btn);
        var qty = tr.insertCell();
        qty.className = "num";
        qty.textContent = amount(t.quantity, unit);
        var share = tr.insertCell();
        share.className = "share";
        share.appendChild(bar(t.quantity / most, false));
      });
      table.hidden = false;
    }, function (err) {
      if (my !== seq.top) return;
      pub.lastTop = null;
      authBanner(err);
      show(msg, describe(err, "the top tenants"), true);
    });
  }

  function bar(frac, full) {
    var m = document.createElement("div");
    m.className = "meter" + (full ? " full" : "");
    var s = document.createElement("span");
    s.style.width = Math.max(0, Math.min(1, frac)) * 100 + "%";
    m.appendChild(s);
    return m;
  }

  // ---- Quotas ---------------------------------------------------------

  function drawQuota(q) {
    var msg = $("quota-msg"), table = $("quota-table");
    hide(msg);
    table.hidden = true;
    $("quota-title").textContent = "";
    if (!knownTenant(q.tenant)) {
      if (catalog.tenants.length) show(msg, "Pick a tenant to see its quotas.");
      return;
    }
    var my = ++seq.quota;
    api("/v1/quota", { tenant: q.tenant }).then(function (res) {
      if (my !== seq.quota) return;
      pub.lastQuota = res;
      $("quota-title").textContent = "— " + res.tenant + ", plan " + res.plan;
      var body = table.tBodies[0];
      body.textContent = "";
      if (res.quotas.length === 0) {
        show(msg, "Plan " + res.plan + " has no monthly quotas: add quotas to the plan in the metering section to limit it.");
        return;
      }
      res.quotas.forEach(function (s) {
        var tr = body.insertRow();
        tr.insertCell().textContent = s.name;
        var used = tr.insertCell();
        used.className = "num";
        used.textContent = num(s.used);
        var lim = tr.insertCell();
        lim.className = "num";
        lim.textContent = num(s.limit);
        var share = tr.insertCell();
        share.className = "share";
        share.appendChild(bar(s.limit > 0 ? s.used / s.limit : 1, s.exhausted));
        tr.insertCell().textContent = fmt(new Date(s.month_end), q.tz, true);
        var out = tr.insertCell();
        if (s.exhausted) {
          out.textContent = "used up";
          out.className = "bad";
        } else if (s.projected_exhaustion) {
          out.textContent = fmt(new Date(s.projected_exhaustion), q.tz, true);
          out.className = "bad";
        } else {
          out.textContent = s.used > 0 ? "lasts the month at this rate" : "not used this month";
        }
      });
      table.hidden = false;
    }, function (err) {
      if (my !== seq.quota) return;
      pub.lastQuota = null;
      authBanner(err);
      show(msg, describe(err, "the quotas"), true);
    });
  }

  // ---- Live stats ------------------------------------------------------

  function drawStats() {
    api("/v1/stats").then(function (s) {
      pub.lastStats = s;
      var at = new Date(s.at);
      $("live-title").textContent = "— as of " + fmt(at, currentTZ(), true) + ":" + pad(wall(at, currentTZ()).s) + ", every " + STATS_EVERY_MS / 1000 + " s";
      var before = {};
      var secs = prevStats ? (at - new Date(prevStats.at)) / 1000 : 0;
      if (prevStats) prevStats.ratelimit_decisions.forEach(function (d) { before[d.domain + "\u0000" + d.code] = d.count; });
      var table = $("decisions-table"), body = table.tBodies[0], msg = $("decisions-msg");
      body.textContent = "";
      if (s.ratelimit_decisions.length === 0) {
        table.hidden = true;
        show(msg, "No rate-limit decisions yet: they appear once Envoy calls the rate-limit service.");
      } else {
        hide(msg);
        s.ratelimit_decisions.forEach(function (d) {
          var tr = body.insertRow();
          tr.insertCell().textContent = d.domain;
          var code = tr.insertCell();
          code.textContent = d.code;
          if (d.code !== "ok") code.className = "bad";
          var c = tr.insertCell();
          c.className = "num";
          c.textContent = num(d.count);
          var r = tr.insertCell();
          r.className = "num";
          var old = before[d.domain + "\u0000" + d.code];
          r.textContent = secs > 0 ? ((d.count - (old || 0)) / secs).toFixed(1) : "…";
        });
        table.hidden = false;
      }
      var pm = $("pipeline-msg");
      if (!s.metering) {
        $("pipeline").hidden = true;
        show(pm, "Metering is off: add a metering section to the sidecar config to meter usage.");
      } else {
        hide(pm);
        $("spool-events").textContent = num(s.metering.spool_events) + " events";
        var lag = $("ship-lag");
        lag.textContent = s.metering.ship_lag_seconds.toFixed(1) + " s";
        lag.className = s.metering.ship_lag_seconds > 60 ? "bad" : "";
        var errs = $("ship-errors");
        errs.textContent = num(s.metering.ship_errors_total);
        errs.className = prevStats && prevStats.metering && s.metering.ship_errors_total > prevStats.metering.ship_errors_total ? "bad" : "";
        $("pipeline").hidden = false;
      }
      prevStats = s;
    }, function (err) {
      authBanner(err);
      $("decisions-table").hidden = true;
      $("pipeline").hidden = true;
      show($("decisions-msg"), describe(err, "the live metrics"), true);
      hide($("pipeline-msg"));
    });
  }

  // ---- Wiring ------------------------------------------------------------

  function refreshTenant() {
    var q = query();
    drawUsage(q);
    drawQuota(q);
  }

  function refreshAll() {
    var q = query();
    drawUsage(q);
    drawTop(q);
    drawQuota(q);
  }

  function loadCatalog() {
    var msg = $("query-msg");
    return api("/v1/catalog").then(function (c) {
      catalog = c;
      hide($("auth"));
      var sel = $("meter");
      sel.textContent = "";
      c.meters.forEach(function (m) {
        var o = document.createElement("option");
        o.value = m.name;
        o.textContent = m.name + " (" + m.unit + ")";
        sel.appendChild(o);
      });
      var dl = $("tenants");
      dl.textContent = "";
      c.tenants.forEach(function (t) {
        var o = document.createElement("option");
        o.value = t.id;
        o.label = "plan " + t.plan;
        dl.appendChild(o);
      });
      if (!knownTenant($("tenant").value) && c.tenants.length) $("tenant").value = c.tenants[0].id;
      if (c.meters.length === 0) {
        show(msg, "No meters configured: add a metering section with meters to the sidecar config, then restart it.");
      } else if (c.tenants.length === 0) {
        show(msg, "No tenants configured: add tenants to the metering section of the sidecar config.");
      } else {
        hide(msg);
      }
      refreshAll();
    }, function (err) {
      authBanner(err);
      show(msg, describe(err, "the meters and tenants"), true);
    });
  }

  function init() {
    fillZones();
    $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
    $("anchor").value = today(currentTZ());
    $("settings").addEventListener("submit", function (e) {
      e.preventDefault();
      var t = $("token").value.trim();
      if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
      hide($("auth"));
      loadCatalog();
      drawStats();
    });
    $("tz").addEventListener("change", function () {
      sessionStorage.setItem(TZ_KEY, currentTZ());
      refreshAll();
    });
    ["meter", "window", "anchor"].forEach(function (id) { $(id).addEventListener("change", refreshAll); });
    $("tenant").addEventListener("change", refreshTenant);
    loadCatalog();
    drawStats();
    setInterval(function () { if (!document.hidden) drawStats(); }, STATS_EVERY_MS);
  }

  init();
})();
