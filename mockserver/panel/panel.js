// refreshmock control panel: plain JavaScript over the public control API
// (/__mock/*), no framework, no build step. Everything shown comes from
// requests other clients sent, so it is put in the page as text only.
"use strict";

const api = "/__mock";
const $ = (sel) => document.querySelector(sel);
const state = { token: sessionStorage.getItem("refreshmock-token") || "", lastSeq: 0, entries: [], open: new Set(),
  scenarios: [], queue: [], clock: null, clockAt: 0, loadedAt: "", polling: false };

// el builds an element: attributes (on* are listeners), then children
// (strings become text nodes).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== undefined && k !== null && k !== false) e.append(k instanceof Node ? k : String(k));
  return e;
}

function say(msg, bad) {
  const s = $("#status");
  s.textContent = msg;
  s.className = bad ? "err" : "";
}

// call sends a control request; a 401 asks for the control token.
async function call(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin", cache: "no-store" });
  const data = await r.json().catch(() => ({}));
  if (r.status === 401) { askToken(); throw new Error(data.error || "unauthorized"); }
  if (!r.ok) throw new Error(data.error || method + " " + path + ": " + r.status);
  return data;
}

function askToken() {
  state.polling = false;
  $("#login").hidden = false;
  $("#main").hidden = true;
  $("#token").focus();
}

// Tokens (refresh tokens, JWTs) in headers and bodies show as a short
// fingerprint; a click reveals the whole value. Test tokens (rt_test_*)
// are not secrets and show as they are.
const tokenRe = /\b(rt_(?!test_)[A-Za-z0-9_-]{4,}|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)/g;
function fingerprint(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return (s.startsWith("rt_") ? "rt_" : "jwt:") + "…" + h.toString(16).padStart(8, "0").slice(0, 6);
}
function masked(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(tokenRe)) {
    out.push(text.slice(last, m.index));
    const full = m[0];
    const b = el("button", { type: "button", class: "tok", title: "token fingerprint; click to reveal", "aria-label": "reveal token " + fingerprint(full) }, fingerprint(full));
    b.addEventListener("click", () => b.replaceWith(el("span", { class: "mono" }, full)), { once: true });
    out.push(b);
    last = m.index + full.length;
  }
  out.push(text.slice(last));
  return out;
}

const statusClass = (s) => "status s" + String(s).charAt(0);

// --- session --------------------------------------------------------------

function cookie(name) {
  const m = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return m ? decodeURIComponent(m.slice(name.length + 1)) : "";
}
function setSession(v) {
  document.cookie = "mock_session=" + encodeURIComponent(v) + "; path=/; max-age=2592000; samesite=lax";
  showSession();
}
function session() {
  let s = cookie("mock_session");
  if (!s) {
    s = "dev-" + Math.random().toString(36).slice(2, 8);
    setSession(s);
  }
  return s;
}
function showSession() {
  $("#session").textContent = cookie("mock_session") || "none yet (set on the first arm for this session)";
}

// --- scenarios ------------------------------------------------------------

async function loadScenarios() {
  const { scenarios } = await call("GET", "/scenarios");
  state.scenarios = scenarios;
  const body = $("#scenarios tbody");
  body.replaceChildren(...scenarios.map(scenarioRow));
  const f = $("#f-scenario");
  const cur = f.value;
  f.replaceChildren(el("option", { value: "" }, "any"), ...scenarios.map((s) => el("option", { value: s.name }, s.name)));
  f.value = cur;
  renderQueue();
}

function scenarioRow(s) {
  const id = "n-" + s.name;
  const count = el("input", { type: "number", min: "1", max: "1000000", value: "1", id, "aria-label": "count for " + s.name });
  const who = el("select", { "aria-label": "who " + s.name + " applies to" },
    el("option", { value: "everyone" }, "everyone"), el("option", { value: "session" }, "this session"));
  const arm = async () => {
    const body = { scenario: s.name, count: Number(count.value) };
    if (who.value === "session") body.session = session();
    try {
      const r = await call("POST", "/arm", body);
      state.queue = r.queue;
      renderQueue();
      say("Armed " + s.name + " ×" + r.armed.remaining + " for " + r.armed.applies_to + (r.warning ? ". " + r.warning : ""), !!r.warning);
    } catch (e) { say(e.message, true); }
  };
  const disarm = async () => {
    try {
      const r = await call("DELETE", "/arm?scenario=" + encodeURIComponent(s.name));
      state.queue = r.queue;
      renderQueue();
      say("Disarmed " + r.disarmed + " entr" + (r.disarmed === 1 ? "y" : "ies") + " of " + s.name);
    } catch (e) { say(e.message, true); }
  };
  return el("tr", { "data-scenario": s.name },
    el("td", null, el("strong", null, s.name), s.default ? el("span", { class: "muted" }, " (default)") : "",
      s.description ? el("div", { class: "desc" }, s.description) : "",
      el("div", { class: "where" }, el("code", null, s.match || (s.default ? "default" : "explicit or armed only")),
        " · ", el("span", { class: "mono" }, s.file + ":" + s.line))),
    el("td", { class: statusClass(s.status) }, s.status, s.fault ? el("div", { class: "desc" }, s.fault) : ""),
    el("td", { class: "num", "data-armed": s.name }, ""),
    el("td", null, el("div", { class: "arm" }, count, who,
      el("button", { type: "button", class: "primary", "data-action": "arm", onclick: arm }, "Arm"),
      el("button", { type: "button", "data-action": "disarm", onclick: disarm }, "Disarm"))));
}

