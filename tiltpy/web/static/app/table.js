// The overview table: resources grouped by label (collapsible, with each
// group's status), name filter, sort, alerts on top, checkboxes with bulk
// enable/disable, disabled resources behind a toggle.
import { html, memo, useEffect, useRef, useState } from "./html.js";
import { Icon, StatusIcon } from "./icons.js";
import { store } from "./store.js";
import { statusCounts, statusText, STATUS } from "./status.js";
import { ApiButton, buttonsFor, ConfirmButton, CopyButton, TriggerButton, TriggerModeToggle } from "./buttons.js";
import { groupRows, sortRows, visibleRows } from "./resources.js";
import { navigate, navigateTyping, withParams } from "./router.js";
import { fmtAgo, fmtDuration, resourcePath, TILTFILE } from "./util.js";

export const tableHandle = { rows: [], focused: "", setFocused: null, filterInput: null };

const COLUMNS = [
  { id: "select", label: "", width: 34 },
  { id: "star", label: "", width: 34 },
  { id: "updated", label: "Updated", width: 84, sort: true },
  { id: "trigger", label: "Trigger", width: 62 },
  { id: "name", label: "Resource Name", width: null, sort: true },
  { id: "type", label: "Type", width: 70, sort: true },
  { id: "status", label: "Status", width: 250, sort: true },
  { id: "pod", label: "Pod ID", width: 190, sort: true },
  { id: "widgets", label: "Widgets", width: 150 },
  { id: "endpoints", label: "Endpoints", width: 180, sort: true },
  { id: "mode", label: "Mode", width: 76, sort: true },
];

const TYPE_LABEL = { k8s: "K8s", "docker-compose": "DCS", local: "Local", tiltfile: "Tiltfile" };

function Colgroup() {
  return html`<colgroup>${COLUMNS.map((c) => html`<col class=${`col-${c.id}`} style=${c.width ? `width:${c.width}px` : ""} />`)}</colgroup>`;
}

export function StatusLines({ x, compact = true }) {
  const r = x.r;
  const last = (r.buildHistory || []).find((b) => b.finishTime);
  const runtimeText = statusText(r, x.runtime, "runtime");
  const buildText = statusText(r, x.build, "build");
  const warnings = x.build === STATUS.warning && last ? ` (${last.warningCount} warning${last.warningCount > 1 ? "s" : ""})` : "";
  return html`<div class=${`status-lines ${compact ? "compact" : ""}`}>
    ${x.build !== STATUS.disabled ? html`<div class="status-line" data-which="build" data-status=${x.build}>
      <${StatusIcon} status=${x.build} size=${12} /><span class="st-text">${buildText}${warnings}</span>
      ${x.build === STATUS.building && r.currentBuild ? html`<span class="muted dur" data-since=${r.currentBuild.startTime}>
        ${fmtDuration(Date.now() / 1000 - r.currentBuild.startTime)}</span>`
        : last && last.durationSecs != null && x.build !== STATUS.pending ? html`<span class="muted dur">${fmtDuration(last.durationSecs)}</span>` : null}
    </div>` : null}
    ${runtimeText ? html`<div class="status-line" data-which="runtime" data-status=${x.runtime}>
      <${StatusIcon} status=${x.runtime} size=${12} /><span class="st-text">${runtimeText}</span></div>` : null}
  </div>`;
}

export function Endpoints({ r, numbered = false }) {
  if (!r.enabled) return null;
  return (r.endpoints || []).map((e, i) => html`<a class="endpoint" href=${e.url} target="_blank" rel="noopener noreferrer"
    title=${numbered && i < 9 ? `${e.url} (shift+${i + 1})` : e.url}>${numbered && i < 9 ? html`<kbd>${i + 1}</kbd>` : null}<${Icon} name="link" size=${13} /><span>${e.name || e.url.replace(/^https?:\/\//, "")}</span></a>`);
}

