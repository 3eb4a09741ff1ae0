// tiltpy dashboard: plain JS, no build step, no network beyond this server.
// State comes from the /ws websocket (a snapshot, then changed resources and
// new log lines, at most ~10 messages a second); actions are POSTs carrying
// the per-run token from /api/token.
"use strict";

const TILTFILE = "(Tiltfile)";
const MAX_LINES_PER_RESOURCE = 5000; // kept in the page per resource
const MAX_LINES_ALL = 10000; // kept for the all-resources view
const MAX_RENDERED = 3000; // DOM lines in the log pane

const state = {
  session: {},
  resources: new Map(), // name -> view
  order: [],
  logsAll: [],
  logsBy: new Map(), // name -> [line]
  lastN: new Map(), // name -> last line ordinal seen
  selected: localStorage.getItem("tiltpy.selected") || "",
  token: null,
  collapsed: new Set(JSON.parse(localStorage.getItem("tiltpy.collapsed") || "[]")),
  busy: new Set(), // resources with an action in flight
};

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

// ---------------------------------------------------------------- status

function statusOf(r) {
  if (!r.enabled) return ["disabled", "disabled"];
  if (r.type === "tiltfile") {
    if (r.updateError) return ["error", "error"];
    if (r.updateStatus === "in_progress") return ["building", "loading"];
    return ["ok", "loaded"];
  }
  if (r.updateStatus === "in_progress") return ["building", "updating"];
  if (r.updateStatus === "error") return ["error", "update failed"];
  if (r.runtimeStatus === "error") return ["error", "runtime error"];
  if (r.waitingReason) return ["pending", "waiting"];
  if (r.updateStatus === "none") return ["idle", "not started"];
  if (r.updateStatus === "pending") return ["pending", "pending"];
  if (r.updateStatus === "ok" && (r.runtimeStatus === "ok" || r.runtimeStatus === "not_applicable")) return ["ok", "ready"];
  if (r.updateStatus === "ok") return ["pending", "waiting for pods"];
  return ["idle", r.updateStatus || ""];
}

function fmtDuration(secs) {
  if (secs == null) return "";
  if (secs < 1) return `${Math.round(secs * 1000)}ms`;
  if (secs < 60) return `${secs.toFixed(1)}s`;
  return `${Math.floor(secs / 60)}m${Math.round(secs % 60)}s`;
}