function renderQueue() {
  const per = {};
  for (const e of state.queue) per[e.scenario] = (per[e.scenario] || 0) + e.remaining;
  for (const td of document.querySelectorAll("td[data-armed]")) td.textContent = per[td.dataset.armed] ? "×" + per[td.dataset.armed] : "";
  const ul = $("#pending");
  if (!state.queue.length) { ul.replaceChildren(el("li", { class: "muted" }, "none")); return; }
  ul.replaceChildren(...state.queue.map((e) => el("li", { "data-pending": e.scenario },
    el("strong", null, e.scenario), " ×" + e.remaining + " for ", el("code", null, e.applies_to),
    el("span", { class: "muted" }, " until " + new Date(e.expires_at).toLocaleTimeString()), " ",
    el("button", { type: "button", onclick: () => call("DELETE", "/arm?id=" + e.id).then((r) => { state.queue = r.queue; renderQueue(); }, (x) => say(x.message, true)) }, "Disarm"))));
}

// --- journal --------------------------------------------------------------

function visible(e) {
  const st = $("#f-status").value.trim(), sc = $("#f-scenario").value, se = $("#f-session").value.trim();
  if ($("#f-preflight").checked && e.rule === "cors" && e.method === "OPTIONS") return false;
  return (!st || String(e.status) === st) && (!sc || e.scenario === sc) && (!se || e.session === se || e.family === se);
}

function renderJournal(fresh) {
  // Rows are rebuilt: keep the keyboard focus on the same request's button.
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#journal tr[data-seq]");
  const focusSeq = focused ? focused.dataset.seq : null;
  const rows = [];
  const shown = state.entries.filter(visible);
  for (let i = shown.length - 1; i >= 0; i--) {
    const e = shown[i];
    const open = state.open.has(e.seq);
    const toggle = el("button", { type: "button", "aria-expanded": String(open), "aria-label": "details of request " + e.seq,
      onclick: () => { open ? state.open.delete(e.seq) : state.open.add(e.seq); renderJournal(); } }, open ? "Hide" : "Details");
    rows.push(el("tr", { "data-journal-status": e.status, "data-journal-scenario": e.scenario || "", "data-seq": e.seq,
      class: fresh && fresh.has(e.seq) ? "fresh" : "" },
      el("td", { class: "num" }, new Date(e.time).toLocaleTimeString()),
      el("td", { class: "mono" }, e.method + " " + e.path),
      el("td", { class: statusClass(e.status) }, e.status || "—"),
      el("td", null, e.scenario || "", el("div", { class: "where" }, e.rule)),
      el("td", null, e.why || ""),
      el("td", null, toggle)));
    if (open) rows.push(detailRow(e));
  }
  $("#journal tbody").replaceChildren(...rows);
  if (focusSeq) { const b = document.querySelector('#journal tr[data-seq="' + focusSeq + '"] button'); if (b) b.focus(); }
  $("#journal-empty").hidden = shown.length > 0;
}

function detailRow(e) {
  const dl = el("dl");
  const add = (k, ...v) => dl.append(el("dt", null, k), el("dd", null, ...v));
  if (e.rejected && e.rejected.length) {
    add("Near misses", el("ul", null, e.rejected.map((r) => el("li", null, el("strong", null, r.scenario),
      " (" + r.held + "/" + r.of + " held): ", masked(r.reason)))));
  }
  if (e.token_state) add("Token", e.token_state + (e.family ? " · family " : ""), e.family ? masked(e.family) : "");
  if (e.session) add("Session", e.session);
  if (e.fault) add("Fault", e.fault);
  add("Latency", e.latency_ms + " ms");
  const hs = Object.entries(e.headers || {}).sort(([a], [b]) => a.localeCompare(b));
  add("Headers", el("pre", { class: "mono" }, hs.flatMap(([k, vs]) => vs.flatMap((v) => [k + ": ", ...masked(v), "\n"]))));
  add("Body", e.body ? el("pre", { class: "mono" }, masked(e.body)) : el("span", { class: "muted" }, "none"));
  return el("tr", { class: "detail" }, el("td", { colspan: "6", class: "detail" }, dl));
}

async function pollJournal() {
  const r = await call("GET", "/journal?since=" + state.lastSeq);
  if (r.last_seq < state.lastSeq) state.entries = []; // the mock restarted
  state.lastSeq = r.last_seq;
  if (!r.entries.length) return;
  state.entries.push(...r.entries);
  if (state.entries.length > 500) state.entries.splice(0, state.entries.length - 500);
  renderJournal(new Set(r.entries.map((e) => e.seq)));
}

// --- clock and tokens -----------------------------------------------------

