// The patient list: pseudonym (and name, where the user may see it), model, last data in local
// time, updates and twin status (drifting: over- or under-confident, said on hover).
"use strict";
document.addEventListener("DOMContentLoaded", async () => {
  const body = document.querySelector("#patients tbody");
  const err = document.getElementById("list-error");
  if (!(await MT.start().catch((e) => { err.textContent = e.message; err.hidden = false; }))) return;

  // Names come from GET /patients/{pid}, which answers a clinician granted the patient or an
  // admin (each read audited): read once per page, kept in memory only, at most 4 at a time.
  const names = new Map(), queue = [];
  let running = 0;
  function pump() {
    while (running < 4 && queue.length) {
      const id = queue.shift();
      running += 1;
      MT.api(`/patients/${encodeURIComponent(id)}`)
        .then((p) => { names.set(id, p.name || ""); })
        .catch(() => { names.set(id, ""); })
        .finally(() => {
          running -= 1;
          showName(id);
          if (!running && !queue.length) MT.ready("names");
          pump();
        });
    }
  }
  function want(ids) {
    for (const id of ids) if (!names.has(id) && !queue.includes(id)) { names.set(id, undefined); queue.push(id); }
    if (!queue.length && !running) MT.ready("names");
    pump();
  }
  function showName(id) {
    const cell = body.querySelector(`tr[data-id="${CSS.escape(id)}"] .pname`);
    if (cell) cell.textContent = names.get(id) || "";
  }

  function statusBadge(p) {
    const cls = `badge status-${p.status.replace(" ", "-")}${p.drift ? ` drift-${p.drift}` : ""}`;
    // the direction in words, not in colour alone: "drifting: over-confident"
    const badge = MT.el("span", { class: cls, text: p.drift ? `${p.status}: ${p.drift}` : p.status });
    if (p.drift) {
      badge.dataset.drift = p.drift;
      badge.title = p.drift_text;
      badge.setAttribute("aria-label", `${p.status}, ${p.drift}: ${p.drift_text}`);
    }
    return badge;
  }

  async function load() {
    try {
      const doc = await MT.api("/ui/api/patients");
      const rows = doc.patients.map((p) => MT.el("tr", { "data-id": p.id },
        // a network or cardiac twin has its own page (/ui/patients/{pid}/{kind}); an ensemble twin its cone
        MT.el("td", {}, MT.el("a", { href: `/ui/patients/${encodeURIComponent(p.id)}${p.kind && p.kind !== "ode" ? "/" + p.kind : ""}` },
          MT.el("span", { class: "pname", text: names.get(p.id) || "" }),
          MT.el("code", { class: "pid", text: p.id }))),
        MT.el("td", { text: p.model || "–" }),
        MT.el("td", { text: p.last_data ? MT.dayTime(Date.parse(p.last_data)) : "–" }),
        MT.el("td", { class: "num", text: String(p.versions) }),
        MT.el("td", {}, statusBadge(p))));
      if (!rows.length) rows.push(MT.el("tr", {}, MT.el("td", { colspan: "5", class: "muted", text: "No patients granted to you." })));
      body.replaceChildren(...rows);
      err.hidden = true;
      MT.ready("patients");
      want(doc.patients.map((p) => p.id));
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  }
  await load();
  setInterval(load, Math.max(MT.pollMs(), 2000));
});
