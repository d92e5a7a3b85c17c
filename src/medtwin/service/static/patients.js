"use strict";
document.addEventListener("DOMContentLoaded", async () => {
  const body = document.querySelector("#patients tbody");
  const err = document.getElementById("list-error");
  if (!(await MT.start().catch((e) => { err.textContent = e.message; err.hidden = false; }))) return;

  async function load() {
    try {
      const doc = await MT.api("/ui/api/patients");
      const rows = doc.patients.map((p) => MT.el("tr", { "data-id": p.id },
        MT.el("td", {}, MT.el("a", { href: `/ui/patients/${encodeURIComponent(p.id)}`, text: p.id })),
        MT.el("td", { text: p.model || "–" }),
        MT.el("td", { text: p.last_data ? MT.dayTime(Date.parse(p.last_data)) : "–" }),
        MT.el("td", { class: "num", text: String(p.versions) }),
        MT.el("td", {}, MT.el("span", { class: `badge status-${p.status.replace(" ", "-")}`, text: p.status }))));
      if (!rows.length) rows.push(MT.el("tr", {}, MT.el("td", { colspan: "5", class: "muted", text: "No patients granted to you." })));
      body.replaceChildren(...rows);
      err.hidden = true;
      MT.ready("patients");
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  }
  await load();
  setInterval(load, Math.max(MT.pollMs(), 2000));
});