function setClock(c) {
  state.clock = new Date(c.now).getTime();
  state.clockAt = Date.now();
  $("#offset").textContent = c.offset === "0s" ? "(real time)" : "(offset " + c.offset + ")";
  tick();
}
function tick() {
  if (state.clock === null) return;
  const now = new Date(state.clock + (Date.now() - state.clockAt));
  const c = $("#clock");
  c.dataset.clock = now.toISOString();
  c.textContent = now.toLocaleString();
}
async function advance(by) {
  try { setClock(await call("POST", "/clock/advance", { by })); say("Clock advanced by " + by); }
  catch (e) { say(e.message, true); }
}

// --- health ---------------------------------------------------------------

async function loadHealth() {
  const h = await call("GET", "/health");
  const dl = $("#health");
  const row = (k, ...v) => [el("dt", null, k), el("dd", null, ...v)];
  const lr = h.last_reload || {};
  const reload = !lr.at || lr.at.startsWith("0001") ? el("span", { class: "muted" }, "no reload yet")
    : lr.ok ? el("span", { class: "s2" }, "ok at " + new Date(lr.at).toLocaleTimeString())
      : el("div", { class: "err" }, "failed at " + new Date(lr.at).toLocaleTimeString() + "; still serving the last good set",
        el("ul", null, (lr.errors || []).map((x) => el("li", { class: "mono" }, x))));
  dl.replaceChildren(
    ...row("Spec", h.spec + (h.base_path ? " under " + h.base_path : "")),
    ...row("Scenarios", h.scenarios + " from " + (h.files.length ? h.files.join(", ") : "the shipped set")),
    ...row("Loaded", new Date(h.loaded_at).toLocaleString()),
    ...row("Last reload", reload),
    ...row("Token store", h.tokens + " / 10000 tokens, " + h.families + " families"),
    ...row("Sessions seen", h.sessions_seen.length ? h.sessions_seen.map((s) => s.session + " (" + s.requests + ")").join(", ") : "none"));
  $("#summary").textContent = h.spec + " · " + h.scenarios + " scenarios · " + h.tokens + " tokens";
  if (h.loaded_at !== state.loadedAt) {
    const first = !state.loadedAt;
    state.loadedAt = h.loaded_at;
    if (!first) await loadScenarios();
  }
}

// --- wiring ---------------------------------------------------------------

async function poll() {
  if (!state.polling) return;
  try {
    const [, q] = await Promise.all([pollJournal(), call("GET", "/arm")]);
    state.queue = q.queue;
    renderQueue();
    if (++state.n % 5 === 0) { await loadHealth(); setClock(await call("GET", "/clock")); }
  } catch (e) { say("Lost the mock: " + e.message, true); }
  setTimeout(poll, 1000);
}

async function start() {
  $("#login").hidden = true;
  $("#main").hidden = false;
  try {
    const [, , clock] = await Promise.all([loadHealth(), loadScenarios(), call("GET", "/clock"), pollJournal()]);
    setClock(clock);
    renderJournal();
  } catch (e) { say(e.message, true); return; }
  say("");
  state.n = 0;
  state.polling = true;
  setTimeout(poll, 1000);
  window.panelReady = performance.now();
  document.body.dataset.ready = "true";
}

function wire() {
  showSession();
  $("#session-set").addEventListener("click", () => {
    const v = $("#session-input").value.trim();
    if (v) { setSession(v); say("This browser's session is " + v); }
  });
  for (const b of document.querySelectorAll("[data-clock-advance]")) b.addEventListener("click", () => advance(b.dataset.clockAdvance));
  $("#advance-form").addEventListener("submit", (ev) => { ev.preventDefault(); advance($("#advance-by").value.trim()); });
  $("#clock-reset").addEventListener("click", async () => {
    try { setClock(await call("POST", "/clock/reset")); say("Clock back to real time"); } catch (e) { say(e.message, true); }
  });
  $("#token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const subject = $("#subject").value.trim();
      const t = await call("POST", "/tokens", subject ? { subject, set_cookie: true } : { set_cookie: true });
      $("#issued").replaceChildren("Cookie set: ", ...masked(t.refresh_token), " · family " + t.family + " · subject " + t.subject +
        " · expires " + new Date(t.expires_at).toLocaleString());
      say("Issued a refresh token; the refresh_token cookie of this origin now holds it");
    } catch (e) { say(e.message, true); }
  });
  $("#reset-all").addEventListener("click", async () => {
    if (!confirm("Forget every token, armed entry and the journal, and rewind the clock?")) return;
    try {
      const r = await call("POST", "/reset");
      state.entries = [];
      state.queue = [];
      renderJournal();
      renderQueue();
      setClock({ now: r.now, offset: "0s" });
      say("Reset; " + r.seed_token + " is valid again");
    } catch (e) { say(e.message, true); }
  });
  for (const id of ["#f-status", "#f-scenario", "#f-session", "#f-preflight"]) $(id).addEventListener("input", () => renderJournal());
  $("#j-clear").addEventListener("click", () => { state.entries = []; renderJournal(); });
  $("#login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("#token").value.trim();
    sessionStorage.setItem("refreshmock-token", state.token);
    start();
  });
  setInterval(tick, 1000);
  start();
}

wire();
