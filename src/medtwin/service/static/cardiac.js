// The cardiac page: the conduction parameters learnt from the map (posterior median and 90 %
// interval), the activation map at the posterior median, and P(inducible) with the lesion
// plans ranked by it when computed (live: redrawn when a new version or result arrives).
"use strict";
document.addEventListener("DOMContentLoaded", async () => {
  const pid = document.body.dataset.pid;
  const base = `/patients/${encodeURIComponent(pid)}`;
  const $ = (id) => document.getElementById(id);
  const NS = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs = {}) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  let shown = null;  // the twin version drawn
  let riskShown = null;  // the stored result drawn, and the twin version it was drawn beside

  function fail(e) {
    const a = $("alert");
    a.className = "alert error";
    a.textContent = e.message;
  }
  if (!MT.token()) { MT.toLogin(); return; }
  MT.start().catch(fail);
  MT.api(base)
    .then((p) => { if (p.name) { $("patient-name").textContent = p.name; document.title = `${p.name} · medtwin`; } })
    .catch(() => {})
    .finally(() => MT.ready("name"));

  function drawParameters(doc) {
    const rows = Object.entries(doc.parameters).map(([name, p]) => MT.el("tr", { "data-param": name },
      MT.el("td", { text: `${name}: ${p.label}` }),
      MT.el("td", { class: "median", text: MT.num(p.median) }),
      MT.el("td", { class: "interval", text: `${MT.num(p.q05)} – ${MT.num(p.q95)}` }),
      MT.el("td", { text: p.unit })));
    $("parameters").querySelector("tbody").replaceChildren(...rows);
    $("post-caption").textContent = doc.calibrated
      ? `posterior, version ${doc.version}` : "prior: no mapping points yet";
  }

  const colour = (f) => `hsl(${Math.round(240 * Math.min(Math.max(f, 0), 1))}, 80%, 50%)`;
  function drawMap(m) {
    const svg = $("actmap");
    const [nx, ny] = m.shape;
    const step = Math.max(1, Math.ceil(Math.max(nx, ny) / 150));  // at most 150 cells a side
    const s = Math.min(600 / nx, 360 / ny) * step;
    const w = Math.ceil(nx / step) * s, h = Math.ceil(ny / step) * s;
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const top = m.max_ms || 1;
    const cells = [];
    for (let i = 0; i < nx; i += step) {
      for (let j = 0; j < ny; j += step) {
        const lab = m.labels[i][j], t = m.times[i][j];
        if (lab === 0) continue;
        const fill = t === null ? (lab === 4 ? "#000" : "#8a8a8a") : colour(t / top);
        const r = svgEl("rect", { class: "cell", x: (i / step) * s, y: h - (j / step + 1) * s,
          width: s, height: s, fill });
        r.dataset.cell = `${i},${j}`;
        if (t !== null) r.dataset.t = String(t);
        cells.push(r);
      }
    }
    const px = m.pace_mm[0] / m.spacing_mm / step * s, py = h - m.pace_mm[1] / m.spacing_mm / step * s;
    cells.push(svgEl("circle", { class: "pace", cx: px, cy: py, r: Math.max(3, s * 0.8) }));
    svg.replaceChildren(...cells);
    svg.dataset.cells = String(cells.length - 1);
    $("map-caption").textContent = `${nx} × ${ny} cells of ${m.spacing_mm} mm, cv ${MT.num(m.cv)} mm/ms` +
      (m.max_ms === null ? "" : `, last activation ${MT.num(m.max_ms)} ms`);
    $("map-legend").replaceChildren(...[[0, "0 ms"], [0.5, `${MT.num(top / 2)} ms`], [1, `${MT.num(top)} ms`]]
      .map(([f, text]) => {
        const sw = svgEl("svg", { width: 14, height: 10, class: "sw" });
        sw.appendChild(svgEl("rect", { width: 14, height: 10, fill: colour(f) }));
        return MT.el("li", {}, sw, text);
      }));
  }

  function drawRisk(r, version) {
    if (riskShown === `${r.id}/${version}`) return;
    riskShown = `${r.id}/${version}`;
    const [lo, hi] = r.interval;
    $("risk-summary").className = "";
    $("risk-summary").textContent = `P(inducible) ${MT.pct(r.probability)} (95 % interval ${MT.pct(lo)}–${MT.pct(hi)}) ` +
      `over ${r.draws} posterior draws from ${r.sites_mm.length} site(s); recommended: ${r.recommended}.`;
    $("risk-caption").textContent = `version ${r.version}` + (r.version !== version ? ` (the twin is now at version ${version})` : "") +
      `, ${MT.num(r.seconds)} s`;
    const rows = r.plans.map((p) => MT.el("tr", { "data-plan": p.name },
      MT.el("td", { text: String(p.rank) }), MT.el("td", { text: p.name }),
      MT.el("td", { text: String(p.cells) }), MT.el("td", { text: MT.num(p.area) }),
      MT.el("td", { class: "p", text: MT.pct(p.probability) }),
      MT.el("td", { text: `${MT.pct(p.interval[0])}–${MT.pct(p.interval[1])}` })));
    $("plans").querySelector("tbody").replaceChildren(...rows);
  }

  async function loadRisk(version) {
    try {
      drawRisk(await MT.api(`${base}/twin/inducibility`), version);
    } catch (e) {
      if (e.status !== 404) throw e;  // none computed yet
    }
    MT.ready("risk");
  }

  $("risk-run").addEventListener("click", async () => {
    const b = $("risk-run");
    b.disabled = true;
    $("risk-summary").textContent = "Computing…";
    try {
      drawRisk(await MT.api(`${base}/twin/inducibility`, { method: "POST", body: {} }), shown);
    } catch (e) {
      $("risk-summary").textContent = e.message;
    } finally {
      b.disabled = false;
    }
  });

  async function load() {
    try {
      const doc = await MT.api(`${base}/twin`);
      if (doc.kind !== "cardiac") {
        fail(new Error(`This patient's twin is not a cardiac twin: see /ui/patients/${pid}.`));
        return;
      }
      if (shown !== doc.version) {
        shown = doc.version;
        const t = Date.parse(doc.time);
        $("meta").textContent = `Cardiac twin, version ${doc.version} at ${MT.dayTime(t)} ${MT.zone(t)}; ` +
          `tissue ${doc.tissue.shape.join(" × ")} voxels of ${doc.tissue.spacing_mm} mm; ` +
          `${doc.mapping_points} mapping points, ${doc.qrs_durations} QRS durations`;
        const a = $("alert");
        const cv = doc.parameters.cv;
        a.className = doc.calibrated ? "alert sev-ok" : "alert";
        a.textContent = doc.calibrated
          ? `Conduction velocity ${MT.num(cv.median)} mm/ms (90 % interval ${MT.num(cv.q05)}–${MT.num(cv.q95)}) from ${doc.mapping_points} mapping points.`
          : "No mapping points yet: the parameters shown are the prior's. Send the map's LAT CSV.";
        drawParameters(doc);
        MT.ready("posterior");
        drawMap(await MT.api(`${base}/twin/activation-map`));
        MT.ready("map");
      }
      await loadRisk(doc.version);
      MT.ready("cardiac");
    } catch (e) {
      fail(e);
    }
  }
  await load();
  setInterval(load, MT.pollMs());
});
