// Small helpers shared by the views.

export const TILTFILE = "(Tiltfile)";
export const ALL = "(all)";
export const STARRED = "(starred)";

export function fmtDuration(secs) {
  if (secs == null || Number.isNaN(secs)) return "";
  if (secs < 1) return `${Math.round(secs * 1000)}ms`;
  if (secs < 60) return `${secs.toFixed(1)}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m${String(Math.round(secs % 60)).padStart(2, "0")}s`;
  return `${Math.floor(secs / 3600)}h${String(Math.floor((secs % 3600) / 60)).padStart(2, "0")}m`;
}

export function fmtAgo(t, now = Date.now() / 1000) {
  if (!t) return "";
  const s = Math.max(0, now - t);
  if (s < 5) return "now";
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function fmtClock(t, ms = false) {
  if (!t) return "";
  const d = new Date(t * 1000);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  const base = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return ms ? `${base}.${p(d.getMilliseconds(), 3)}` : base;
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);

export function load(key, fallback) {
  try {
    const raw = localStorage.getItem(`tiltpy.${key}`);
    return raw == null ? fallback : JSON.parse(raw);
  } catch (e) {
    return fallback;
  }
}

export function save(key, value) {
  try {
    localStorage.setItem(`tiltpy.${key}`, JSON.stringify(value));
  } catch (e) { /* private mode or full: preferences just don't persist */ }
}

export async function copyText(text) {
  // The clipboard API needs a secure context (localhost is one); elsewhere
  // (a dashboard reached by IP) fall back to a selected textarea.
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  try {
    if (!document.execCommand("copy")) throw new Error("copy was refused");
  } finally {
    area.remove();
  }
}

export function isEditable(target) {
  if (!target || !target.tagName) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}

export function resourcePath(name, search = "") {
  return `/r/${encodeURIComponent(name)}/overview${search}`;
}