export function PodId({ r }) {
  if (!r.enabled || !r.pod || !r.pod.name) return null;
  return html`<span class="pod-id"><input class="pod-input" readonly value=${r.pod.name} aria-label="Pod ID"
    onClick=${(e) => { e.stopPropagation(); e.target.select(); }} /><${CopyButton} text=${r.pod.name} label="Copy Pod ID" what="the pod ID" /></span>`;
}

export function StarButton({ name }) {
  const on = store.starred.has(name);
  return html`<button type="button" class=${`btn-icon star ${on ? "on" : ""}`} aria-pressed=${on ? "true" : "false"}
    aria-label=${on ? `Unstar ${name}` : `Star ${name}`} title=${on ? "Unstar" : "Star"} data-action="star"
    onClick=${(e) => { e.stopPropagation(); store.toggleStar(name); }}><${Icon} name=${on ? "star" : "starOutline"} size=${15} /></button>`;
}

// What a row shows beyond its resource, as props: the row re-renders only
// when one of them (or the resource's JSON) changed.
export function rowProps(x, extra = {}) {
  const r = x.r;
  const updated = r.lastDeployTime || (r.buildHistory && r.buildHistory[0] && r.buildHistory[0].finishTime);
  return {
    r, build: x.build, runtime: x.runtime, status: x.status,
    ago: updated ? fmtAgo(updated) : "",
    starred: store.starred.has(r.name),
    canAct: store.canAct,
    busy: store.pending.has(`trigger:${r.name}`) || store.pending.has(`mode:${r.name}`),
    buttons: store.uiButtons,
    tick: x.build === STATUS.building ? Math.floor(Date.now() / 1000) : 0,
    ...extra,
  };
}

const Row = memo(function Row(p) {
  const r = p.r;
  const x = { r, build: p.build, runtime: p.runtime, status: p.status };
  const selectable = r.type !== "tiltfile";
  const disabled = p.status === STATUS.disabled;
  const hasError = p.build === STATUS.error || p.runtime === STATUS.error;
  return html`<tr class=${`res-row ${p.focused ? "is-focused" : ""} ${p.selected ? "is-selected" : ""} ${disabled ? "is-disabled" : ""}`}
      data-name=${r.name} data-status=${p.status} data-update=${r.updateStatus} data-runtime=${r.runtimeStatus}
      data-builds=${String((r.buildHistory || []).length)} data-queued=${r.queued ? "true" : "false"}>
    <td class="c-select">${selectable ? html`<input type="checkbox" checked=${p.selected} aria-label=${`Select ${r.name}`}
      onChange=${() => store.toggleSelected(r.name)} />` : null}</td>
    <td class="c-star"><${StarButton} name=${r.name} /></td>
    <td class="c-updated muted">${p.ago}</td>
    <td class="c-trigger"><${TriggerButton} r=${r} small=${true} /></td>
    <td class="c-name"><a href=${resourcePath(r.name)} class=${`res-name ${hasError ? "has-error" : ""}`}
      onClick=${(e) => { if (!e.ctrlKey && !e.metaKey && e.button === 0) { e.preventDefault(); navigate(resourcePath(r.name)); } }}>${r.name}</a></td>
    <td class="c-type muted">${TYPE_LABEL[r.type] || r.type}</td>
    <td class="c-status"><${StatusLines} x=${x} /></td>
    <td class="c-pod"><${PodId} r=${r} /></td>
    <td class="c-widgets">${disabled ? null : buttonsFor("Resource", r.name).map((b) => html`<${ApiButton} key=${b.metadata.name} button=${b} compact=${true} />`)}</td>
    <td class="c-endpoints"><${Endpoints} r=${r} /></td>
    <td class="c-mode"><${TriggerModeToggle} r=${r} /></td>
  </tr>`;
});