function fmtAgo(t) {
  if (!t) return "";
  const s = Math.max(0, Date.now() / 1000 - t);
  if (s < 5) return "just now";
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

function fmtClock(t) {
  return t ? new Date(t * 1000).toLocaleTimeString() : "";
}

// ---------------------------------------------------------------- resource table

const groupBodies = new Map(); // group key -> tbody
const rows = new Map(); // group key + "\0" + name -> {tr, json}

function groups() {
  const names = state.order.filter((n) => state.resources.has(n));
  const anyLabels = names.some((n) => (state.resources.get(n).labels || []).length);
  if (!anyLabels) return [["", names]];
  const out = new Map();
  out.set("", []); // the Tiltfile first, ungrouped
  for (const n of names) {
    const r = state.resources.get(n);
    if (r.type === "tiltfile") { out.get("").push(n); continue; }
    const labels = (r.labels || []).length ? [...r.labels].sort() : ["unlabeled"];
    for (const l of labels) {
      if (!out.has(l)) out.set(l, []);
      out.get(l).push(n);
    }
  }
  const keys = [...out.keys()].filter((k) => k !== "" && k !== "unlabeled").sort();
  if (out.has("unlabeled")) keys.push("unlabeled");
  return [["", out.get("")], ...keys.map((k) => [k, out.get(k)])];
}

function renderTable() {
  const table = $("resources");
  const wanted = groups();
  const seenGroups = new Set();
  const seenRows = new Set();
  let previous = table.tHead;
  for (const [group, names] of wanted) {
    seenGroups.add(group);
    let body = groupBodies.get(group);
    if (!body) {
      body = document.createElement("tbody");
      body.dataset.group = group;
      if (group) {
        const head = document.createElement("tr");
        head.className = "group";
        head.innerHTML = `<td colspan="9"><span class="caret"></span><span class="gname"></span> <span class="gcount muted"></span></td>`;
        head.querySelector(".gname").textContent = group;
        head.addEventListener("click", () => {
          if (state.collapsed.has(group)) state.collapsed.delete(group); else state.collapsed.add(group);
          localStorage.setItem("tiltpy.collapsed", JSON.stringify([...state.collapsed]));
          renderTable();
        });
        body.appendChild(head);
      }
      groupBodies.set(group, body);
    }
    if (previous.nextSibling !== body) previous.after(body);
    previous = body;
    body.classList.toggle("collapsed", state.collapsed.has(group));
    if (group) {
      const head = body.firstChild;
      head.querySelector(".caret").textContent = state.collapsed.has(group) ? "▸" : "▾";
      const errors = names.filter((n) => statusOf(state.resources.get(n))[0] === "error").length;
      head.querySelector(".gcount").textContent = `${names.length}` + (errors ? ` · ${errors} error${errors > 1 ? "s" : ""}` : "");
    }
    let at = group ? body.firstChild : null;
    for (const name of names) {
      const key = group + "\0" + name;
      seenRows.add(key);
      let row = rows.get(key);
      if (!row) {
        row = {tr: makeRow(name), json: ""};
        rows.set(key, row);
      }
      updateRow(row, state.resources.get(name));
      const expected = at ? at.nextSibling : body.firstChild;
      if (expected !== row.tr) {
        if (at) at.after(row.tr); else body.prepend(row.tr);
      }
      at = row.tr;
    }
  }
  for (const [key, row] of rows) if (!seenRows.has(key)) { row.tr.remove(); rows.delete(key); }
  for (const [group, body] of groupBodies) if (!seenGroups.has(group)) { body.remove(); groupBodies.delete(group); }
}

function makeRow(name) {
  const tr = document.createElement("tr");
  tr.className = "res";
  tr.dataset.name = name;
  tr.innerHTML = `
    <td class="c-dot"><span class="dot"></span></td>
    <td class="c-name"><span class="name"></span><span class="type"></span>
      <div class="labels"></div><div class="reason"></div><div class="err"></div></td>
    <td class="c-update"><div class="ustatus"></div><div class="sub ubuild"></div></td>
    <td class="c-runtime"><div class="rstatus"></div></td>
    <td class="c-pod"><div class="pod"></div><div class="sub podsub"></div></td>
    <td class="c-endpoints endpoints"></td>
    <td class="c-trigger"><button type="button" class="btn trigger" data-action="trigger" title="trigger an update">↻</button></td>
    <td class="c-mode"><button type="button" class="btn btn-small mode" data-action="mode"></button></td>
    <td class="c-enable"><button type="button" class="btn btn-small enable" data-action="enable"></button></td>`;
  tr.querySelector(".name").textContent = name;
  tr.addEventListener("click", (ev) => {
    if (ev.target.closest("button, a")) return;
    select(name);
  });
  tr.querySelector('[data-action="trigger"]').addEventListener("click", () => trigger(name));
  tr.querySelector('[data-action="mode"]').addEventListener("click", () => {
    const r = state.resources.get(name);
    post("/api/trigger_mode", {name, mode: r.triggerMode === "manual" ? "auto" : "manual"}, name);
  });
  tr.querySelector('[data-action="enable"]').addEventListener("click", () => {
    const r = state.resources.get(name);
    post(r.enabled ? "/api/disable" : "/api/enable", {names: [name]}, name);
  });
  return tr;
}

function updateRow(row, r) {
  const json = JSON.stringify(r) + (state.selected === r.name) + state.busy.has(r.name) + !!state.token;
  if (row.json === json) return;
  row.json = json;
  const tr = row.tr;
  const [cls, text] = statusOf(r);
  tr.className = `res st-${cls}` + (state.selected === r.name ? " selected" : "");
  tr.dataset.status = cls;
  tr.dataset.update = r.updateStatus;
  tr.dataset.runtime = r.runtimeStatus;
  tr.dataset.builds = String((r.buildHistory || []).length);
  tr.dataset.enabled = String(!!r.enabled);
  tr.dataset.mode = r.triggerMode;
  tr.querySelector(".type").textContent = r.type;
  tr.querySelector(".labels").innerHTML = (r.labels || []).map((l) => `<span class="label">${esc(l)}</span>`).join("");
  tr.querySelector(".reason").textContent = r.waitingReason || "";
  const err = r.updateError || r.runtimeError || "";
  tr.querySelector(".err").textContent = r.type === "tiltfile" && err ? "see the error above" : err;
  tr.querySelector(".err").title = err;

  const u = tr.querySelector(".ustatus");
  const ub = tr.querySelector(".ubuild");
  const history = r.buildHistory || [];
  if (r.currentBuild) {
    u.innerHTML = `<span class="s-building">${r.currentBuild.kind === "live-update" ? "live updating" : "building"}</span>`;
    ub.innerHTML = `${esc(r.currentBuild.reason || "")} · <span data-since="${r.currentBuild.startTime}"></span>`;
  } else if (history.length) {
    const b = history[0];
    u.innerHTML = b.error ? `<span class="s-error">failed</span>` : `<span class="s-ok">${b.kind === "live-update" ? "live updated" : "updated"}</span>`;
    ub.innerHTML = `${esc(fmtDuration(b.durationSecs))} · <span data-ago="${b.finishTime}">${esc(fmtAgo(b.finishTime))}</span>` +
      ` · ${history.length} build${history.length > 1 ? "s" : ""}`;
    ub.title = history.map((h) => `${fmtClock(h.startTime)} ${h.kind} ${fmtDuration(h.durationSecs)} ${h.reason}${h.error ? " — " + h.error : ""}`).join("\n");
  } else {
    u.innerHTML = `<span class="s-${cls}">${esc(r.type === "tiltfile" ? text : (r.updateStatus === "none" ? "not started" : r.updateStatus))}</span>`;
    ub.textContent = "";
  }
  const rt = tr.querySelector(".rstatus");
  const rcls = {ok: "ok", error: "error", pending: "pending", disabled: "disabled"}[r.runtimeStatus] || "idle";
  rt.innerHTML = r.runtimeStatus === "not_applicable" ? `<span class="s-idle">—</span>` : `<span class="s-${rcls}">${esc(r.runtimeStatus)}</span>`;
  tr.querySelector(".pod").textContent = r.pod && r.pod.name ? r.pod.name : "";
  tr.querySelector(".podsub").textContent = r.pod && r.pod.name ? `${r.pod.phase || ""}${r.pod.restarts ? ` · ${r.pod.restarts} restarts` : ""}` : "";
  tr.querySelector(".endpoints").innerHTML = (r.endpoints || []).map((e) =>
    `<a href="${esc(e.url)}" target="_blank" rel="noopener">${esc(e.name || e.url)}</a>`).join("");

  const trig = tr.querySelector('[data-action="trigger"]');
  const waitingForTrigger = r.triggerMode === "manual" && (r.pendingFiles || []).length > 0;
  trig.disabled = !r.enabled || !state.token;
  trig.classList.toggle("pending-changes", waitingForTrigger || r.updateStatus === "none");
  trig.classList.toggle("busy", state.busy.has(r.name));
  trig.title = !state.token ? "actions need the dashboard on localhost" :
    waitingForTrigger ? `apply ${r.pendingFiles.length} changed file(s)` : (r.type === "tiltfile" ? "reload the Tiltfile" : "trigger an update");
  const mode = tr.querySelector('[data-action="mode"]');
  mode.textContent = r.triggerMode;
  mode.classList.toggle("manual", r.triggerMode === "manual");
  mode.title = r.triggerMode === "manual" ? "changed files wait for a trigger (click: auto)" : "changed files update at once (click: manual)";
  mode.disabled = !state.token;
  mode.hidden = r.type === "tiltfile";
  const en = tr.querySelector('[data-action="enable"]');
  en.textContent = r.enabled ? "disable" : "enable";
  en.disabled = !state.token;
  en.hidden = r.type === "tiltfile";
}

function renderSummary() {
  const counts = {ok: 0, error: 0, pending: 0, building: 0};
  for (const r of state.resources.values()) {
    if (r.type === "tiltfile") continue;
    const [cls] = statusOf(r);
    if (cls in counts) counts[cls]++;
  }
  $("summary").innerHTML = Object.entries(counts).filter(([, n]) => n)
    .map(([k, n]) => `<span class="n-${k}">${n} ${k === "ok" ? "ready" : k}</span>`).join("");
  document.title = counts.error ? `tiltpy (${counts.error} error${counts.error > 1 ? "s" : ""})` : "tiltpy";
}

function renderSession() {
  const s = state.session;
  $("version").textContent = s.version ? `v${s.version}` : "";
  $("tiltfile-path").textContent = s.tiltfile || "";
  $("tiltfile-path").title = s.tiltfile || "";
  const err = s.tiltfileError || "";
  $("tiltfile-error").hidden = !err;
  $("tiltfile-error-text").textContent = err;
  const warnings = s.warnings || [];
  $("warnings").hidden = !warnings.length;
  $("warnings").textContent = warnings.map((w) => "WARNING: " + w).join("\n");
  const input = $("args-input");
  if (document.activeElement !== input) input.value = (s.tiltfileArgs || []).map(shellQuote).join(" ");
}

// ---------------------------------------------------------------- logs

function addLines(lines, skipped) {
  if (skipped) {
    const marker = {marker: true, resource: "", text: `… ${skipped} lines not shown here (log flood; \`tiltpy logs\` reads what is kept)`, seq: lines.length ? lines[0].seq - 0.5 : 0};
    pushLine(state.logsAll, marker, MAX_LINES_ALL);
    appendRendered([marker]);
  }
  const shown = [];
  for (const line of lines) {
    const last = state.lastN.get(line.resource) || 0;
    let arr = state.logsBy.get(line.resource);
    if (!arr) { arr = []; state.logsBy.set(line.resource, arr); }
    if (last && line.n > last + 1) {
      const gap = {marker: true, resource: line.resource, text: `… ${line.n - last - 1} lines skipped`, seq: line.seq - 0.5};
      pushLine(arr, gap, MAX_LINES_PER_RESOURCE);
      if (state.selected === line.resource) shown.push(gap);
    }
    if (line.n <= last) continue; // already have it
    state.lastN.set(line.resource, line.n);
    pushLine(arr, line, MAX_LINES_PER_RESOURCE);
    pushLine(state.logsAll, line, MAX_LINES_ALL);
    if (!state.selected || state.selected === line.resource) shown.push(line);
  }
  appendRendered(shown);
}

function pushLine(arr, line, max) {
  arr.push(line);
  if (arr.length > max * 1.2) arr.splice(0, arr.length - max);
}

function filters() {
  return {
    source: $("filter-source").value,
    level: $("filter-level").value,
    text: $("filter-text").value.toLowerCase(),
  };
}

function matches(line, f) {
  if (line.marker) return !f.text && !f.level;
  if (f.source && line.source !== f.source) return false;
  if (f.level === "error" && line.level !== "error") return false;
  if (f.level === "warn" && line.level === "info") return false;
  if (f.text && !line.text.toLowerCase().includes(f.text) && !line.resource.toLowerCase().includes(f.text)) return false;
  return true;
}

function lineHtml(line, showRes) {
  if (line.marker) return `<div class="line marker">${esc(line.text)}</div>`;
  const res = showRes ? `<span class="res" title="${esc(line.resource)}">${esc(line.resource)}</span>` : "";
  const src = line.source === "runtime" ? "" : `<span class="src">${line.source === "build" ? "▪" : "·"}</span>`;
  return `<div class="line lvl-${line.level}" data-seq="${line.seq}" data-resource="${esc(line.resource)}">${res}${src}${esc(line.text)}</div>`;
}

let pendingRender = [];
let renderScheduled = false;

function appendRendered(lines) {
  if (!lines.length) return;
  pendingRender.push(...lines);
  if (!renderScheduled) {
    renderScheduled = true;
    requestAnimationFrame(flushRendered);
  }
}

function flushRendered() {
  renderScheduled = false;
  const f = filters();
  const showRes = !state.selected;
  let lines = pendingRender.filter((l) => matches(l, f));
  pendingRender = [];
  if (!lines.length) return;
  if (lines.length > MAX_RENDERED) lines = lines.slice(-MAX_RENDERED);
  const box = $("logs");
  const empty = box.querySelector(".empty");
  if (empty) empty.remove();
  box.insertAdjacentHTML("beforeend", lines.map((l) => lineHtml(l, showRes)).join(""));
  let extra = box.childElementCount - MAX_RENDERED;
  while (extra-- > 0) box.firstChild.remove();
  if ($("follow").checked) box.scrollTop = box.scrollHeight;
}

function renderLogs() {
  pendingRender = [];
  const f = filters();
  const source = state.selected ? (state.logsBy.get(state.selected) || []) : state.logsAll;
  const picked = [];
  for (let i = source.length - 1; i >= 0 && picked.length < MAX_RENDERED; i--) {
    if (matches(source[i], f)) picked.push(source[i]);
  }
  picked.reverse();
  const box = $("logs");
  const showRes = !state.selected;
  box.innerHTML = picked.length ? picked.map((l) => lineHtml(l, showRes)).join("") :
    `<div class="empty">${source.length ? "No lines match the filters." : "No logs yet."}</div>`;
  if ($("follow").checked) box.scrollTop = box.scrollHeight;
  $("log-title").textContent = state.selected || "All resources";
  $("log-all").hidden = !state.selected;
}

async function select(name) {
  state.selected = state.selected === name ? "" : name;
  localStorage.setItem("tiltpy.selected", state.selected);
  $("follow").checked = true;
  renderTable();
  renderLogs();
  if (state.selected) await backfill(state.selected);
}

async function backfill(name) {
  // The page keeps only what arrived while it was open: fetch the kept history.
  try {
    const resp = await fetch(`/api/logs?resource=${encodeURIComponent(name)}&tail=${MAX_LINES_PER_RESOURCE}`);
    if (!resp.ok) return;
    const data = await resp.json();
    const have = state.logsBy.get(name) || [];
    const firstHave = have.length ? have.find((l) => !l.marker)?.seq ?? Infinity : Infinity;
    const older = data.lines.filter((l) => l.seq < firstHave);
    if (!older.length) return;
    const merged = older.concat(have.filter((l) => l.marker || l.seq > older[older.length - 1].seq));
    state.logsBy.set(name, merged.slice(-MAX_LINES_PER_RESOURCE));
    const lastLine = data.lines[data.lines.length - 1];
    if (lastLine && (state.lastN.get(name) || 0) < lastLine.n) state.lastN.set(name, lastLine.n);
    if (state.selected === name) renderLogs();
  } catch (e) { /* keep what we have */ }
}

// ---------------------------------------------------------------- actions

async function getToken() {
  try {
    const resp = await fetch("/api/token", {cache: "no-store"});
    if (resp.ok) state.token = (await resp.json()).token;
  } catch (e) { state.token = null; }
}

function showActionError(message) {
  const box = $("action-error");
  box.textContent = message;
  box.hidden = !message;
  if (message) setTimeout(() => { if (box.textContent === message) box.hidden = true; }, 8000);
}

async function post(path, body, name) {
  if (!state.token) await getToken();
  if (name) { state.busy.add(name); renderTable(); }
  try {
    let resp = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json", "X-Tiltpy-Token": state.token || ""}, body: JSON.stringify(body)});
    if (resp.status === 403) { // a restarted `up` has a new token
      await getToken();
      resp = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json", "X-Tiltpy-Token": state.token || ""}, body: JSON.stringify(body)});
    }
    if (!resp.ok) {
      let msg = `${resp.status}`;
      try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
      showActionError(`${path.replace("/api/", "")}: ${msg}`);
    } else {
      showActionError("");
    }
  } catch (e) {
    showActionError(`${path}: ${e}`);
  } finally {
    if (name) { state.busy.delete(name); renderTable(); }
  }
}

function trigger(name) {
  return post("/api/trigger", {name}, name);
}

function shellQuote(s) {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

function shellSplit(text) {
  const out = [];
  let cur = null, quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === "'" || c === '"') { quote = c; cur = cur ?? ""; }
    else if (/\s/.test(c)) { if (cur !== null) { out.push(cur); cur = null; } }
    else if (c === "\\" && i + 1 < text.length) { cur = (cur ?? "") + text[++i]; }
    else cur = (cur ?? "") + c;
  }
  if (cur !== null) out.push(cur);
  return out;
}

