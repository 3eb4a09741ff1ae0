// The per-resource page (/r/NAME/overview): a sidebar with every resource
// (status icons, starred first), and the resource's details and logs.
// NAME may be (all) or (starred).
import { html, memo, useRef, useState, useEffect } from "./html.js";
import { Icon, StatusIcon } from "./icons.js";
import { store } from "./store.js";
import { LogPane } from "./logpane.js";
import { ApiButton, buttonsFor, ConfirmButton, TriggerButton, TriggerModeToggle } from "./buttons.js";
import { Endpoints, NameFilter, PodId, rowProps, StarButton, StatusFilterChip, StatusLines } from "./table.js";
import { groupRows, rowOf, visibleRows } from "./resources.js";
import { navigate, withParams } from "./router.js";
import { ALL, fmtAgo, fmtClock, fmtDuration, resourcePath, STARRED, TILTFILE } from "./util.js";
import { STATUS, statusCounts } from "./status.js";

export const sidebarHandle = { order: [], filterInput: null };

function keepSearch(name) {
  return resourcePath(name, window.location.search);
}

const SidebarItem = memo(function SidebarItem({ r, status, current, ago, search }) {
  const href = resourcePath(r.name, search);
  return html`<li class=${`sb-item ${current ? "is-current" : ""} ${status === STATUS.disabled ? "is-disabled" : ""}`}
      data-name=${r.name} data-status=${status}>
    <a href=${href} onClick=${(e) => { if (!e.ctrlKey && !e.metaKey) { e.preventDefault(); navigate(href); } }}
      aria-current=${current ? "page" : null}>
      <${StatusIcon} status=${status} />
      <span class="sb-name" title=${r.name}>${r.name}</span>
      <span class="sb-ago muted">${ago}</span>
    </a>
    <${TriggerButton} r=${r} small=${true} />
    <${StarButton} name=${r.name} />
  </li>`;
});

function item(x, current) {
  return html`<${SidebarItem} key=${x.name} ...${rowProps(x, { current: current === x.name, search: window.location.search })} />`;
}

function Sidebar({ current, params }) {
  const v = visibleRows(params);
  const starred = v.rows.filter((x) => store.starred.has(x.name));
  const grouped = v.nameFilter ? null : groupRows(v.rows);
  const filterInput = useRef(null);
  sidebarHandle.filterInput = filterInput;
  const order = [ALL];
  const sections = [];
  if (starred.length) {
    order.push(...starred.map((x) => x.name));
    sections.push(html`<div class="sb-section starred" key="(starred)">
      <a class=${`sb-head ${current === STARRED ? "is-current" : ""}`} href=${keepSearch(STARRED)}
        onClick=${(e) => { e.preventDefault(); navigate(keepSearch(STARRED)); }}><${Icon} name="star" size=${13} /> Starred</a>
      <ul>${starred.map((x) => item(x, current))}</ul></div>`);
  }
  const groups = grouped || [{ label: "", rows: v.rows }];
  for (const g of groups) {
    const collapsed = g.label && store.collapsed.has(g.label);
    if (!collapsed) order.push(...g.rows.map((x) => x.name));
    const c = statusCounts(g.rows.map((x) => x.status));
    sections.push(html`<div class="sb-section" data-group=${g.label} key=${`g:${g.label}`}>
      ${g.label ? html`<button type="button" class=${`sb-group ${collapsed ? "collapsed" : ""}`} aria-expanded=${collapsed ? "false" : "true"}
        onClick=${() => store.toggleCollapsed(g.label)}><span class="caret"><${Icon} name="caret" size=${14} /></span>${g.label}
        <span class="sb-group-counts">${c.error ? html`<span class="gs-error">${c.error}✖</span>` : null}${c.warning ? html`<span class="gs-warning">${c.warning}⚠</span>` : null}<span class="muted">${c.healthy}/${c.total}</span></span></button>` : null}
      ${collapsed ? null : html`<ul>${g.rows.map((x) => item(x, current))}</ul>`}
    </div>`);
  }
  sidebarHandle.order = [...new Set(order)];
  return html`<nav class="sidebar" aria-label="Resources">
    <div class="sb-top">
      <${NameFilter} params=${params} inputRef=${filterInput} />
      <${StatusFilterChip} status=${v.statusFilter} />
      <label class="toggle small"><input type="checkbox" checked=${v.showDisabled} data-option="disabled"
        onChange=${(e) => navigate(withParams({ disabled: e.target.checked }))} /> disabled${v.disabledCount ? ` (${v.disabledCount})` : ""}</label>
    </div>
    <a class=${`sb-all ${current === ALL ? "is-current" : ""}`} href=${keepSearch(ALL)} data-name=${ALL}
      onClick=${(e) => { e.preventDefault(); navigate(keepSearch(ALL)); }}>All resources</a>
    ${sections}
  </nav>`;
}

function BuildHistory({ r }) {
  const history = r.buildHistory || [];
  if (!history.length) return null;
  return html`<details class="build-history" open=${false}>
    <summary>Update history (${history.length})</summary>
    <table><tbody>${history.map((b) => html`<tr class=${b.error ? "is-error" : b.warningCount ? "is-warning" : ""}>
      <td class="muted">${fmtClock(b.startTime)}</td>
      <td>${b.kind === "live-update" ? "live update" : r.type === "tiltfile" ? "load" : "update"}</td>
      <td>${b.reason}</td>
      <td class="muted">${b.finishTime ? fmtDuration(b.durationSecs) : "running…"}</td>
      <td>${b.error ? html`<span class="s-error" title=${b.error}>✖ ${b.error.split("\n")[0].slice(0, 120)}</span>`
        : b.warningCount ? html`<span class="s-warning">⚠ ${b.warningCount} warning${b.warningCount > 1 ? "s" : ""}</span>`
        : b.finishTime ? html`<span class="s-ok">✔</span>` : null}</td>
    </tr>`)}</tbody></table>
  </details>`;
}

