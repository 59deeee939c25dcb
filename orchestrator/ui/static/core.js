/* Spotwise dashboard core: token, API calls, small DOM helpers, polling, page dispatch.
   Plain ES2020, no build step. Every page registers {render(root), refresh()} in Spotwise.pages. */
"use strict";
const Spotwise = (() => {
  const KEY = "spotwise.token";
  const pages = {};
  let me = null;
  let timer = null;

  const token = () => sessionStorage.getItem(KEY);

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.error && body.error.code;
    }
  }

  async function api(path, options = {}) {
    const headers = { Authorization: `Bearer ${token()}`, Accept: "application/json" };
    if (options.body) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { ...options, headers });
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (res.status === 401) { signOut("Your token was refused: " + ((body && body.error && body.error.message) || "sign in again")); }
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }

  /* el("td", {class: "x", text: "y"}, child...) */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k === "style") node.style.cssText = v;  // through the CSSOM: the CSP refuses style attributes
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /* A table with a caption; columns: [{label, cell: row => Node|string, num?: bool}] */
  function table(caption, columns, rows, empty) {
    if (!rows.length) return el("p", { class: "empty", text: empty || "Nothing to show." });
    const head = el("tr", {}, columns.map(c => el("th", { scope: "col", class: c.num ? "num" : null, text: c.label })));
    const body = rows.map(r => el("tr", {}, columns.map(c => el("td", { class: c.num ? "num" : null, "data-label": c.label }, c.cell(r)))));
    return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": caption },
      el("table", {}, el("caption", { text: caption }), el("thead", {}, head), el("tbody", {}, body)));
  }

  /* Like the CLI's policies.money.usd: cents from a dollar up, two significant digits below, never "$0.00"
     for an amount that is not zero. */
  function money(v, digits) {
    if (v === null || v === undefined) return "—";
    const x = Number(v), size = Math.abs(x), sign = x < 0 ? "-" : "";
    if (digits !== undefined) return sign + "$" + size.toFixed(digits);
    if (size === 0) return "$0.00";
    if (size >= 1) return sign + "$" + size.toFixed(2);
    const places = Math.max(2, -Math.floor(Math.log10(size)) + 1);
    if (places > 8) return sign + "<$0.00000001";
    const [whole, fraction] = size.toFixed(places).split(".");
    return sign + "$" + whole + "." + fraction.replace(/0+$/, "").padEnd(2, "0");
  }
  /* A size in the unit that reads: 5 KB was shown as "0.0 MB". */
  function bytes(n) {
    if (n === null || n === undefined) return "—";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let v = Number(n), i = 0;
    while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const neg = seconds < 0, s = Math.abs(Math.round(seconds));
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    const text = d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${r}s` : `${r}s`;
    return neg ? "−" + text : text;
  }
  const ago = iso => iso ? duration((Date.now() - Date.parse(iso)) / 1000) + " ago" : "—";
  const time = iso => iso ? new Date(iso).toLocaleString() : "—";
  const badge = (text, kind) => el("span", { class: `badge ${kind || String(text).toLowerCase()}`, text });
  const link = (href, text) => el("a", { href, text });
  const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  function setStatus(text) { document.getElementById("status").textContent = text; }
  function setError(text) { document.getElementById("error").textContent = text || ""; }

  async function refresh() {
    const page = pages[document.body.dataset.page];
    if (!page || !token() || !me) return;
    try {
      await page.refresh();
      setError("");
      setStatus("Updated " + new Date().toLocaleTimeString());
    } catch (err) {
      setError(err.status ? `The API answered ${err.status}: ${err.message}` : `Cannot reach the daemon: ${err.message}`);
    }
  }

  function schedule() {
    clearInterval(timer);
    const every = Number(document.body.dataset.pollMs) || 2000;
    timer = setInterval(() => { if (!document.hidden) refresh(); }, every);
  }

  async function showPage() {
    document.getElementById("login").hidden = true;
    const who = document.getElementById("who");
    who.hidden = false;
    document.getElementById("who-text").textContent = me.role === "admin" ? "admin" : `team ${me.team}`;
    const root = document.getElementById("content");
    root.hidden = false;
    root.replaceChildren();
    const page = pages[document.body.dataset.page];
    page.render(root);
    await refresh();
    schedule();
  }

  function showLogin(message) {
    clearInterval(timer);
    document.getElementById("content").hidden = true;
    document.getElementById("who").hidden = true;
    document.getElementById("login").hidden = false;
    document.getElementById("login-error").textContent = message || "";
    document.getElementById("token-input").focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    me = null;
    showLogin(message);
  }

  async function signIn(value) {
    sessionStorage.setItem(KEY, value);
    try {
      me = await api("/v1/dashboard/me");
    } catch (err) {
      if (err.status !== 401) signOut(`Cannot sign in: ${err.message}`);
      return;
    }
    await showPage();
  }

  /* A one-time sign-in link (`spotwise ui --open`) leaves the new session token in a 60 s cookie under /ui:
     move it into sessionStorage, like a pasted token, and delete the cookie at once (ui/signin.py). */
  function takeHandoff() {
    const name = "spotwise_signin=";
    const found = document.cookie.split("; ").find(c => c.startsWith(name));
    if (!found) return null;
    document.cookie = "spotwise_signin=; Max-Age=0; Path=/ui; SameSite=Strict";
    return decodeURIComponent(found.slice(name.length)) || null;
  }

  function start() {
    document.getElementById("login-form").addEventListener("submit", ev => {
      ev.preventDefault();
      const input = document.getElementById("token-input");
      signIn(input.value.trim());
      input.value = "";
    });
    document.getElementById("signout").addEventListener("click", async () => {
      /* The daemon revokes a session token from a sign-in link, so no copy of it works on (ui/signin.py);
         a pasted API token stays valid and is only forgotten here. Signed out here even if the call fails. */
      try {
        await fetch("/v1/ui/signout", { method: "POST", headers: { Authorization: `Bearer ${token()}` } });
      } catch (_) { /* offline: the tab forgets the token all the same */ }
      signOut("Signed out.");
    });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
    const handed = takeHandoff();
    if (handed) signIn(handed); else if (token()) signIn(token()); else showLogin();
  }

  return { api, el, table, money, bytes, duration, ago, time, badge, link, count, pages, start, me: () => me, refresh };
})();
