// The patient page's organ-score panel: SOFA and its six components over time from the ICU
// chart, Sepsis-3 / septic shock, and the twin's predicted SOFA where its model has one.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const panel = document.getElementById("scores-panel");
  if (!panel || !MT.token()) return;
  const pid = document.body.dataset.pid;
  const url = `/ui/api/patients/${encodeURIComponent(pid)}/scores`;
  const $ = (id) => document.getElementById(id);
  const ms = (iso) => Date.parse(iso);
  const NAMES = { respiration: "Resp.", coagulation: "Coag.", liver: "Liver", cardiovascular: "Cardio.", cns: "CNS", renal: "Renal" };
  let shown = "";

  function status(doc) {
    const a = doc.latest, box = $("scores-status");
    if (!a) {
      box.className = "alert sev-watch";
      box.textContent = doc.missing.length ? doc.missing[doc.missing.length - 1].text : "No SOFA yet.";
      return;
    }
    box.className = `alert sev-${a.septic_shock ? "alert" : a.sepsis ? "watch" : "ok"}`;
    box.dataset.total = String(a.total);
    box.dataset.sepsis = String(a.sepsis);
    box.dataset.shock = String(a.septic_shock);
    box.replaceChildren(MT.el("strong", { text: a.septic_shock ? "Septic shock. " : a.sepsis ? "Sepsis. " : "" }),
      a.template.replace("{at}", MT.at(ms(a.time))));
    $("scores-inputs").textContent = `Inputs at ${MT.at(ms(a.time))}: ` + a.inputs.map((x) => `${x.label} ${MT.num(x.value, 3)} ${x.unit_label}`).join(" · ");
  }

  function draw(doc) {
    const order = Object.keys(doc.components);
    const p = doc.predicted;
    MT.drawScores($("scores-chart"), {
      t: doc.times.map(ms), order, parts: doc.components, total: doc.total, shock: doc.septic_shock, unit: "SOFA points",
      predicted: p ? { t: p.times.map(ms), median: p.median, bands: p.bands } : null,
    });
    $("scores-predicted").textContent = p
      ? `Blue band: the twin's predicted ${p.observable} (forecast v${p.version}; median and 50/80/95 % bands) — ${p.description}. `
        + (p.assimilated ? "The twin assimilates recorded SOFA totals." : `The twin does not assimilate the chart's SOFA (${p.observable} has no LOINC code): it predicts from what it observes.`)
      : "This twin's model declares no SOFA observable: no predicted band.";
    const keep = doc.times.map((_, i) => i).slice(-8).reverse();
    $("scores-table").tBodies[0].replaceChildren(...keep.map((i) => MT.el("tr", { "data-time": doc.times[i] },
      MT.el("td", { text: MT.dayTime(ms(doc.times[i])) }),
      ...order.map((k) => MT.el("td", { class: "num", text: String(doc.components[k][i]) })),
      MT.el("td", { class: "num total", text: String(doc.total[i]) }),
      MT.el("td", { text: doc.septic_shock[i] ? "septic shock" : doc.sepsis[i] ? "sepsis" : "—" }))));
    $("scores-legend").replaceChildren(...order.map((k, j) => MT.el("li", {}, MT.el("i", { class: `sw part p${j}` }), NAMES[k] || k)));
    $("scores-missing").textContent = doc.missing.length ? `${doc.missing.length} chart time(s) not scored: ${doc.missing[doc.missing.length - 1].text}` : "";
  }

  async function load() {
    const doc = await MT.api(url);
    panel.hidden = !doc.has_scores;
    const key = JSON.stringify([doc.times, doc.predicted && doc.predicted.version, doc.missing.length]);
    if (doc.has_scores && key !== shown) {
      status(doc);
      draw(doc);
      shown = key;
    }
    MT.ready("scores");
  }

  const period = 4 * MT.pollMs();
  async function tick() {
    try { await load(); } catch (e) {
      if (!(e instanceof MT.ApiError && e.status === 401)) { $("scores-status").textContent = e.message; MT.ready("scores"); }
    }
    setTimeout(tick, period);
  }
  tick();
});
