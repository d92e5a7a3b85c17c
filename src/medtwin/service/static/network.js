// The network page: a Bayesian-network twin's causal graph with each node's current posterior,
// and the 90-day outcome (mRS 0..6) under each option, ranked by expected utility (live).
"use strict";
document.addEventListener("DOMContentLoaded", async () => {
  const pid = document.body.dataset.pid;
  const $ = (id) => document.getElementById(id);
  const NS = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs = {}, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  let shown = null;  // the version drawn

  function fail(e) {
    const a = $("alert");
    a.className = "alert error";
    a.textContent = e.message;
  }
  if (!MT.token()) { MT.toLogin(); return; }
  MT.start().catch(fail);
  MT.api(`/patients/${encodeURIComponent(pid)}`)
    .then((p) => { if (p.name) { $("patient-name").textContent = p.name; document.title = `${p.name} · medtwin`; } })
    .catch(() => {})
    .finally(() => MT.ready("name"));

  // Columns by causal depth (the longest path from a root), nodes stacked in each, centred.
  const BOX_W = 196, ROW_H = 15, HEAD_H = 22, GAP = 12, PAD = 10, WIDTH = 960;
  function layout(nodes) {
    const by = Object.fromEntries(nodes.map((n) => [n.name, n]));
    const depth = {};
    const d = (name) => {
      if (!(name in depth)) {
        const ps = by[name].parents;
        depth[name] = ps.length ? 1 + Math.max(...ps.map(d)) : 0;
      }
      return depth[name];
    };
    const cols = [];
    for (const n of nodes) (cols[d(n.name)] = cols[d(n.name)] || []).push(n);
    const boxH = (n) => HEAD_H + ROW_H * n.states.length + 6;
    const colH = cols.map((c) => c.reduce((s, n) => s + boxH(n) + GAP, -GAP));
    const height = Math.max(...colH) + 2 * PAD;
    const step = cols.length > 1 ? (WIDTH - 2 * PAD - BOX_W) / (cols.length - 1) : 0;
    const pos = {};
    cols.forEach((col, i) => {
      let y = PAD + (height - 2 * PAD - colH[i]) / 2;
      for (const n of col) {
        pos[n.name] = { x: PAD + i * step, y, w: BOX_W, h: boxH(n) };
        y += boxH(n) + GAP;
      }
    });
    return { pos, height };
  }

  function drawNetwork(doc) {
    const svg = $("network");
    const { pos, height } = layout(doc.nodes);
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${Math.ceil(height)}`);
    const defs = svgEl("defs");
    const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 8 8", refX: "8", refY: "4",
      markerWidth: "7", markerHeight: "7", orient: "auto" });
    marker.append(svgEl("path", { d: "M0,0 L8,4 L0,8 z", class: "arrow" }));
    defs.append(marker);
    const parts = [defs];
    for (const n of doc.nodes) {
      for (const p of n.parents) {
        const a = pos[p], b = pos[n.name];
        const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x - 2, y2 = b.y + b.h / 2, mx = (x1 + x2) / 2;
        parts.push(svgEl("path", { class: "edge", d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
          "marker-end": "url(#arrow)", "data-edge": `${p}->${n.name}` }));
      }
    }
    for (const n of doc.nodes) {
      const b = pos[n.name];
      const found = doc.evidence[n.name];
      const observed = found !== undefined;
      const g = svgEl("g", { class: `node${observed ? " observed" : ""}`, "data-node": n.name,
        transform: `translate(${b.x.toFixed(1)},${b.y.toFixed(1)})` });
      g.append(svgEl("rect", { class: "box", width: b.w, height: b.h, rx: 6 }));
      const label = observed && typeof found === "string" ? `${n.name} = ${found}` : n.name;
      g.append(svgEl("text", { class: "name", x: 8, y: 15 }, label));
      const barX = 74, barW = b.w - barX - 44;
      n.states.forEach((s, k) => {
        const y = HEAD_H + k * ROW_H, p = n.posterior[k];
        g.append(svgEl("text", { class: "state", x: 8, y: y + 10 }, s));
        g.append(svgEl("rect", { class: "track", x: barX, y: y + 2, width: barW, height: 10 }));
        g.append(svgEl("rect", { class: "bar", x: barX, y: y + 2, width: (barW * p).toFixed(2), height: 10,
          "data-state": s, "data-p": String(p) }));
        g.append(svgEl("text", { class: "pct", x: b.w - 6, y: y + 11 }, MT.pct(p)));
      });
      parts.push(g);
    }
    svg.replaceChildren(...parts);
    svg.dataset.nodes = String(doc.nodes.length);
    $("net-caption").textContent = `${doc.network}, version ${doc.version}`;
  }

  function drawOptions(doc) {
    const legend = $("mrs-legend");
    if (!legend.children.length) {
      for (let k = 0; k < 7; k++) legend.append(MT.el("li", {}, MT.el("i", { class: `sw mrs mrs${k}` }), `mRS ${k}`));
    }
    const rows = (doc.options || []).map((o) => {
      const bar = MT.el("div", { class: "mrsbar", "aria-label": `mRS distribution of ${o.option}` });
      o.mrs.forEach((p, k) => {
        const seg = MT.el("span", { class: `mrs${k}`, title: `mRS ${k}: ${MT.pct(p)}`, "data-p": String(p) });
        seg.style.width = `${(100 * p).toFixed(3)}%`;
        bar.append(seg);
      });
      const good = o.mrs[0] + o.mrs[1] + o.mrs[2];
      return MT.el("tr", { "data-option": o.option, class: o.eligible ? "" : "ineligible" },
        MT.el("td", { text: o.option }),
        MT.el("td", { text: o.eligible ? "yes" : `no: ${o.reason}` }),
        MT.el("td", { class: "eu", text: o.expected_utility.toFixed(3) }),
        MT.el("td", { text: MT.pct(good) }),
        MT.el("td", { text: MT.pct(o.mrs[6]) }),
        MT.el("td", {}, bar));
    });
    if (!rows.length) rows.push(MT.el("tr", {}, MT.el("td", { colspan: "6", class: "muted", text: "This network ranks no options." })));
    $("options").querySelector("tbody").replaceChildren(...rows);
    const a = $("alert");
    const best = (doc.options || []).find((o) => o.eligible);
    if (best) {
      const good = best.mrs[0] + best.mrs[1] + best.mrs[2];
      a.className = "alert sev-ok";
      a.textContent = `Ranked first: ${best.option} (expected utility ${best.expected_utility.toFixed(3)}; ` +
        `P(mRS 0–2 at 90 days) ${MT.pct(good)}). Decision support, not a diagnosis.`;
    } else {
      a.className = "alert";
      a.textContent = doc.options ? "No option is eligible with these findings." : "";
    }
  }

  async function load() {
    try {
      const doc = await MT.api(`/patients/${encodeURIComponent(pid)}/twin`);
      if (doc.kind !== "network") {
        fail(new Error(`This patient's twin is not a network twin: see /ui/patients/${pid}.`));
        return;
      }
      if (shown === doc.version) return;
      shown = doc.version;
      const found = Object.entries(doc.evidence).map(([n, v]) => `${n}=${typeof v === "string" ? v : "soft"}`);
      $("meta").textContent = `Network ${doc.network}, version ${doc.version} at ` +
        `${MT.dayTime(Date.parse(doc.time))} ${MT.zone(Date.parse(doc.time))}; ` +
        (found.length ? `findings: ${found.join(", ")}` : "no findings yet");
      drawNetwork(doc);
      drawOptions(doc);
      MT.ready("network");
    } catch (e) {
      fail(e);
    }
  }
  await load();
  setInterval(load, MT.pollMs());
});