function HeadRow({ sort, desc, selectableNames }) {
  const all = selectableNames.length > 0 && selectableNames.every((n) => store.selected.has(n));
  const some = selectableNames.some((n) => store.selected.has(n));
  const clickSort = (id) => {
    // asc → desc → off, in the URL
    if (sort !== id) navigate(withParams({ sort: id, desc: "" }));
    else if (!desc) navigate(withParams({ desc: "1" }));
    else navigate(withParams({ sort: "", desc: "" }));
  };
  return html`<tr class="head-row">${COLUMNS.map((c) => {
    if (c.id === "select") {
      return html`<th class="c-select">${selectableNames.length ? html`<input type="checkbox" checked=${all}
        ref=${(el) => { if (el) el.indeterminate = some && !all; }} aria-label="Select all in this group"
        onChange=${() => store.toggleSelected(...selectableNames)} />` : null}</th>`;
    }
    if (c.id === "star") return html`<th class="c-star" title="Starred"><${Icon} name="star" size=${12} /></th>`;
    const sorted = sort === c.id;
    return html`<th class=${`c-${c.id} ${sorted ? "is-sorted" : ""}`} data-col=${c.id}
      aria-sort=${sorted ? (desc ? "descending" : "ascending") : "none"}>${c.sort
        ? html`<button type="button" class="sort" title=${`Sort by ${c.label}`} onClick=${() => clickSort(c.id)}>${c.label}
          <span class=${`tri ${sorted ? (desc ? "desc" : "asc") : ""}`}></span></button>` : c.label}</th>`;
  })}</tr>`;
}

function GroupSummary({ rows }) {
  const c = statusCounts(rows.map((x) => x.status));
  return html`<span class="group-summary">
    ${c.error ? html`<span class="gs-error" title="errors"><${Icon} name="error" size=${12} />${c.error}</span>` : null}
    ${c.warning ? html`<span class="gs-warning" title="warnings"><${Icon} name="warning" size=${12} />${c.warning}</span>` : null}
    ${c.pending ? html`<span class="gs-pending" title="pending"><${Icon} name="pending" size=${12} />${c.pending}</span>` : null}
    ${c.total ? html`<span class="gs-healthy" title="healthy"><${Icon} name="ok" size=${12} />${c.healthy}/${c.total}</span>` : null}
    ${c.disabled ? html`<span class="gs-disabled" title="disabled"><${Icon} name="disabled" size=${12} />${c.disabled}</span>` : null}
  </span>`;
}

function Table({ rows, sort, desc, focused }) {
  const selectableNames = rows.filter((x) => x.r.type !== "tiltfile").map((x) => x.name);
  return html`<table class="res-table"><${Colgroup} />
    <thead><${HeadRow} sort=${sort} desc=${desc} selectableNames=${selectableNames} /></thead>
    <tbody>${rows.map((x) => html`<${Row} key=${x.name} ...${rowProps(x, { focused: focused === x.name, selected: store.selected.has(x.name) })} />`)}</tbody>
  </table>`;
}

function BulkBar() {
  const names = [...store.selected].filter((n) => store.resources.has(n));
  if (!names.length) return null;
  const busy = store.pending.has(`enable:${names.join(",")}`);
  const act = async (enabled) => {
    if (await store.setEnabled(names, enabled)) store.clearSelection();
  };
  return html`<div class="bulk-bar" role="toolbar" aria-label="Bulk resource actions">
    <span><strong>${names.length}</strong> selected</span>
    <button type="button" class="btn" data-action="bulk-enable" disabled=${!store.canAct || busy} onClick=${() => act(true)}>Enable</button>
    <${ConfirmButton} label="Disable" confirmLabel=${`Confirm disabling ${names.length}`} action="bulk-disable"
      disabled=${!store.canAct || busy} onConfirm=${() => act(false)} />
    <button type="button" class="btn btn-link" onClick=${() => store.clearSelection()}>Clear selection</button>
  </div>`;
}

export function NameFilter({ params, inputRef }) {
  const value = params.get("name") || "";
  const [typed, setTyped] = useState(value);
  useEffect(() => setTyped(value), [value]);
  const timer = useRef(0);
  return html`<span class="name-filter"><input type="search" placeholder="Filter resources by name" spellcheck="false"
    aria-label="Filter resources by name" value=${typed} ref=${inputRef}
    onInput=${(e) => { const v = e.target.value; setTyped(v); clearTimeout(timer.current); timer.current = setTimeout(() => navigateTyping(withParams({ name: v })), 150); }}
    onKeyDown=${(e) => { if (e.key === "Escape") e.target.blur(); }} /></span>`;
}

