"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login");
  const err = document.getElementById("login-error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const token = document.getElementById("token").value.trim();
    try {
      await MT.api("/ui/api/me", { token });
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      return;
    }
    MT.setToken(token);
    const next = new URLSearchParams(location.search).get("next") || "";
    // only our own pages: no open redirect
    location.assign(/^\/ui\/[A-Za-z0-9._\/?=&%-]*$/.test(next) ? next : "/ui/patients");
  });
  MT.ready("login");
});
