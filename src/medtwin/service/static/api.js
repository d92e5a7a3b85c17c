// medtwin dashboard: the token, authenticated JSON calls and formatting (no dependencies).
"use strict";
(function () {
  const KEY = "medtwin.token";
  const MT = (window.MT = window.MT || {});

  MT.token = () => sessionStorage.getItem(KEY);
  MT.setToken = (t) => sessionStorage.setItem(KEY, t);
  MT.logout = () => {
    sessionStorage.removeItem(KEY);
    location.assign("/ui/login");
  };
  MT.toLogin = () => {
    const next = encodeURIComponent(location.pathname + location.search);
    location.assign(`/ui/login?next=${next}`);
  };

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }
  MT.ApiError = ApiError;

  // fetch JSON with the bearer token; OperationOutcome errors become ApiError(message)
  MT.api = async function (url, { method = "GET", body, token } = {}) {
    const headers = { Authorization: `Bearer ${token || MT.token() || ""}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit",
    });
    let doc = null;
    try { doc = await r.json(); } catch (e) { doc = null; }
    if (!r.ok) {
      const issue = doc && doc.issue && doc.issue[0];
      const msg = (issue && (issue.diagnostics || (issue.details && issue.details.text)))
        || `HTTP ${r.status}`;
      if (r.status === 401 && !token) MT.toLogin();
      throw new ApiError(r.status, msg);
    }
    return doc;
  };

  // pages other than login need a token; show who is logged in
  MT.start = async function () {
    if (!MT.token()) { MT.toLogin(); return null; }
    const out = document.getElementById("logout");
    out.hidden = false;
    out.addEventListener("click", MT.logout);
    const me = await MT.api("/ui/api/me");
    document.getElementById("whoami").textContent = `${me.name} (${me.role})`;
    return me;
  };

  MT.pollMs = function () {
    const asked = Number(new URLSearchParams(location.search).get("poll"));
    const base = Number(document.body.dataset.pollMs) || 5000;
    return asked >= 250 ? asked : base;
  };

  MT.marks = {};  // ms since navigation start at which each part was drawn
  MT.ready = function (what) {  // progress marks for tests and the load benchmark
    if (!(what in MT.marks)) MT.marks[what] = performance.now();
    const have = new Set((document.body.dataset.ready || "").split(" ").filter(Boolean));
    have.add(what);
    document.body.dataset.ready = [...have].sort().join(" ");
  };

  // Times arrive as UTC ISO strings and are shown in the browser's time zone, named.
  const pad = (n) => String(n).padStart(2, "0");
  MT.hhmm = (ms) => { const d = new Date(ms); return `${pad(d.getHours())}:${pad(d.getMinutes())}`; };
  MT.dayTime = (ms) => {
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${MT.hhmm(ms)}`;
  };
  MT.zoneId = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  // the zone's short name at a time ("UTC", "EST", "GMT+1": daylight saving aware)
  MT.zone = (ms) => {
    const parts = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(new Date(ms === undefined ? Date.now() : ms));
    const name = parts.find((x) => x.type === "timeZoneName");
    return name ? name.value : "UTC";
  };
  MT.offsetMs = (ms) => -new Date(ms).getTimezoneOffset() * 60000;  // local - UTC
  MT.at = (ms) => `${MT.hhmm(ms)} ${MT.zone(ms)}`;
  // name the zone wherever the page says which zone its times are in
  document.addEventListener("DOMContentLoaded", () => {
    const id = MT.zoneId(), short = MT.zone();
    for (const e of document.querySelectorAll(".tz")) e.textContent = short;
    for (const e of document.querySelectorAll(".tz-long")) e.textContent = id === short || /^(Etc\/)?UTC$/.test(id) ? short : `${short} (${id})`;
  });
  MT.num = (v, digits = 3) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(digits - 1);
    return Number(v.toPrecision(digits)).toString();
  };
  MT.pct = (v) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : `${Math.round(100 * v)} %`);

  // <el>text</el> built safely (never innerHTML with data)
  MT.el = function (tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  };
})();