export function StatusFilterChip({ status }) {
  if (!status) return null;
  return html`<span class="chip" data-status-filter=${status}>showing: ${status === "error" ? "errors" : status === "warning" ? "warnings" : status}
    <button type="button" class="btn-icon" aria-label="Show all statuses" onClick=${() => navigate(withParams({ status: "" }))}>
    <${Icon} name="close" size=${12} /></button></span>`;
}

export function OverviewTable({ params }) {
  const v = visibleRows(params);
  const sort = params.get("sort") || "";
  const desc = params.get("desc") === "1";
  const alertsOnTop = params.get("alerts") === "1";
  const [focused, setFocused] = useState(tableHandle.focused);
  const filterInput = useRef(null);
  const grouped = v.nameFilter ? null : groupRows(v.rows);
  const groups = grouped ? grouped.map((g) => ({ ...g, rows: sortRows(g.rows, sort, desc, alertsOnTop) }))
    : [{ label: "", rows: sortRows(v.rows, sort, desc, alertsOnTop) }];
  const order = [];
  for (const g of groups) if (!g.label || !store.collapsed.has(g.label)) order.push(...g.rows.map((x) => x.name));
  tableHandle.rows = [...new Set(order)];
  tableHandle.focused = focused;
  tableHandle.setFocused = setFocused;
  tableHandle.filterInput = filterInput;
  useEffect(() => {
    if (!focused) return;
    const row = document.querySelector(`tr.res-row[data-name="${CSS.escape(focused)}"]`);
    if (row) row.scrollIntoView({ block: "nearest" });
  }, [focused]);
  const labels = grouped ? grouped.map((g) => g.label) : [];
  return html`<div class="table-page">
    <div class="table-options">
      <${NameFilter} params=${params} inputRef=${filterInput} />
      <${StatusFilterChip} status=${v.statusFilter} />
      <label class="toggle"><input type="checkbox" data-option="alerts" checked=${alertsOnTop}
        onChange=${(e) => navigate(withParams({ alerts: e.target.checked }))} /> Alerts on top</label>
      <label class="toggle"><input type="checkbox" data-option="disabled" checked=${v.showDisabled}
        onChange=${(e) => navigate(withParams({ disabled: e.target.checked }))} /> Show disabled resources${v.disabledCount ? ` (${v.disabledCount})` : ""}</label>
      ${grouped ? html`<button type="button" class="btn btn-small" onClick=${() => store.setCollapsedAll(labels, false)}>Expand all</button>
        <button type="button" class="btn btn-small" onClick=${() => store.setCollapsedAll(labels, true)}>Collapse all</button>` : null}
      <span class="spacer"></span>
      ${v.nameFilter || v.statusFilter ? html`<span class="muted result-count">${v.rows.length} result${v.rows.length === 1 ? "" : "s"}</span>` : null}
    </div>
    <${BulkBar} />
    ${v.rows.length === 0 ? html`<p class="no-matches">${v.all.length ? "No matching resources" : "No resources yet"}</p>` : null}
    <div class="tables">
    ${groups.map((g) => g.label ? html`<section class=${`group ${store.collapsed.has(g.label) ? "collapsed" : ""}`}
        data-group=${g.label} key=${g.label}>
        <button type="button" class="group-head" aria-expanded=${store.collapsed.has(g.label) ? "false" : "true"}
          onClick=${() => store.toggleCollapsed(g.label)}>
          <span class="caret"><${Icon} name="caret" size=${16} /></span>
          <span class=${`group-name ${g.label === "unlabeled" ? "em" : ""}`}>${g.label}</span>
          <${GroupSummary} rows=${g.rows} />
        </button>
        ${store.collapsed.has(g.label) ? null : html`<${Table} rows=${g.rows} sort=${sort} desc=${desc} focused=${focused} />`}
      </section>` : html`<section class="group flat" key="flat"><${Table} rows=${g.rows} sort=${sort} desc=${desc} focused=${focused} /></section>`)}
    </div>
  </div>`;
}

export { TILTFILE };