function TiltfileArgs() {
  const current = (store.session.tiltfileArgs || []).map(shellQuote).join(" ");
  const [value, setValue] = useState(current);
  useEffect(() => setValue(current), [current]);
  const apply = () => store.setTiltfileArgs(shellSplit(value));
  return html`<div class="args-bar"><label for="args-input">Tiltfile args</label>
    <input id="args-input" type="text" spellcheck="false" placeholder="(none)" value=${value}
      onInput=${(e) => setValue(e.target.value)} onKeyDown=${(e) => { if (e.key === "Enter") apply(); }} />
    <button type="button" class="btn btn-small" disabled=${!store.canAct} onClick=${apply}>Apply</button></div>`;
}

function Details({ r }) {
  const x = rowOf(r);
  const error = r.updateError || r.runtimeError;
  const buttons = buttonsFor("Resource", r.name);
  return html`<div class="details" data-name=${r.name} data-status=${x.status}>
    <div class="details-head">
      <${StatusIcon} status=${x.status} size=${18} />
      <h1 class="res-title">${r.name}</h1>
      <span class="badge">${r.type}</span>
      <${StarButton} name=${r.name} />
      <${TriggerButton} r=${r} />
      <${TriggerModeToggle} r=${r} />
      ${r.type !== "tiltfile" ? (r.enabled
        ? html`<${ConfirmButton} label="Disable resource" confirmLabel="Confirm disable" action="disable"
            disabled=${!store.canAct} onConfirm=${() => store.setEnabled([r.name], false)} />`
        : html`<button type="button" class="btn" data-action="enable" disabled=${!store.canAct}
            onClick=${() => store.setEnabled([r.name], true)}>Enable resource</button>`) : null}
      ${x.status === STATUS.disabled ? null : buttons.map((b) => html`<${ApiButton} key=${b.metadata.name} button=${b} />`)}
    </div>
    <div class="details-body">
      <${StatusLines} x=${x} compact=${false} />
      ${r.waitingReason ? html`<div class="waiting">${r.waitingReason}</div>` : null}
      ${error && r.enabled ? html`<pre class="res-error">${error}</pre>` : null}
      ${r.enabled && (r.endpoints || []).length ? html`<div class="endpoints-row"><span class="label">Endpoints</span><${Endpoints} r=${r} numbered=${true} /></div>` : null}
      ${r.enabled && r.pod && r.pod.name ? html`<div class="pod-row"><span class="label">${r.type === "local" ? "Process" : "Pod ID"}</span><${PodId} r=${r} />
        <span class="muted">${r.pod.phase || ""}${r.pod.restarts ? ` · ${r.pod.restarts} restart${r.pod.restarts > 1 ? "s" : ""}` : ""}</span></div>` : null}
      ${r.type === "tiltfile" ? html`<${TiltfileArgs} />` : null}
      <${BuildHistory} r=${r} />
    </div>
  </div>`;
}

function AllHeader({ name }) {
  const rows = store.list().map(rowOf);
  const c = statusCounts(rows.map((x) => x.status));
  return html`<div class="details" data-name=${name}>
    <div class="details-head"><h1 class="res-title">${name === STARRED ? "Starred resources" : "All resources"}</h1>
      <span class="muted">${c.healthy}/${c.total} healthy${c.error ? ` · ${c.error} with errors` : ""}${c.warning ? ` · ${c.warning} with warnings` : ""}</span>
      ${buttonsFor("Global", "nav").map((b) => html`<${ApiButton} key=${b.metadata.name} button=${b} />`)}
    </div>
    ${name === STARRED && !store.starred.size ? html`<p class="muted">No starred resources: star one with ☆ in the sidebar or the table.</p>` : null}
  </div>`;
}

export function ResourcePage({ name, params }) {
  const r = store.resources.get(name);
  let body;
  if (name === ALL || name === STARRED) {
    const names = name === STARRED ? new Set(store.starred) : null;
    body = html`<${AllHeader} name=${name} />
      <${LogPane} scope=${name} names=${names} showPrefix=${true} clearNames=${name === STARRED ? [...store.starred] : null} params=${params} />`;
  } else if (!r) {
    body = html`<div class="details"><p class="not-found">${store.everConnected ? html`No resource named <strong>${name}</strong>.` : "Loading…"}
      <a href="/overview" onClick=${(e) => { e.preventDefault(); navigate("/overview"); }}>Back to the table</a></p></div>`;
  } else {
    body = html`<${Details} r=${r} />
      <${LogPane} scope=${name} names=${new Set([name])} showPrefix=${false} clearNames=${[name]} params=${params} />`;
  }
  useEffect(() => {
    if (name !== ALL && name !== STARRED) store.fetchHistory(name);
  }, [name]);
  return html`<div class="resource-page"><${Sidebar} current=${name} params=${params} /><main class="resource-main">${body}</main></div>`;
}

function shellQuote(s) {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

export function shellSplit(text) {
  const out = [];
  let cur = null;
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      cur = cur ?? "";
    } else if (/\s/.test(c)) {
      if (cur !== null) {
        out.push(cur);
        cur = null;
      }
    } else if (c === "\\" && i + 1 < text.length) cur = (cur ?? "") + text[++i];
    else cur = (cur ?? "") + c;
  }
  if (cur !== null) out.push(cur);
  return out;
}

export { TILTFILE };
