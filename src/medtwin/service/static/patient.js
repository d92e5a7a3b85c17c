// The patient page: cone + alert (live), events, posterior, skill ledger and what-if.
"use strict";
document.addEventListener("DOMContentLoaded", async () => {
  const pid = document.body.dataset.pid;
  const base = `/ui/api/patients/${encodeURIComponent(pid)}`;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const state = {
    cone: null, events: [], version: null, sideAt: 0, sideBusy: false, sideVersion: null,
    hours: Number(params.get("window")) || null, allLeads: false, lastWhatIf: null,
  };
  const ms = (iso) => Date.parse(iso);

  function fail(e) {
    const a = $("alert");
    a.className = "alert error";
    a.textContent = e.message;
  }
  if (!MT.token()) { MT.toLogin(); return; }
  const started = MT.start().catch(fail);  // who am I: in parallel with the data

  const labels = () => state.cone.unit_labels || {};  // UCUM code -> as people write it
  const kindUnit = () => Object.fromEntries((state.cone.event_kinds || []).map((k) => [k.kind, labels()[k.unit] || k.unit]));
  const tunit = () => state.cone.time_unit || "min";  // the model's: min, h or d
  // a window of past data (hours) as people say it: 12 h, 7 d, 10 y
  const windowLabel = (h) => (h < 48 ? `${MT.num(h)} h` : h < 8766 ? `${MT.num(h / 24)} d` : `${MT.num(h / 8766)} y`);
  const unitOf = (c) => c.unit_label || c.unit;
  // an alert sentence with its time in local time (the server's text names UTC)
  const alertText = (a) => (a.template && a.at ? a.template.replace("{at}", MT.at(ms(a.at))) : a.text);

  // the patient's name, for a user the API shows it to (a granted clinician, an admin)
  async function loadName() {
    try {
      const p = await MT.api(`/patients/${encodeURIComponent(pid)}`);
      if (p.name) {
        $("patient-name").textContent = p.name;
        document.title = `${p.name} · medtwin`;
      }
    } catch (e) { /* no access: the cone says so */ }
    MT.ready("name");
  }

  function coneData(c, extra = {}) {
    const units = kindUnit();
    const now = ms(c.now);
    return {
      now, unit: unitOf(c), thresholds: c.thresholds, target: c.target, version: c.version,
      xmin: now - 3600000 * c.hours,
      obs: { t: c.observations.times.map(ms), v: c.observations.values, c: c.observations.censored },
      fc: { t: c.forecast.times.map(ms), median: c.forecast.median, bands: c.forecast.bands },
      events: state.events.map((e) => ({ t: ms(e.time), kind: e.kind, amount: e.amount, unit: units[e.kind] })),
      ...extra,
    };
  }

  function drawCone() {
    const c = state.cone;
    MT.drawCone($("cone"), coneData(c));
    const a = $("alert");
    a.className = `alert sev-${c.alert.severity}`;
    a.dataset.version = String(c.alert.version);
    a.replaceChildren(MT.el("strong", { text: `Forecast v${c.alert.version}: ` }), alertText(c.alert));
    // the applicability flag of the forecast's version: outside the model's validated domain
    const badge = $("domain-badge"), outside = Boolean(c.applicability && c.applicability.outside);
    badge.hidden = !outside;
    badge.replaceChildren(...(outside ? [MT.el("strong", { text: "Outside validated domain" }),
      ` ${c.applicability.text}`] : []));
    const n = c.observations.values.length, u = unitOf(c);
    const lastT = n ? ms(c.observations.times[n - 1]) : 0;
    const lastAt = c.hours > 48 ? MT.dayTime(lastT).slice(0, 10) : MT.hhmm(lastT);
    const last = n ? `last ${MT.num(c.observations.values[n - 1], 4)} ${u} at ${lastAt}` : "no readings yet";
    // the unit as people write it; its UCUM code (10*3/uL) only on hover, for modellers
    const unit = MT.el("span", { class: "meta-unit", text: u, title: `UCUM code: ${c.unit}`, "data-ucum": c.unit });
    $("meta").replaceChildren(`Model ${c.model} · ${c.observable} (`, unit,
      `) · twin version ${c.version} · ${n} readings in the last ${windowLabel(c.hours)}, ${last}`);
    const issued = c.hours > 48 ? MT.dayTime(ms(c.now)).slice(0, 10) : MT.at(ms(c.now));  // a date over days
    $("cone-caption").textContent = `${c.observable}, forecast v${c.version} issued ${issued}, ${MT.num(c.horizon)} ${tunit()} ahead`;
    const offered = (c.windows || []).map(String);
    if (offered.join() !== Array.from($("window").options, (o) => o.value).join()) {
      $("window").replaceChildren(...offered.map((h) => MT.el("option", { value: h, text: windowLabel(Number(h)) })));
    }
    $("window").value = String(c.hours);
    const lt = $("legend-target");
    lt.hidden = !c.target;
    if (c.target) lt.lastChild.textContent = `target ${MT.num(c.target[0])}–${MT.num(c.target[1])} ${u}`;
    MT.ready("cone");
  }

  function drawEvents() {
    const units = kindUnit();
    const rows = state.events.slice(-50).reverse().map((e) => MT.el("tr", {},
      MT.el("td", { text: MT.dayTime(ms(e.time)) }), MT.el("td", { text: e.kind }),
      MT.el("td", { class: "num", text: `${MT.num(e.amount)} ${units[e.kind] || ""}` }),
      MT.el("td", { text: e.status })));
    if (!rows.length) rows.push(MT.el("tr", {}, MT.el("td", { colspan: "4", class: "muted", text: "No regimen events." })));
    $("events").tBodies[0].replaceChildren(...rows);
    MT.ready("events");
  }

  async function loadEvents() {
    const doc = await MT.api(`/patients/${encodeURIComponent(pid)}/regimen`);
    state.events = doc.events;
  }

  async function loadPosterior() {
    const p = await MT.api(`${base}/posterior`);
    const t = p.times.map(ms);
    const cards = p.parameters.map((q) => {
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 300 110");
      svg.setAttribute("class", "chart small");
      MT.drawSeries(svg, { t, lo: q.q05, mid: q.median, hi: q.q95, unit: "" });
      const k = q.median.length - 1;
      const narrowed = q.narrowed === null ? "" : ` · interval ${MT.pct(q.narrowed)} of the prior's`;
      return MT.el("figure", { class: "param", "data-name": q.name },
        MT.el("figcaption", {}, MT.el("b", { text: q.name }), ` (${q.unit_label || q.unit}) `,
          MT.el("span", { class: "muted", text: q.description })),
        svg,
        MT.el("p", { class: "qs", text: `${MT.num(q.median[k])} [${MT.num(q.q05[k])}, ${MT.num(q.q95[k])}]${narrowed}` }));
    });
    $("posterior").replaceChildren(...cards);
    $("posterior").dataset.versions = p.versions.join(",");
    MT.ready("posterior");
  }

  async function loadSkill() {
    const s = await MT.api(`${base}/skill`);
    state.skill = s;
    drawSkill();
    MT.ready("skill");
    // the latest version's ledger is being scored on the server: ask again shortly
    if (s.stale) setTimeout(() => loadSkill().catch(fail), 1000);
  }

  // The ledger's rows by lead time: 8 spread over the horizon, or all of them; what is left out
  // or not scored is said, with the reason.
  function drawSkill() {
    const s = state.skill, name = state.cone.observable;
    const row = s.by_observable[name], cal = (s.calibration || {})[name];
    const body = $("skill").tBodies[0], sum = $("skill-summary"), notes = [];
    $("skill").dataset.version = String(s.version);
    if (s.unavailable) notes.push(`Not scored: ${s.unavailable}.`);
    if (!row || !row.scored) {
      sum.className = "muted";
      sum.textContent = "No forecast has been scored yet (targets are scored as data arrive).";
      body.replaceChildren();
    } else {
      const rc = row.recent_coverage, status = cal ? cal.status : (row.drifting ? "drifting" : "calibrated");
      sum.className = status === "calibrated" ? "ok" : `drifting ${status}`;
      sum.dataset.status = status;
      const since = cal && cal.since && status !== "calibrated" ? ` since ${MT.dayTime(ms(cal.since))}` : "";
      sum.textContent = `${row.scored} targets scored (forecasts up to v${s.version}`
        + `${s.stale ? `; v${s.latest} being scored` : ""}); recent coverage 50/80/95 %: `
        + `${[0.5, 0.8, 0.95].map((lv) => MT.pct(rc[String(lv)])).join(" / ")} — `
        + (cal ? `${status === "calibrated" ? "" : "drifting, "}${cal.text}${since}` : (row.drifting ? "drifting: recent coverage is outside its 99 % interval" : "within calibration"));
      const hs = row.by_horizon, keep = state.allLeads ? hs.length : Math.min(8, hs.length);
      const pick = [...new Set(Array.from({ length: keep }, (_, i) => Math.round(i * (hs.length - 1) / Math.max(1, keep - 1))))];
      body.replaceChildren(...pick.map((i) => hs[i]).map((h) => MT.el("tr", { "data-horizon": h.horizon },
        MT.el("td", { text: `${MT.num(h.horizon)} ${tunit()}` }), MT.el("td", { text: String(h.n) }),
        ...["0.5", "0.8", "0.95"].map((lv) => MT.el("td", { text: MT.pct(h.coverage[lv]) })),
        MT.el("td", { text: MT.num(h.crps) }), MT.el("td", { text: MT.num(h.mard) }), MT.el("td", { text: MT.num(h.rmse) }))));
      if (pick.length < hs.length) {
        const span = `${MT.num(hs[0].horizon)} to ${MT.num(hs[hs.length - 1].horizon)} ${tunit()}`;
        const more = MT.el("button", { type: "button", id: "skill-all", class: "linkish", text: `show all ${hs.length}` });
        more.addEventListener("click", () => { state.allLeads = true; drawSkill(); });
        notes.push(MT.el("span", { id: "skill-rows", text: `${pick.length} of ${hs.length} lead times shown, spread over ${span}, to keep the table short; ` }), more);
      } else if (hs.length > 8) {
        const fewer = MT.el("button", { type: "button", id: "skill-all", class: "linkish", text: "show 8" });
        fewer.addEventListener("click", () => { state.allLeads = false; drawSkill(); });
        notes.push(MT.el("span", { id: "skill-rows", text: `All ${hs.length} lead times shown; ` }), fewer);
      }
      if (cal && cal.censored) notes.push(` ${cal.censored} reading${cal.censored > 1 ? "s" : ""} above or below the sensor's range (HI/LO) not scored: a censored reading has no exact value to score a forecast against.`);
    }
    $("skill-notes").replaceChildren(...notes);
  }

  // posterior and skill are heavier: refresh on a new version, at most every 4 poll periods
  async function refreshSide(force) {
    if (state.sideBusy || (!force && Date.now() - state.sideAt < 4 * MT.pollMs())) return;
    state.sideBusy = true;
    state.sideVersion = state.version;
    try {
      await Promise.all([loadPosterior(), loadSkill()]);
      state.sideAt = Date.now();
    } catch (e) { fail(e); } finally { state.sideBusy = false; }
  }

  function setupWhatIf() {
    const kinds = state.cone.event_kinds || [];
    const wi = state.cone.what_if || { horizons: [state.cone.horizon], default: state.cone.horizon };
    const hsel = $("whatif-horizon");
    hsel.replaceChildren(...wi.horizons.map((h) => MT.el("option", { value: String(h), text: `${MT.num(h)} ${tunit()}` })));
    hsel.value = String(wi.default);
    hsel.addEventListener("change", () => { if (state.lastWhatIf) $("whatif-form").requestSubmit(); });
    const has = (k) => kinds.some((x) => x.kind === k);
    for (const fs of document.querySelectorAll("#whatif-form fieldset.option")) {
      const sel = fs.querySelector("select[name=kind]");
      for (const k of kinds) sel.append(MT.el("option", { value: k.kind, text: k.kind }));
      const want = sel.dataset.default;
      // another model's inputs (e.g. antibiotic for the sepsis twin): offer its first one
      sel.value = want === "none" || has(want) ? want : (kinds.length ? kinds[Number(fs.dataset.index) % kinds.length].kind : "none");
      if (!has(want) && want !== "none") {
        fs.querySelector("[name=name]").value = sel.value;
        fs.querySelector("[name=amount]").value = "0.5";
      }
      const unit = fs.querySelector(".unit");
      const sync = () => { unit.textContent = kindUnit()[sel.value] || ""; };
      sel.addEventListener("change", sync);
      sync();
      fs.querySelector(".tunit").textContent = tunit();
    }
    $("whatif-form").addEventListener("submit", runWhatIf);
  }

  async function runWhatIf(ev) {
    ev.preventDefault();
    const options = {};
    for (const fs of document.querySelectorAll("#whatif-form fieldset.option")) {
      if (!fs.querySelector("[name=use]").checked) continue;
      const name = fs.querySelector("[name=name]").value.trim() || `option ${Object.keys(options).length + 1}`;
      const kind = fs.querySelector("[name=kind]").value;
      const amount = Number(fs.querySelector("[name=amount]").value);
      const after = Number(fs.querySelector("[name=after]").value);
      options[name] = kind === "none" ? [] : [{ kind, amount, after }];
    }
    const status = $("whatif-status");
    status.textContent = "Computing…";
    $("whatif-run").disabled = true;
    const horizon = Number($("whatif-horizon").value);
    try {
      const r = await MT.api(`${base}/what-if`, { method: "POST", body: { options, observable: state.cone.observable, horizon } });
      state.lastWhatIf = r;
      drawWhatIf(r);
      const longer = r.computed > r.horizon ? ` (the first part of the ${MT.num(r.computed)}-${tunit()} comparison: the same numbers)` : "";
      status.textContent = `From twin version ${r.version}, ${MT.num(r.horizon)} ${tunit()} ahead${longer}.`;
    } catch (e) {
      status.textContent = e.message;
    } finally { $("whatif-run").disabled = false; }
  }

  function drawWhatIf(r) {
    const c = state.cone, now = ms(r.now);
    const parts = r.options.map((o) => ({ fc: { t: o.times.map(ms), median: o.median, bands: o.bands } }));
    const xmax = Math.max(...parts.map((p) => p.fc.t[p.fc.t.length - 1]));
    const past = now - (xmax - now);  // as much past as future
    const obs = { t: c.observations.times.map(ms), v: c.observations.values, c: c.observations.censored };
    let [ymin, ymax] = MT.coneRange([...parts, { obs: { v: obs.v.filter((_, i) => obs.t[i] >= past) } }]);
    for (const th of [...(c.thresholds || []), ...(c.target || [])]) { if (th >= ymin - 0.3 * (ymax - ymin) && th <= ymax + 0.3 * (ymax - ymin)) { ymin = Math.min(ymin, th); ymax = Math.max(ymax, th); } }
    const cards = r.options.map((o, i) => {
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 420 260");
      svg.setAttribute("class", "chart cone-small");
      svg.dataset.option = o.name;
      MT.drawCone(svg, { ...coneData(c), obs, fc: parts[i].fc, now, xmin: past, xmax, ymin, ymax, version: r.version, compact: true });
      const m = o.metrics, obsName = r.observable;
      const facts = [`mean ${MT.num(m[`${obsName}_mean`], 4)} ${r.unit_label || r.unit}`];
      if (m[`${obsName}_tir_pct`] !== undefined) facts.push(`time in 70–180: ${MT.num(m[`${obsName}_tir_pct`], 3)} %`, `P(any < 70): ${MT.pct(m[`${obsName}_p_below_70`])}`);
      return MT.el("figure", { class: "option-cone", "data-option": o.name },
        MT.el("figcaption", {}, MT.el("b", { text: o.name })), svg,
        MT.el("p", { class: "facts", text: facts.join(" · ") }),
        MT.el("p", { class: `alert small sev-${o.alert.severity}`, text: alertText(o.alert) }));
    });
    $("whatif").replaceChildren(...cards);
    MT.ready("whatif");
  }

  async function refreshCone() {
    const q = new URLSearchParams();
    if (state.version !== null) q.set("known", state.version);
    if (state.hours) q.set("hours", state.hours);
    const qs = q.toString();
    const c = await MT.api(`${base}/cone${qs ? `?${qs}` : ""}`);
    if (c.unchanged) return false;
    state.cone = c;
    state.version = c.version;
    return true;
  }

  // the time window: 3/6/12/24 h of past data (kept in the page's address)
  $("window").addEventListener("change", async (ev) => {
    state.hours = Number(ev.target.value);
    const url = new URL(location.href);
    url.searchParams.set("window", String(state.hours));
    history.replaceState(null, "", url);
    state.version = null;  // not "unchanged": a different window
    try {
      await refreshCone();
      drawCone();
      if (state.lastWhatIf) drawWhatIf(state.lastWhatIf);
    } catch (e) { fail(e); }
  });

  try {
    await Promise.all([refreshCone(), loadEvents(), started]);
    drawCone();
    drawEvents();
    setupWhatIf();
  } catch (e) { fail(e); return; }
  loadName();
  refreshSide(true);

  const period = MT.pollMs();
  async function tick() {
    try {
      if (await refreshCone()) {
        await loadEvents();
        drawCone();
        drawEvents();
      }
      if (state.sideVersion !== state.version) refreshSide(false);
    } catch (e) { if (!(e instanceof MT.ApiError && e.status === 401)) fail(e); }
    setTimeout(tick, period);
  }
  setTimeout(tick, period);
});
