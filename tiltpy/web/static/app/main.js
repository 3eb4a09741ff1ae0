// The dashboard: header (status summary, global UI buttons, help), the
// table or a resource's page by URL, the disconnected overlay, keyboard
// shortcuts, toasts, and the title and favicon showing the worst status.
import { html, render, useEffect, useState } from "./html.js";
import { Icon } from "./icons.js";
import { store } from "./store.js";
import { navigate, onNavigate, parseLocation } from "./router.js";
import { OverviewTable, tableHandle } from "./table.js";
import { ResourcePage, sidebarHandle } from "./resource.js";
import { paneHandle } from "./logpane.js";
import { ApiButton, buttonsFor, requestTrigger } from "./buttons.js";
import { rowOf } from "./resources.js";
import { statusCounts, titleAndColor } from "./status.js";
import { ALL, isEditable, resourcePath } from "./util.js";

function link(href, label, cls = "") {
  return html`<a class=${cls} href=${href} onClick=${(e) => { if (!e.ctrlKey && !e.metaKey && e.button === 0) { e.preventDefault(); navigate(href); } }}>${label}</a>`;
}

// The header's summary counts every resource, the Tiltfile too; errors and
// warnings link to the table showing only those resources.
function Summary({ counts }) {
  return html`<span class="summary" aria-label="Resource status summary">
    ${counts.error ? link("/overview?status=error", html`<${Icon} name="error" size=${13} /><b>${counts.error}</b> err`, "sum-error") : null}
    ${counts.warning ? link("/overview?status=warning", html`<${Icon} name="warning" size=${13} /><b>${counts.warning}</b> warn`, "sum-warning") : null}
    ${counts.pending ? link("/overview?status=pending", html`<${Icon} name="pending" size=${13} /><b>${counts.pending}</b> pending`, "sum-pending") : null}
    <span class="sum-healthy" title="healthy"><${Icon} name="ok" size=${13} /><b>${counts.healthy}</b>/<b>${counts.total}</b></span>
    ${counts.disabled ? link("/overview?status=disabled", html`<${Icon} name="disabled" size=${13} /><b>${counts.disabled}</b> disabled`, "sum-disabled") : null}
  </span>`;
}

function Header({ route, counts }) {
  const s = store.session;
  return html`<header class="topbar">
    ${link("/overview", "tiltpy", "brand")}
    <nav class="views" aria-label="Views">
      ${link("/overview", html`<${Icon} name="table" size=${14} /> Table`, route.view === "table" ? "on" : "")}
      ${link(resourcePath(ALL), html`<${Icon} name="detail" size=${14} /> Detail`, route.view === "resource" ? "on" : "")}
    </nav>
    <${Summary} counts=${counts} />
    <span class="spacer"></span>
    <span class="global-buttons">${buttonsFor("Global", "nav").map((b) => html`<${ApiButton} key=${b.metadata.name} button=${b} />`)}</span>
    <span class="muted version" title=${s.tiltfile || ""}>${s.version ? `v${s.version}` : ""}</span>
    <span class=${`conn ${store.connected ? "live" : "lost"}`} data-connected=${store.connected ? "true" : "false"}>
      ${store.connected ? "live" : "disconnected"}</span>
    <button type="button" class="btn-icon help" aria-label="Keyboard shortcuts (?)" title="Keyboard shortcuts (?)"
      onClick=${() => { store.helpOpen = !store.helpOpen; store.changed(); }}><${Icon} name="help" size=${18} /></button>
  </header>`;
}

function Banners() {
  const s = store.session;
  const warnings = s.warnings || [];
  return html`${s.tiltfileError ? html`<div class="banner banner-error" role="alert">
      <div class="banner-title">Tiltfile error — resources keep running as they were; fix the Tiltfile and save</div>
      <pre>${s.tiltfileError}</pre></div>` : null}
    ${warnings.length ? html`<div class="banner banner-warn">${warnings.map((w) => html`<div>${w}</div>`)}</div>` : null}`;
}

function Toasts() {
  return html`<div class="toasts" aria-live="polite">${store.toasts.map((t) => html`<div class=${`toast toast-${t.kind}`} key=${t.id}
      role=${t.kind === "error" ? "alert" : "status"}>
    <span>${t.text}</span>${t.link ? link(t.link.href, t.link.text, "toast-link") : null}
    <button type="button" class="btn-icon" aria-label="Dismiss" onClick=${() => store.dismiss(t.id)}><${Icon} name="close" size=${12} /></button>
  </div>`)}</div>`;
}

const SHORTCUTS = [
  ["j / k", "next / previous resource (table: move the focus; detail: open it)"],
  ["r", "trigger an update of the focused or shown resource"],
  ["x", "table: select the focused row · detail: clear the logs"],
  ["Ctrl/⌘ + Backspace", "clear the logs"],
  ["/", "filter: logs on a resource's page, resource names in the table"],
  ["Enter", "table: open the focused resource"],
  ["Shift + 1 … 9", "open the resource's endpoint 1 … 9"],
  ["?", "this help"],
  ["Esc", "close this help, leave a filter field"],
];

function Help() {
  if (!store.helpOpen) return null;
  const close = () => { store.helpOpen = false; store.changed(); };
  return html`<div class="modal-back" onClick=${close}>
    <div class="modal help-dialog" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" onClick=${(e) => e.stopPropagation()}>
      <div class="modal-head"><h2>Keyboard shortcuts</h2>
        <button type="button" class="btn-icon" aria-label="Close" onClick=${close}><${Icon} name="close" size=${16} /></button></div>
      <table class="shortcuts">${SHORTCUTS.map(([k, d]) => html`<tr><td>${k.split(" ").map((p) => ["/", "+", "…", "·"].includes(p) && k !== "/" ? ` ${p} ` : html`<kbd>${p}</kbd>`)}</td><td>${d}</td></tr>`)}</table>
      <p class="muted">Every view and filter is in the page's address: bookmark it, share it, use Back.</p>
    </div></div>`;
}

