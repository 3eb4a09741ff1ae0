// Resource lists shared by the table and the sidebar: statuses, filters
// (name, status, disabled), grouping by label, sorting.
import { store } from "./store.js";
import { alertRank, buildStatus, combinedStatus, runtimeStatus, STATUS } from "./status.js";
import { TILTFILE } from "./util.js";

export const UNLABELED = "unlabeled";
export const TILTFILE_GROUP = "Tiltfile";

export function rowOf(r) {
  const cleared = store.logs.clearedSeq(r.name);
  return {
    r,
    name: r.name,
    build: buildStatus(r, cleared),
    runtime: runtimeStatus(r, cleared),
    status: combinedStatus(r, cleared),
  };
}

// Tilt's name filter: every space-separated term must appear in the name.
export function matchesName(name, filter) {
  const terms = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const n = name.toLowerCase();
  return terms.every((t) => n.includes(t));
}

export function matchesStatus(row, status) {
  if (!status) return true;
  if (status === "error") return row.status === STATUS.error || row.build === STATUS.error || row.runtime === STATUS.error;
  if (status === "warning") return row.build === STATUS.warning || row.runtime === STATUS.warning;
  if (status === "pending") return row.status === STATUS.pending || row.status === STATUS.building;
  return row.status === status;
}

// The rows a list shows, with the counts of what it hides.
export function visibleRows(params) {
  const nameFilter = params.get("name") || "";
  const statusFilter = params.get("status") || "";
  const showDisabled = params.get("disabled") === "1" || statusFilter === "disabled";
  const rows = store.list().map(rowOf);
  const disabledCount = rows.filter((x) => x.status === STATUS.disabled).length;
  const shown = rows.filter((x) => (showDisabled || x.status !== STATUS.disabled)
    && (!nameFilter || matchesName(x.name, nameFilter)) && matchesStatus(x, statusFilter));
  // Disabled resources go last (Tilt's order), the rest keep the Tiltfile's order.
  shown.sort((a, b) => (a.status === STATUS.disabled) - (b.status === STATUS.disabled));
  return { rows: shown, all: rows, disabledCount, nameFilter, statusFilter, showDisabled };
}

// Labels sorted, then unlabeled, then the Tiltfile; a resource with two
// labels is in both groups. null when nothing has labels.
export function groupRows(rows) {
  if (!rows.some((x) => (x.r.labels || []).length)) return null;
  const groups = new Map();
  const unlabeled = [];
  const tiltfile = [];
  for (const x of rows) {
    const labels = x.r.labels || [];
    if (x.name === TILTFILE) tiltfile.push(x);
    else if (!labels.length) unlabeled.push(x);
    for (const l of labels) {
      if (!groups.has(l)) groups.set(l, []);
      groups.get(l).push(x);
    }
  }
  const out = [...groups.keys()].sort((a, b) => a.localeCompare(b)).map((l) => ({ label: l, rows: groups.get(l) }));
  if (unlabeled.length) out.push({ label: UNLABELED, rows: unlabeled });
  if (tiltfile.length) out.push({ label: TILTFILE_GROUP, rows: tiltfile });
  return out;
}

const SORT_KEYS = {
  name: (x) => x.name.toLowerCase(),
  updated: (x) => x.r.lastDeployTime || (x.r.buildHistory && x.r.buildHistory[0] && x.r.buildHistory[0].startTime) || 0,
  type: (x) => x.r.type,
  status: (x) => `${alertRank(x.status)}${x.name}`,
  pod: (x) => (x.r.pod && x.r.pod.name) || "",
  endpoints: (x) => (x.r.endpoints || []).length,
  mode: (x) => x.r.triggerMode,
};

export function sortRows(rows, sort, desc, alertsOnTop) {
  const key = SORT_KEYS[sort];
  if (!key && !alertsOnTop) return rows;
  const indexed = rows.map((x, i) => [x, i]);
  indexed.sort(([a, ia], [b, ib]) => {
    if (alertsOnTop) {
      const d = alertRank(a.status) - alertRank(b.status);
      if (d) return d;
    }
    if (key) {
      const ka = key(a), kb = key(b);
      if (ka < kb) return desc ? 1 : -1;
      if (ka > kb) return desc ? -1 : 1;
    }
    return ia - ib;
  });
  return indexed.map(([x]) => x);
}