// ---------------------------------------------------------------- websocket

let retryDelay = 500;

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws`);
  const conn = $("conn");
  ws.onopen = () => {
    retryDelay = 500;
    conn.textContent = "live";
    conn.className = "conn conn-live";
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "snapshot") {
      state.resources.clear();
      state.logsAll = [];
      state.logsBy.clear();
      state.lastN.clear();
    }
    if (msg.session) { state.session = msg.session; renderSession(); }
    for (const r of msg.resources || []) state.resources.set(r.name, r);
    for (const n of msg.removed || []) state.resources.delete(n);
    if (msg.order) state.order = msg.order;
    if (msg.resources || msg.removed || msg.order) { renderTable(); renderSummary(); }
    if (msg.type === "snapshot") {
      addLines(msg.logs || [], 0);
      renderLogs();
      if (state.selected) backfill(state.selected);
    } else if (msg.logs) {
      addLines(msg.logs, msg.skipped || 0);
    }
    document.body.dataset.ready = "true";
  };
  ws.onclose = () => {
    conn.textContent = "disconnected — reconnecting…";
    conn.className = "conn conn-lost";
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 5000);
  };
  ws.onerror = () => ws.close();
}

// ---------------------------------------------------------------- wiring

function tick() {
  for (const el of document.querySelectorAll("[data-since]")) {
    el.textContent = fmtDuration(Math.max(0, Date.now() / 1000 - Number(el.dataset.since)));
  }
  for (const el of document.querySelectorAll("[data-ago]")) el.textContent = fmtAgo(Number(el.dataset.ago));
}

function initSplitter() {
  const split = $("splitter");
  const pane = $("resources-pane");
  const saved = localStorage.getItem("tiltpy.split");
  if (saved) { pane.style.height = saved; pane.style.maxHeight = "none"; }
  split.addEventListener("mousedown", (ev) => {
    ev.preventDefault();
    const startY = ev.clientY, startH = pane.getBoundingClientRect().height;
    pane.style.maxHeight = "none";
    const move = (e) => { pane.style.height = `${Math.max(80, startH + e.clientY - startY)}px`; };
    const up = () => {
      document.removeEventListener("mousemove", move);
      document.removeEventListener("mouseup", up);
      localStorage.setItem("tiltpy.split", pane.style.height);
    };
    document.addEventListener("mousemove", move);
    document.addEventListener("mouseup", up);
  });
}

function init() {
  for (const id of ["filter-source", "filter-level"]) $(id).addEventListener("change", renderLogs);
  let textTimer = null;
  $("filter-text").addEventListener("input", () => { clearTimeout(textTimer); textTimer = setTimeout(renderLogs, 150); });
  $("log-all").addEventListener("click", () => select(state.selected));
  $("logs").addEventListener("scroll", () => {
    const box = $("logs");
    $("follow").checked = box.scrollHeight - box.scrollTop - box.clientHeight < 30;
  });
  $("follow").addEventListener("change", () => { if ($("follow").checked) $("logs").scrollTop = $("logs").scrollHeight; });
  const applyArgs = () => post("/api/tiltfile_args", {args: shellSplit($("args-input").value)}, null);
  $("args-apply").addEventListener("click", applyArgs);
  $("args-input").addEventListener("keydown", (ev) => { if (ev.key === "Enter") applyArgs(); });
  initSplitter();
  setInterval(tick, 1000);
  getToken().then(() => { renderTable(); $("args-apply").disabled = !state.token; });
  connect();
}

init();
