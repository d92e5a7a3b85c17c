// medtwin dashboard: the forecast cone and small time-series charts as plain SVG.
"use strict";
(function () {
  const MT = (window.MT = window.MT || {});
  const NS = "http://www.w3.org/2000/svg";

  function svgEl(tag, attrs = {}, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function niceStep(span, target) {
    const raw = span / Math.max(1, target);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  }

  const TIME_STEPS = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].map((m) => m * 60000);
  const DAY = 86400000;
  const MONTH_STEPS = [1, 2, 3, 6, 12, 24, 60, 120];  // calendar ticks of a span over 60 days
  const pad2 = (n) => String(n).padStart(2, "0");

  // Ticks on the local calendar's first days of months (a span of months) or of years (a span
  // of years), labelled 2007-04 or 2007: the axis of a twin timed in days.
  function calendarTicks(xmin, xmax, xTicks) {
    const months = (xmax - xmin) / (30.44 * DAY);
    const step = MONTH_STEPS.find((s) => months / s <= xTicks) || MONTH_STEPS[MONTH_STEPS.length - 1];
    const d0 = new Date(xmin);
    const out = [];
    for (let k = Math.ceil((d0.getFullYear() * 12 + d0.getMonth()) / step) * step; ; k += step) {
      const year = Math.floor(k / 12), month = k % 12, t = new Date(year, month, 1).getTime();
      if (t > xmax) break;
      if (t >= xmin) out.push([t, step >= 12 ? String(year) : `${year}-${pad2(month + 1)}`]);
    }
    return { ticks: out, axis: step >= 12 ? "years" : "months" };
  }
  MT.calendarTicks = calendarTicks;
  // a time as the axis writes it: the clock within two days, the date beyond
  MT.timeLabel = (ms, span) => (span > 60 * DAY ? MT.dayTime(ms).slice(0, 10) : MT.hhmm(ms));

  // A frame: scales, grid and axes for x in ms since epoch and y in data units.
  function frame(svg, { xmin, xmax, ymin, ymax, unit, yTicks = 6, xTicks = 8, compact = false }) {
    const vb = svg.viewBox.baseVal;
    const W = vb && vb.width ? vb.width : 960, H = vb && vb.height ? vb.height : 360;
    const m = compact ? { l: 44, r: 8, t: 16, b: 22 } : { l: 56, r: 18, t: 22, b: 30 };
    if (!(ymax > ymin)) { ymin -= 1; ymax += 1; }
    if (!(xmax > xmin)) { xmin -= 3600000; xmax += 3600000; }
    const pad = 0.06 * (ymax - ymin);
    ymin -= pad; ymax += pad;
    const x = (t) => m.l + ((t - xmin) / (xmax - xmin)) * (W - m.l - m.r);
    const y = (v) => H - m.b - ((v - ymin) / (ymax - ymin)) * (H - m.t - m.b);
    const axes = svgEl("g", { class: "axes" });
    const ys = niceStep(ymax - ymin, yTicks);
    for (let v = Math.ceil(ymin / ys) * ys; v <= ymax; v += ys) {
      axes.append(svgEl("line", { class: "grid", x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      axes.append(svgEl("text", { class: "tick y", x: m.l - 6, y: y(v) + 4 }, MT.num(v, 4)));
    }
    const span = xmax - xmin;
    let ticks = [], axis = "clock";
    if (span > 60 * DAY) {  // months or years: the calendar's
      ({ ticks, axis } = calendarTicks(xmin, xmax, xTicks));
    } else {
      const xs = TIME_STEPS.find((s) => span / s <= xTicks) || TIME_STEPS[TIME_STEPS.length - 1];
      const long = span > 2 * DAY;
      const off = MT.offsetMs(xmin);  // ticks on the local clock's round hours and midnights
      for (let t = Math.ceil((xmin + off) / xs) * xs - off; t <= xmax; t += xs) {
        ticks.push([t, long ? MT.dayTime(t).slice(5) : MT.hhmm(t)]);
      }
      if (long) axis = "days";
    }
    for (const [t, label] of ticks) {
      axes.append(svgEl("line", { class: "grid", x1: x(t), x2: x(t), y1: m.t, y2: H - m.b }));
      axes.append(svgEl("text", { class: "tick x", x: x(t), y: H - m.b + 16 }, label));
    }
    axes.append(svgEl("text", { class: "unit", x: 4, y: m.t - 8 }, unit || ""));
    axes.append(svgEl("rect", { class: "plot", x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b }));
    svg.append(axes);
    return { x, y, W, H, m, xmin, xmax, ymin, ymax, axis };
  }

  function linePath(xs, ys, f) {
    let d = "";
    for (let i = 0; i < xs.length; i++) {
      if (!Number.isFinite(ys[i])) continue;
      d += `${d ? "L" : "M"}${f.x(xs[i]).toFixed(1)},${f.y(ys[i]).toFixed(1)}`;
    }
    return d;
  }

  function bandPath(xs, lo, hi, f) {
    const up = xs.map((t, i) => `${f.x(t).toFixed(1)},${f.y(hi[i]).toFixed(1)}`);
    const down = xs.map((t, i) => `${f.x(t).toFixed(1)},${f.y(lo[i]).toFixed(1)}`).reverse();
    return `M${up.join("L")}L${down.join("L")}Z`;
  }

  // the y range a cone needs: observations, bands and thresholds near them
  MT.coneRange = function (parts) {
    let lo = Infinity, hi = -Infinity;
    for (const p of parts) {
      for (const v of (p.obs && p.obs.v) || []) { if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }
      for (const b of (p.fc && p.fc.bands) || []) {
        for (const v of b.lower) if (Number.isFinite(v)) lo = Math.min(lo, v);
        for (const v of b.upper) if (Number.isFinite(v)) hi = Math.max(hi, v);
      }
    }
    return [lo, hi];
  };

  // The cone: the target range as a band behind it, nested bands (widest first), median line,
  // observations as points, "now", events along the bottom and dashed thresholds.
  // d = {now, obs: {t, v, c}, fc: {t, median, bands}, events: [{t, kind, amount, unit}],
  // thresholds, target: [low, high] | null, unit, xmin?, xmax?, ymin?, ymax?}
  MT.drawCone = function (svg, d) {
    svg.replaceChildren();
    const obsT = d.obs ? d.obs.t : [], obsV = d.obs ? d.obs.v : [];
    const fcT = d.fc ? d.fc.t : [];
    let [ymin, ymax] = MT.coneRange([d]);
    for (const th of [...(d.thresholds || []), ...(d.target || [])]) {
      const near = 0.35 * Math.max(ymax - ymin, Math.abs(th) * 0.2);
      if (th > ymin - near && th < ymax + near) { ymin = Math.min(ymin, th); ymax = Math.max(ymax, th); }
    }
    if (d.ymin !== undefined) { ymin = d.ymin; ymax = d.ymax; }
    if (!Number.isFinite(ymin)) { ymin = 0; ymax = 1; }
    const xmin = d.xmin !== undefined ? d.xmin : Math.min(d.now, ...(obsT.length ? [obsT[0]] : []));
    const xmax = d.xmax !== undefined ? d.xmax : Math.max(d.now, ...(fcT.length ? [fcT[fcT.length - 1]] : []));
    const f = frame(svg, { xmin, xmax, ymin, ymax, unit: d.unit, compact: !!d.compact, xTicks: d.compact ? 5 : 8 });

    if (d.target) {  // the target range, clipped to the plot
      const [lo, hi] = d.target;
      const top = f.y(Math.min(hi, f.ymax)), bottom = f.y(Math.max(lo, f.ymin));
      if (bottom > top) {
        const r = svgEl("rect", { class: "target", x: f.m.l, y: top, width: f.W - f.m.l - f.m.r, height: bottom - top, "data-low": lo, "data-high": hi });
        r.append(svgEl("title", {}, `target range ${MT.num(lo)}–${MT.num(hi)} ${d.unit || ""}`));
        svg.append(r);
      }
    }
    for (const th of d.thresholds || []) {
      if (th < f.ymin || th > f.ymax) continue;
      svg.append(svgEl("line", { class: "threshold", x1: f.m.l, x2: f.W - f.m.r, y1: f.y(th), y2: f.y(th), "data-value": th }));
      svg.append(svgEl("text", { class: "threshold-label", x: f.W - f.m.r - 4, y: f.y(th) - 4 }, `${MT.num(th)} ${d.unit || ""}`));
    }
    const bands = svgEl("g", { class: "bands" });
    for (const b of (d.fc && d.fc.bands) || []) {
      const lv = Math.round(100 * b.level);
      bands.append(svgEl("path", { class: `band b${lv}`, "data-level": b.level, d: bandPath(fcT, b.lower, b.upper, f) }));
    }
    svg.append(bands);
    if (d.fc) {
      svg.append(svgEl("path", { class: "median", "data-n": fcT.length, d: linePath(fcT, d.fc.median, f) }));
    }
    const nowX = f.x(d.now);
    svg.append(svgEl("line", { class: "now", x1: nowX, x2: nowX, y1: f.m.t, y2: f.H - f.m.b, "data-time": new Date(d.now).toISOString() }));
    // "now" above the plot, in the top margin: never over a threshold's or the axis' labels
    const anchor = nowX > f.W - f.m.r - 40 ? "end" : nowX < f.m.l + 40 ? "start" : "middle";
    const span = f.xmax - f.xmin;
    svg.append(svgEl("text", { class: "now-label", x: nowX, y: f.m.t - 5, "text-anchor": anchor }, `now ${MT.timeLabel(d.now, span)}`));

    const pts = svgEl("g", { class: "observations" });
    for (let i = 0; i < obsT.length; i++) {
      if (obsT[i] < f.xmin || obsT[i] > f.xmax) continue;
      const c = svgEl("circle", { class: d.obs.c && d.obs.c[i] ? "obs censored" : "obs", cx: f.x(obsT[i]).toFixed(1), cy: f.y(obsV[i]).toFixed(1), r: d.compact ? 2 : 2.6 });
      c.append(svgEl("title", {}, `${MT.timeLabel(obsT[i], span)}  ${MT.num(obsV[i], 4)} ${d.unit || ""}`));
      pts.append(c);
    }
    svg.append(pts);

    const evs = svgEl("g", { class: "events" });
    for (const e of d.events || []) {
      if (e.t < f.xmin || e.t > f.xmax) continue;
      const ex = f.x(e.t), ey = f.H - f.m.b - 2;
      const shape = e.kind === "meal" ? `M${ex},${ey - 10}L${ex - 5},${ey}L${ex + 5},${ey}Z`
        : `M${ex},${ey - 10}L${ex + 5},${ey - 5}L${ex},${ey}L${ex - 5},${ey - 5}Z`;
      const p = svgEl("path", { class: `event ${e.kind}`, d: shape, "data-kind": e.kind });
      p.append(svgEl("title", {}, `${MT.timeLabel(e.t, span)} ${e.kind} ${MT.num(e.amount)} ${e.unit || ""}`));
      evs.append(p);
    }
    svg.append(evs);

    const shown = pts.childElementCount;
    Object.assign(svg.dataset, {
      points: String(shown), bands: String(bands.childElementCount), forecastPoints: String(fcT.length),
      now: new Date(d.now).toISOString(), last: obsT.length ? new Date(obsT[obsT.length - 1]).toISOString() : "",
      xmin: new Date(f.xmin).toISOString(), xmax: new Date(f.xmax).toISOString(), axis: f.axis,
    });
    if (d.version !== undefined) svg.dataset.version = String(d.version);
    return f;
  };

  // Organ scores over time: a stacked bar of the score's components at each scored time (the
  // total above it, marked where shock was present), and a predicted band (nested bands and
  // median of the twin's forecast) after them.
  // d = {t: [ms], order: [component], parts: {component: [points]}, total: [points],
  //      shock: [true|false|null], predicted: {t, median, bands} | null, unit, ymax}
  MT.drawScores = function (svg, d) {
    svg.replaceChildren();
    const pred = d.predicted;
    const ts = [...d.t, ...(pred ? pred.t : [])];
    const gaps = d.t.slice(1).map((t, i) => t - d.t[i]).filter((g) => g > 0);
    const gap = gaps.length ? Math.min(...gaps) : 3600000;
    let ymax = Math.max(4, ...d.total);
    for (const b of (pred && pred.bands) || []) for (const v of b.upper) if (Number.isFinite(v)) ymax = Math.max(ymax, v);
    if (d.ymax !== undefined) ymax = d.ymax;
    const f = frame(svg, { xmin: Math.min(...ts) - gap / 2, xmax: Math.max(...ts) + gap / 2, ymin: 0, ymax, unit: d.unit, yTicks: 5 });
    if (pred) {
      const bands = svgEl("g", { class: "bands predicted" });
      for (const b of pred.bands) {
        const lv = Math.round(100 * b.level);
        bands.append(svgEl("path", { class: `band b${lv}`, "data-level": b.level, d: bandPath(pred.t, b.lower, b.upper, f) }));
      }
      svg.append(bands);
      svg.append(svgEl("path", { class: "median predicted", "data-n": pred.t.length, d: linePath(pred.t, pred.median, f) }));
    }
    const w = Math.max(3, Math.min(26, 0.6 * (f.x(d.t[0] + gap) - f.x(d.t[0]))));
    const bars = svgEl("g", { class: "score-bars" });
    d.t.forEach((t, i) => {
      const g = svgEl("g", { class: "score-bar", "data-time": new Date(t).toISOString(), "data-total": d.total[i] });
      let acc = 0;
      for (const [k, name] of d.order.entries()) {
        const v = d.parts[name][i];
        if (v > 0) {
          const r = svgEl("rect", { class: `part p${k}`, "data-part": name, x: (f.x(t) - w / 2).toFixed(1), y: f.y(acc + v).toFixed(1), width: w.toFixed(1), height: (f.y(acc) - f.y(acc + v)).toFixed(1) });
          r.append(svgEl("title", {}, `${MT.hhmm(t)} ${name} ${v}`));
          g.append(r);
        }
        acc += v;
      }
      const shock = d.shock && d.shock[i];
      g.append(svgEl("text", { class: `score-total${shock ? " shock" : ""}`, x: f.x(t), y: f.y(acc) - 4 }, String(d.total[i])));
      bars.append(g);
    });
    svg.append(bars);
    Object.assign(svg.dataset, { bars: String(d.t.length), predictedPoints: String(pred ? pred.t.length : 0) });
    return f;
  };

  // A parameter's posterior over versions: 5-95 % band and median against version time.
  MT.drawSeries = function (svg, { t, lo, mid, hi, unit }) {
    svg.replaceChildren();
    const vals = [...lo, ...hi].filter(Number.isFinite);
    const f = frame(svg, { xmin: t[0], xmax: t[t.length - 1], ymin: Math.min(...vals), ymax: Math.max(...vals), unit, yTicks: 3, xTicks: 4, compact: true });
    svg.append(svgEl("path", { class: "band b90", d: bandPath(t, lo, hi, f) }));
    svg.append(svgEl("path", { class: "median", "data-n": t.length, d: linePath(t, mid, f) }));
    return f;
  };
})();
