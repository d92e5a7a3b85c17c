// The patient page: cone + alert (live), events, posterior, skill ledger and what-if.
"use strict";
document.addEventListener("DOMContentLoaded", async () => {
  const pid = document.body.dataset.pid;
  const base = `/ui/api/patients/${encodeURIComponent(pid)}`;
  const $ = (id) => document.getElementById(id);
  const state = { cone: null, events: [], version: null, sideAt: 0, sideBusy: false, sideVersion: null };
  const ms = (iso) => Date.parse(iso);

  function fail(e) {
    const a = $("alert");
    a.className = "alert error";
    a.textContent = e.message;
  }
  if (!MT.token()) { MT.toLogin(); return; }
  const started = MT.start().catch(fail);  // who am I: in parallel with the data

  const kindUnit = () => Object.fromEntries((state.cone.event_kinds || []).map((k) => [k.kind, k.unit]));
  const tunit = () => (state.cone.time_unit === "h" ? "h" : "min");

  function coneData(c, extra = {}) {
    const units = kindUnit();
    return {
      now: ms(c.now), unit: c.unit, thresholds: c.thresholds, version: c.version,
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
    a.replaceChildren(MT.el("strong", { text: `Forecast v${c.alert.version}: ` }), c.alert.text);
    const n = c.observations.values.length;
    const last = n ? `last ${MT.num(c.observations.values[n - 1], 4)} ${c.unit} at ${MT.hhmm(ms(c.observations.times[n - 1]))}` : "no readings yet";
    $("meta").textContent = `Model ${c.model} · ${c.observable} (${c.unit}) · twin version ${c.version} · ${n} readings in view, ${last}`;
    $("cone-caption").textContent = `${c.observable}, forecast v${c.version} issued ${MT.hhmm(ms(c.now))} UTC, ${MT.num(c.horizon)} ${tunit()} ahead`;
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
        MT.el("figcaption", {}, MT.el("b", { text: q.name }), ` (${q.unit}) `,
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
    const row = s.by_observable[state.cone.observable];
    const body = $("skill").tBodies[0];
    const sk = $("skill");
    sk.dataset.version = String(s.version);
    if (!row || !row.scored) {
      $("skill-summary").textContent = "No forecast has been scored yet (targets are scored as data arrive).";
      body.replaceChildren();
    } else {
      const rc = row.recent_coverage;
      $("skill-summary").className = row.drifting ? "drifting" : "ok";
      $("skill-summary").textContent = `${row.scored} targets scored (forecasts up to v${s.version}`
        + `${s.stale ? `; v${s.latest} being scored` : ""}); recent coverage 50/80/95 %: `
        + `${[0.5, 0.8, 0.95].map((lv) => MT.pct(rc[String(lv)])).join(" / ")} — `
        + (row.drifting ? "drifting: recent coverage is outside its 99 % interval" : "within calibration");
      const hs = row.by_horizon, keep = Math.min(8, hs.length);
      const pick = [...new Set(Array.from({ length: keep }, (_, i) => Math.round(i * (hs.length - 1) / Math.max(1, keep - 1))))];
      body.replaceChildren(...pick.map((i) => hs[i]).map((h) => MT.el("tr", { "data-horizon": h.horizon },
        MT.el("td", { text: `${MT.num(h.horizon)} ${tunit()}` }), MT.el("td", { text: String(h.n) }),
        ...["0.5", "0.8", "0.95"].map((lv) => MT.el("td", { text: MT.pct(h.coverage[lv]) })),
        MT.el("td", { text: MT.num(h.crps) }), MT.el("td", { text: MT.num(h.mard) }), MT.el("td", { text: MT.num(h.rmse) }))));
    }
    MT.ready("skill");
    // the latest version's ledger is being scored on the server: ask again shortly
    if (s.stale) setTimeout(() => loadSkill().catch(fail), 1000);
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
    try {
      const r = await MT.api(`${base}/what-if`, { method: "POST", body: { options, observable: state.cone.observable } });
      drawWhatIf(r);
      status.textContent = `From twin version ${r.version}, ${MT.num(r.horizon)} ${tunit()} ahead.`;
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
    for (const th of c.thresholds || []) { if (th >= ymin - 0.3 * (ymax - ymin) && th <= ymax + 0.3 * (ymax - ymin)) { ymin = Math.min(ymin, th); ymax = Math.max(ymax, th); } }
    const cards = r.options.map((o, i) => {
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 420 260");
      svg.setAttribute("class", "chart cone-small");
      svg.dataset.option = o.name;
      MT.drawCone(svg, { ...coneData(c), obs, fc: parts[i].fc, now, xmin: past, xmax, ymin, ymax, version: r.version, compact: true });
      const m = o.metrics, obsName = r.observable;
      const facts = [`mean ${MT.num(m[`${obsName}_mean`], 4)} ${r.unit}`];
      if (m[`${obsName}_tir_pct`] !== undefined) facts.push(`time in 70–180: ${MT.num(m[`${obsName}_tir_pct`], 3)} %`, `P(any < 70): ${MT.pct(m[`${obsName}_p_below_70`])}`);
      return MT.el("figure", { class: "option-cone", "data-option": o.name },
        MT.el("figcaption", {}, MT.el("b", { text: o.name })), svg,
        MT.el("p", { class: "facts", text: facts.join(" · ") }),
        MT.el("p", { class: `alert small sev-${o.alert.severity}`, text: o.alert.text }));
    });
    $("whatif").replaceChildren(...cards);
    MT.ready("whatif");
  }

  async function refreshCone() {
    const q = state.version === null ? "" : `?known=${state.version}`;
    const c = await MT.api(`${base}/cone${q}`);
    if (c.unchanged) return false;
    state.cone = c;
    state.version = c.version;
    return true;
  }

  try {
    await Promise.all([refreshCone(), loadEvents(), started]);
    drawCone();
    drawEvents();
    setupWhatIf();
  } catch (e) { fail(e); return; }
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
