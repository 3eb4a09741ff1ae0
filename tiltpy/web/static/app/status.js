// What a resource's state means, Tilt's way: a build status and a runtime
// status, combined into one; warnings are a status of their own, and logs
// cleared by the user take their warnings with them (`clearedSeq`: the log
// sequence number up to which the user cleared this resource's logs).
import { TILTFILE } from "./util.js";

export const STATUS = {
  building: "building",
  pending: "pending",
  healthy: "healthy",
  error: "error",
  warning: "warning",
  disabled: "disabled",
  none: "none",
};

export function isDisabled(r) {
  return !r.enabled;
}

function lastFinishedBuild(r) {
  return (r.buildHistory || []).find((b) => b.finishTime) || null;
}

export function buildWarningCount(r, clearedSeq = 0) {
  const b = lastFinishedBuild(r);
  return b && b.warningCount && b.lastWarningSeq > clearedSeq ? b.warningCount : 0;
}

export function runtimeWarningCount(r, clearedSeq = 0) {
  return r.runtimeWarningCount && r.runtimeWarningSeq > clearedSeq ? r.runtimeWarningCount : 0;
}

export function buildStatus(r, clearedSeq = 0) {
  if (isDisabled(r)) return STATUS.disabled;
  switch (r.updateStatus) {
    case "in_progress": return STATUS.building;
    case "pending": return STATUS.pending;
    case "none":
    case "not_applicable": return STATUS.none;
    case "error": return STATUS.error;
  }
  if (buildWarningCount(r, clearedSeq)) return STATUS.warning;
  return r.updateStatus === "ok" ? STATUS.healthy : STATUS.none;
}

export function runtimeStatus(r, clearedSeq = 0) {
  if (isDisabled(r)) return STATUS.disabled;
  if (runtimeWarningCount(r, clearedSeq)) return r.runtimeStatus === "error" ? STATUS.error : STATUS.warning;
  switch (r.runtimeStatus) {
    case "error": return STATUS.error;
    case "pending": return STATUS.pending;
    case "ok": return STATUS.healthy;
  }
  return STATUS.none;
}

export function combinedStatus(r, clearedSeq = 0) {
  const b = buildStatus(r, clearedSeq);
  if (b !== STATUS.healthy && b !== STATUS.none) return b;
  const rt = runtimeStatus(r, clearedSeq);
  return rt === STATUS.none ? b : rt;
}

// Alerts: errors first, then warnings; the "alerts on top" order.
export function alertRank(status) {
  return { error: 0, warning: 1, building: 2, pending: 2, healthy: 3, none: 3, disabled: 4 }[status] ?? 3;
}

export function statusCounts(statuses) {
  const c = { total: 0, healthy: 0, error: 0, warning: 0, pending: 0, disabled: 0 };
  for (const s of statuses) {
    switch (s) {
      case STATUS.warning: c.total++; c.healthy++; c.warning++; break;
      case STATUS.healthy: c.total++; c.healthy++; break;
      case STATUS.error: c.total++; c.error++; break;
      case STATUS.pending:
      case STATUS.building: c.total++; c.pending++; break;
      case STATUS.disabled: c.disabled++; break;
      default: break; // "none": manual resources never run; not counted (Tilt's rule)
    }
  }
  return c;
}

// The page title and favicon colour: the worst status wins.
export function titleAndColor(counts, connected) {
  if (!connected) return { title: "Disconnected ┊ tiltpy", color: "gray" };
  if (counts.error) return { title: `✖︎ ${counts.error} ┊ tiltpy`, color: "red" };
  if (counts.warning) return { title: `⚠︎ ${counts.warning} ┊ tiltpy`, color: "yellow" };
  if (counts.pending) return { title: `… ${counts.healthy}/${counts.total} ┊ tiltpy`, color: "gray" };
  return { title: `✔︎ ${counts.healthy}/${counts.total} ┊ tiltpy`, color: "green" };
}

export function statusText(r, status, which) {
  if (which === "runtime") {
    if (status === STATUS.disabled) return "Disabled";
    if (r.runtimeStatus === "not_applicable" || r.runtimeStatus === "none") return "";
    if (status === STATUS.warning) return "Runtime warning";
    return { ok: "Runtime ready", pending: "Runtime pending", error: "Runtime error" }[r.runtimeStatus] || r.runtimeStatus;
  }
  if (status === STATUS.building) return r.currentBuild && r.currentBuild.kind === "live-update" ? "Live updating…" : (r.name === TILTFILE ? "Loading…" : "Updating…");
  if (status === STATUS.pending) return r.waitingReason ? `Waiting: ${r.waitingReason.replace(/^waiting (on|for) /, "")}` : "Update pending";
  if (status === STATUS.error) return r.name === TILTFILE ? "Tiltfile error" : "Update error";
  if (status === STATUS.warning) return "Updated with warnings";
  if (status === STATUS.healthy) return r.name === TILTFILE ? "Tiltfile loaded" : "Updated";
  if (status === STATUS.disabled) return "Disabled";
  return r.triggerMode === "manual" || !r.autoInit ? "Not started (manual)" : "No update yet";
}

// Tilt's trigger-button rules: locked while building, queued, or waiting
// for the first automatic update; emphasized when changes wait for it.
export function triggerState(r) {
  if (isDisabled(r)) return { hidden: true };
  const building = r.updateStatus === "in_progress" || !!r.currentBuild;
  const hasBuilt = (r.buildHistory || []).some((b) => b.finishTime);
  const waitingFirst = r.autoInit && !hasBuilt && r.name !== TILTFILE;
  const locked = building || r.queued || waitingFirst;
  const emphasized = !locked && (r.hasPendingChanges && r.triggerMode === "manual" || !hasBuilt && !r.autoInit);
  let reason = "Trigger update";
  if (r.queued) reason = "Already queued for an update";
  else if (building) reason = "Already updating";
  else if (waitingFirst) reason = "Waiting for its first update";
  else if (emphasized) reason = r.hasPendingChanges ? "Trigger update to apply the changed files" : "Run it for the first time";
  if (r.name === TILTFILE && !locked) reason = "Reload the Tiltfile";
  return { hidden: false, locked, building, queued: !!r.queued, emphasized, reason };
}
