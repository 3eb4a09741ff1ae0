// The log pane: filters (level with counts and context, source, text or
// /regex/), timestamps, line wrap, clear, copy; rendered by VirtualList.
import { html, useState, useEffect, useRef } from "./html.js";
import { Icon } from "./icons.js";
import { store } from "./store.js";
import { FilteredView, lineHtml, parseTerm, plainText } from "./logstore.js";
import { VirtualList } from "./virtual.js";
import { navigate, navigateTyping, withParams } from "./router.js";
import { copyText, escapeHtml, fmtClock, load, save } from "./util.js";

export const paneHandle = { current: null }; // the shown pane's actions, for keyboard shortcuts

function rowRenderer(opts) {
  return (item) => {
    if (item.probe) {
      return `<div class="ll">${opts.ts ? '<span class="ts">00:00:00.000</span>' : ""}${opts.prefix ? '<span class="lp">x</span>' : ""}<span class="lt">x</span></div>`;
    }
    if (item.sep) return `<div class="ll sep"><span class="lt">⋯</span></div>`;
    const l = item.line;
    let cls = `ll lvl-${l.level} src-${l.source}`;
    if (item.ctx) cls += " ctx";
    if (l.buildEvent === "init") cls += " hdr";
    if (l.marker) cls += " marker";
    let out = `<div class="${cls}" data-seq="${l.seq}">`;
    if (opts.ts) out += `<span class="ts">${fmtClock(l.time, true)}</span>`;
    if (opts.prefix) out += `<span class="lp" title="${escapeHtml(l.resource)}">${escapeHtml(l.resource)}</span>`;
    return `${out}<span class="lt">${lineHtml(l)}</span></div>`;
  };
}