function Overlay() {
  if (store.connected) return null;
  return html`<div class="overlay" role="alertdialog" aria-label="Disconnected" data-overlay="disconnected">
    <div class="overlay-box"><div class="overlay-title">${store.everConnected ? "Disconnected from tiltpy" : "Connecting to tiltpy…"}</div>
      <div>${store.everConnected ? "`tiltpy up` stopped or can't be reached. What you see may be out of date, and actions are off until the connection is back. Reconnecting…" : "Waiting for `tiltpy up`."}</div></div></div>`;
}

function favicon(color) {
  const fill = { green: "#20ba31", red: "#f6685c", yellow: "#fcb41e", gray: "#8ba2ad" }[color];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="${fill}"/></svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

function App() {
  const [, setVersion] = useState(0);
  const [route, setRoute] = useState(parseLocation());
  useEffect(() => {
    const unsubscribe = store.subscribe(setVersion);
    if (!store.ws) store.connect(); // after subscribing: no message goes unnoticed
    return unsubscribe;
  }, []);
  useEffect(() => onNavigate((r) => { setRoute(r); }), []);
  const rows = store.list().map(rowOf);
  const counts = statusCounts(rows.map((x) => x.status));
  const { title, color } = titleAndColor(counts, store.connected);
  useEffect(() => {
    document.title = title;
    const icon = document.getElementById("favicon");
    if (icon && icon.dataset.color !== color) {
      icon.href = favicon(color);
      icon.dataset.color = color;
    }
    document.body.dataset.worst = color;
  }, [title, color]);
  useEffect(() => {
    document.getElementById("app").dataset.ready = store.everConnected ? "true" : "false";
  });
  const page = route.view === "resource"
    ? html`<${ResourcePage} name=${route.name} params=${route.params} />`
    : html`<${OverviewTable} params=${route.params} />`;
  return html`<div class=${`shell ${store.connected ? "" : "is-disconnected"}`} data-actions=${store.canAct ? "on" : "off"}>
    <${Header} route=${route} counts=${counts} />
    <${Banners} />
    <div class="page" inert=${!store.connected}>${page}</div>
    <${Overlay} />
    <${Help} />
    <${Toasts} />
  </div>`;
}

// -- keyboard ---------------------------------------------------------------------

function currentResource(route) {
  if (route.view === "resource") return route.name;
  return tableHandle.focused;
}

function onKey(e) {
  const route = parseLocation();
  if (e.key === "Escape" && store.helpOpen) {
    store.helpOpen = false;
    store.changed();
    return;
  }
  if (isEditable(e.target) || e.altKey || e.isComposing) return;
  if ((e.ctrlKey || e.metaKey) && e.key === "Backspace" && route.view === "resource") {
    paneHandle.current && paneHandle.current.clear();
    e.preventDefault();
    return;
  }
  if (e.ctrlKey || e.metaKey) return;
  if (e.shiftKey && /^Digit[1-9]$/.test(e.code)) {
    const r = store.resources.get(currentResource(route));
    const ep = r && r.enabled && (r.endpoints || [])[Number(e.code.slice(5)) - 1];
    if (ep) {
      window.open(ep.url, ep.url);
      e.preventDefault();
    }
    return;
  }
  if (e.key === "?") {
    store.helpOpen = !store.helpOpen;
    store.changed();
    e.preventDefault();
    return;
  }
  if (e.shiftKey) return;
  switch (e.key) {
    case "/": {
      const input = route.view === "resource" ? null : tableHandle.filterInput && tableHandle.filterInput.current;
      if (input) input.focus();
      else if (paneHandle.current) paneHandle.current.focusFilter();
      e.preventDefault();
      break;
    }
    case "j":
    case "k": {
      const dir = e.key === "j" ? 1 : -1;
      if (route.view === "resource") {
        const order = sidebarHandle.order;
        const i = order.indexOf(route.name);
        const next = order[i < 0 ? 0 : i + dir];
        if (next !== undefined) navigate(resourcePath(next, window.location.search));
      } else {
        const order = tableHandle.rows;
        const i = order.indexOf(tableHandle.focused);
        const next = order[i < 0 ? 0 : i + dir];
        if (next !== undefined && tableHandle.setFocused) tableHandle.setFocused(next);
      }
      e.preventDefault();
      break;
    }
    case "r": {
      const name = currentResource(route);
      const r = store.resources.get(name);
      if (r) {
        requestTrigger(r);
        e.preventDefault();
      }
      break;
    }
    case "x":
      if (route.view === "resource") {
        paneHandle.current && paneHandle.current.clear();
      } else if (tableHandle.focused && tableHandle.focused !== "(Tiltfile)") {
        store.toggleSelected(tableHandle.focused);
      }
      e.preventDefault();
      break;
    case "Enter":
      if (route.view === "table" && tableHandle.focused) {
        navigate(resourcePath(tableHandle.focused));
        e.preventDefault();
      }
      break;
    default:
      break;
  }
}

document.addEventListener("keydown", onKey);
setInterval(() => store.changed(), 1000); // "3s ago", build timers
window.__tiltpy = { store, paneHandle, tableHandle, sidebarHandle, navigate }; // for tests and the benchmark
render(html`<${App} />`, document.getElementById("app"));
