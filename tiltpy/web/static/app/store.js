// The page's state: what the server's websocket says (session, resources,
// UI buttons, logs), the connection, the token for actions, and the user's
// own choices (stars, collapsed groups, selection). Views subscribe and are
// re-rendered at most once per frame.
import { LogStore } from "./logstore.js";
import { load, save, TILTFILE } from "./util.js";

const HISTORY_LINES = 20000; // fetched over HTTP on connect, beyond the snapshot

class Store {
  constructor() {
    this.session = {};
    this.resources = new Map();
    this.order = [];
    this.uiButtons = [];
    this.logs = new LogStore();
    this.connected = false;
    this.everConnected = false;
    this.token = null;
    this.starred = new Set(load("starred", []));
    this.collapsed = new Set(load("collapsed", []));
    this.selected = new Set(); // checkboxes in the table
    this.pending = new Set(); // "action:name" in flight
    this.toasts = [];
    this.helpOpen = false;
    this.listeners = new Set();
    this.frame = 0;
    this.version = 0;
    this.retryDelay = 500;
    this.ws = null;
    this.startTime = null;
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed() {
    this.version++;
    if (this.frame) return;
    // One render per frame however many messages; a timer too, as frames
    // stop in background tabs and the state must still be current on return.
    const run = () => {
      cancelAnimationFrame(this.frame);
      clearTimeout(this.timer);
      this.frame = 0;
      for (const fn of this.listeners) fn(this.version);
    };
    this.frame = requestAnimationFrame(run);
    this.timer = setTimeout(run, 250);
  }

  list() {
    return this.order.map((n) => this.resources.get(n)).filter(Boolean);
  }

  // -- connection ---------------------------------------------------------
  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws`);
    this.ws = ws;
    ws.onmessage = (ev) => this._onMessage(JSON.parse(ev.data));
    ws.onopen = () => {
      this.retryDelay = 500;
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      const was = this.connected;
      this.connected = false;
      if (was) this.changed();
      setTimeout(() => this.connect(), this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, 4000);
    };
    ws.onerror = () => ws.close();
  }

  _onMessage(msg) {
    if (msg.type === "snapshot") {
      const restarted = this.startTime !== null && msg.session && msg.session.startTime !== this.startTime;
      this.resources.clear();
      const cleared = this.logs.cleared;
      this.logs.reset();
      if (!restarted) this.logs.cleared = cleared; // same `up`: cleared logs stay cleared
      if (restarted) this.token = null; // a new `up`: a new token
      this.connected = true;
      this.everConnected = true;
      if (!this.token) this.fetchToken();
    }
    if (msg.session) {
      this.session = msg.session;
      this.startTime = msg.session.startTime;
    }
    for (const r of msg.resources || []) this.resources.set(r.name, r);
    for (const n of msg.removed || []) this.resources.delete(n);
    if (msg.order) this.order = msg.order;
    if (msg.uiButtons) this.uiButtons = msg.uiButtons;
    if (msg.logs) this.logs.append(msg.logs, msg.skipped || 0);
    if (msg.type === "snapshot") this.fetchHistory(null);
    this.changed();
  }

  // Older lines than the snapshot's, for one resource (or all).
  async fetchHistory(name) {
    const first = this.logs.firstSeqOf(name);
    const q = new URLSearchParams({ tail: String(HISTORY_LINES) });
    if (name) q.set("resource", name);
    try {
      const resp = await fetch(`/api/logs?${q}`);
      if (!resp.ok) return;
      const data = await resp.json();
      const older = data.lines.filter((l) => l.seq < first);
      if (older.length && this.logs.prepend(older)) this.changed();
    } catch (e) { /* keep what we have */ }
  }

  async fetchToken() {
    try {
      const resp = await fetch("/api/token", { cache: "no-store" });
      this.token = resp.ok ? (await resp.json()).token : null;
      this.tokenRefused = resp.status === 403; // not localhost: read-only, don't ask again
    } catch (e) {
      this.token = null;
      // A network hiccup: ask again while the connection is up.
      setTimeout(() => { if (this.connected && !this.token) this.fetchToken(); }, 1000);
    }
    this.changed();
  }

  get canAct() {
    return this.connected && !!this.token;
  }

  // -- actions --------------------------------------------------------------
  async post(path, body, key = "") {
    if (!this.connected) {
      this.toast("Not connected to tiltpy: actions are off until it is back", "error");
      return false;
    }
    if (key) {
      this.pending.add(key);
      this.changed();
    }
    try {
      if (!this.token) await this.fetchToken();
      const send = () => fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Tiltpy-Token": this.token || "" },
        body: JSON.stringify(body),
      });
      let resp = await send();
      if (resp.status === 403) { // `up` restarted: a new token
        await this.fetchToken();
        resp = await send();
      }
      if (!resp.ok) {
        let message = `HTTP ${resp.status}`;
        try {
          message = (await resp.json()).error || message;
        } catch (e) { /* not JSON */ }
        this.toast(message, "error");
        return false;
      }
      return true;
    } catch (e) {
      this.toast(`${path}: ${e.message || e}`, "error");
      return false;
    } finally {
      if (key) {
        this.pending.delete(key);
        this.changed();
      }
    }
  }

  trigger(name) {
    const r = this.resources.get(name);
    if (!r) return;
    return this.post("/api/trigger", { name }, `trigger:${name}`);
  }

  setTriggerMode(name, mode) {
    return this.post("/api/trigger_mode", { name, mode }, `mode:${name}`);
  }

  async setEnabled(names, enabled) {
    const ok = await this.post(enabled ? "/api/enable" : "/api/disable", { names }, `enable:${names.join(",")}`);
    if (ok) this.toast(`${enabled ? "Enabled" : "Disabled"} ${names.length === 1 ? names[0] : `${names.length} resources`}`);
    return ok;
  }

  setTiltfileArgs(args) {
    return this.post("/api/tiltfile_args", { args }, "args");
  }

  clickButton(name, inputs) {
    return this.post("/api/uibutton", { name, inputs }, `button:${name}`);
  }

  // -- the user's choices -----------------------------------------------------
  toggleStar(name) {
    if (this.starred.has(name)) this.starred.delete(name); else this.starred.add(name);
    save("starred", [...this.starred]);
    this.changed();
  }

  toggleCollapsed(group) {
    if (this.collapsed.has(group)) this.collapsed.delete(group); else this.collapsed.add(group);
    save("collapsed", [...this.collapsed]);
    this.changed();
  }

  setCollapsedAll(groups, collapsed) {
    for (const g of groups) {
      if (collapsed) this.collapsed.add(g); else this.collapsed.delete(g);
    }
    save("collapsed", [...this.collapsed]);
    this.changed();
  }

  toggleSelected(...names) {
    const all = names.every((n) => this.selected.has(n));
    for (const n of names) {
      if (all) this.selected.delete(n); else this.selected.add(n);
    }
    this.changed();
  }

  clearSelection() {
    this.selected.clear();
    this.changed();
  }

  clearLogs(names) {
    this.logs.clear(names);
    this.toast(names ? `Cleared the logs of ${names.length === 1 ? names[0] : `${names.length} resources`}` : "Cleared all logs");
    this.changed();
  }

  toast(text, kind = "info", link = null) {
    const id = Math.random().toString(36).slice(2);
    this.toasts = [...this.toasts.slice(-4), { id, text, kind, link }];
    this.changed();
    setTimeout(() => this.dismiss(id), kind === "error" ? 10000 : 5000);
  }

  dismiss(id) {
    const before = this.toasts.length;
    this.toasts = this.toasts.filter((t) => t.id !== id);
    if (this.toasts.length !== before) this.changed();
  }

  isTiltfile(name) {
    return name === TILTFILE;
  }
}

export const store = new Store();