export function LogPane({ scope, names, showPrefix, clearNames, params }) {
  const level = params.get("level") || "";
  const source = params.get("source") || "";
  const termInput = params.get("term") || "";
  const context = Math.max(0, Math.min(20, Number(params.get("context") ?? 2) || 0));
  const term = parseTerm(termInput);
  const [ts, setTs] = useState(() => load("timestamps", false));
  const [wrap, setWrap] = useState(() => load("wrap", true));
  const [following, setFollowing] = useState(true);
  const [typed, setTyped] = useState(termInput);
  const scroller = useRef(null);
  const list = useRef(null);
  const view = useRef(null);
  const input = useRef(null);
  const typingTimer = useRef(0);
  const opts = useRef({ ts, prefix: showPrefix });

  const key = JSON.stringify([scope, names ? [...names].sort() : null, level, source, term.error ? "" : termInput, context]);
  if (!view.current || view.current.key !== key) {
    view.current = new FilteredView(store.logs, { names, source, level, term: term.re, context });
    view.current.key = key;
    view.current.fresh = true;
  }
  const fv = view.current;
  const change = fv.update();

  useEffect(() => {
    list.current = new VirtualList(scroller.current, rowRenderer(opts.current), setFollowing);
    return () => list.current.destroy();
  }, []);
  useEffect(() => { setTyped(termInput); }, [scope, termInput]);
  useEffect(() => {
    opts.current.ts = ts;
    opts.current.prefix = showPrefix;
    list.current.renderRow = rowRenderer(opts.current);
    list.current.refresh();
  }, [ts, showPrefix]);
  useEffect(() => list.current.setWrap(wrap), [wrap]);
  useEffect(() => {
    list.current.setItems(fv.items, fv.fresh ? "reset" : change);
    fv.fresh = false;
  });

  const setTerm = (value) => {
    setTyped(value);
    clearTimeout(typingTimer.current);
    typingTimer.current = setTimeout(() => navigateTyping(withParams({ term: value })), 200);
  };
  const clear = () => store.clearLogs(clearNames);
  const copy = async () => {
    const text = fv.items.filter((i) => i.line).map((i) => {
      const l = i.line;
      return `${ts ? fmtClock(l.time, true) + " " : ""}${showPrefix && l.resource ? l.resource + " │ " : ""}${plainText(l)}`;
    }).join("\n");
    try {
      await copyText(text);
      store.toast(`Copied ${fv.items.filter((i) => i.line).length} lines`);
    } catch (err) {
      store.toast(`Copy failed: ${err.message || err}`, "error");
    }
  };
  paneHandle.current = { clear, copy, focusFilter: () => input.current && input.current.focus(), view: fv,
    get list() { return list.current; } };

  const levelButton = (value, label) => html`<button type="button" data-level=${value || "all"}
      class=${`seg ${level === value ? "on" : ""}`} aria-pressed=${level === value ? "true" : "false"}
      onClick=${() => navigate(withParams({ level: value }))}>${label}</button>`;
  const shown = fv.items.length;
  return html`<section class="log-pane" aria-label="Logs">
    <div class="log-toolbar">
      <span class="segs" role="group" aria-label="Log level">
        ${levelButton("", "All levels")}
        ${levelButton("warn", html`Warnings <span class="count" data-count="warn">${fv.counts.warn}</span>`)}
        ${levelButton("error", html`Errors <span class="count" data-count="error">${fv.counts.error}</span>`)}
      </span>
      ${level ? html`<label class="ctx-select" title="lines of context around each hit">context
        <select value=${String(context)} onChange=${(e) => navigate(withParams({ context: e.target.value === "2" ? "" : e.target.value }))}>
          ${[0, 2, 5, 10].map((n) => html`<option value=${String(n)}>${n}</option>`)}</select></label>` : null}
      <select class="source-select" aria-label="Log source" value=${source}
        onChange=${(e) => navigate(withParams({ source: e.target.value }))}>
        <option value="">All sources</option><option value="build">Build</option><option value="runtime">Runtime</option>
      </select>
      <span class=${`term ${term.error ? "has-error" : ""}`}>
        <input ref=${input} type="search" class="term-input" placeholder="Filter logs (text or /regex/)" spellcheck="false"
          aria-label="Filter logs by text or /regex/" value=${typed} onInput=${(e) => setTerm(e.target.value)}
          onKeyDown=${(e) => { if (e.key === "Escape") { e.target.blur(); } }} />
        ${term.error ? html`<span class="term-error" role="alert">${term.error}</span>` : null}
      </span>
      <span class="spacer"></span>
      <span class="muted line-count">${shown.toLocaleString()} line${shown === 1 ? "" : "s"}</span>
      <label class="toggle"><input type="checkbox" checked=${ts} data-option="timestamps"
        onChange=${(e) => { setTs(e.target.checked); save("timestamps", e.target.checked); }} /> timestamps</label>
      <label class="toggle"><input type="checkbox" checked=${wrap} data-option="wrap"
        onChange=${(e) => { setWrap(e.target.checked); save("wrap", e.target.checked); }} /> wrap</label>
      <button type="button" class="btn btn-small" data-action="copy-logs" onClick=${copy}
        title="Copy the lines shown"><${Icon} name="copy" size=${12} /> Copy</button>
      <button type="button" class="btn btn-small" data-action="clear-logs" onClick=${clear}
        title="Clear these logs (x)">${clearNames ? "Clear logs" : "Clear all logs"}</button>
    </div>
    <div class=${`log-scroller ${wrap ? "wrap-on" : "wrap-off"} ${showPrefix ? "with-prefix" : ""}`} ref=${scroller}
      role="log" aria-live="off" tabindex="0" data-lines=${shown}></div>
    ${shown === 0 ? html`<div class="log-empty">${fv.processed && (level || source || termInput) ? "No lines match the filters." : "No logs yet."}</div>` : null}
    ${!following ? html`<button type="button" class="btn jump" onClick=${() => list.current.scrollToBottom()}>↓ Latest</button>` : null}
  </section>`;
}
