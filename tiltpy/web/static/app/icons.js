// The few icons the dashboard draws (24x24 viewBox, currentColor).
import { html } from "./html.js";

const PATHS = {
  play: "M8 5v14l11-7z",
  refresh: "M17.65 6.35A7.95 7.95 0 0 0 12 4a8 8 0 1 0 7.75 10h-2.08A6 6 0 1 1 12 6c1.66 0 3.14.69 4.22 1.78L13 11h7V4z",
  star: "M12 17.3l6.2 3.7-1.6-7 5.4-4.7-7.2-.6L12 2 9.2 8.7 2 9.3l5.4 4.7-1.6 7z",
  starOutline: "M22 9.2l-7.2-.6L12 2 9.2 8.6 2 9.2l5.5 4.7L5.8 21 12 17.3l6.2 3.7-1.6-7.1zM12 15.4l-3.8 2.3 1-4.3-3.3-2.9 4.4-.4L12 6.1l1.7 4 4.4.4-3.3 2.9 1 4.3z",
  copy: "M16 1H4a2 2 0 0 0-2 2v14h2V3h12zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11z",
  check: "M9 16.2L4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z",
  link: "M3.9 12a3.1 3.1 0 0 1 3.1-3.1h4V7H7a5 5 0 0 0 0 10h4v-1.9H7A3.1 3.1 0 0 1 3.9 12zM8 13h8v-2H8zm9-6h-4v1.9h4a3.1 3.1 0 0 1 0 6.2h-4V17h4a5 5 0 0 0 0-10z",
  close: "M19 6.4L17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z",
  caret: "M7 10l5 5 5-5z",
  help: "M11 18h2v-2h-2zm1-16a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm0-14a4 4 0 0 0-4 4h2a2 2 0 1 1 4 0c0 2-3 1.75-3 5h2c0-2.25 3-2.5 3-5a4 4 0 0 0-4-4z",
  warning: "M1 21h22L12 2zm12-3h-2v-2h2zm0-4h-2v-4h2z",
  error: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-2h2zm0-4h-2V7h2z",
  ok: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm-2 15l-5-5 1.4-1.4 3.6 3.6 7.6-7.6L19 8z",
  pending: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm.5-13H11v6l5.2 3.2.8-1.3-4.5-2.7z",
  disabled: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zM4 12a8 8 0 0 1 12.9-6.3L5.7 16.9A7.9 7.9 0 0 1 4 12zm8 8a7.9 7.9 0 0 1-4.9-1.7L18.3 7.1A8 8 0 0 1 12 20z",
  button: "M20 6H4a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h5v-2H4V8h16v8h-2v2h2a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2zm-6.5 6l-1.5 1 3 7 1.3-.6-1.2-2.9H17z",
  table: "M3 3v18h18V3zm8 16H5v-6h6zm0-8H5V5h6zm8 8h-6v-6h6zm0-8h-6V5h6z",
  detail: "M3 5v14h5V5zm7 0v14h11V5z",
};

export function Icon({ name, size = 16, title = "", cls = "" }) {
  return html`<svg class=${`icon icon-${name} ${cls}`} width=${size} height=${size} viewBox="0 0 24 24"
    aria-hidden=${title ? "false" : "true"} role=${title ? "img" : "presentation"}>
    ${title ? html`<title>${title}</title>` : null}<path d=${PATHS[name] || PATHS.button} fill="currentColor" /></svg>`;
}

// A status icon: error, warning, building (spins), pending, healthy, none, disabled.
export function StatusIcon({ status, size = 14 }) {
  const name = { error: "error", warning: "warning", building: "refresh", pending: "pending", healthy: "ok",
    disabled: "disabled", none: "pending" }[status] || "pending";
  return html`<span class=${`status-icon st-${status}`} title=${status}><${Icon} name=${name} size=${size} /></span>`;
}

// An SVG a Tiltfile gave (ui_button icon_svg), without scripts or handlers.
export function sanitizeSvg(source) {
  const doc = new DOMParser().parseFromString(source, "image/svg+xml");
  const svg = doc.documentElement;
  if (!svg || svg.nodeName.toLowerCase() !== "svg" || doc.querySelector("parsererror")) return "";
  for (const el of [svg, ...svg.querySelectorAll("*")]) {
    const tag = el.nodeName.toLowerCase();
    if (tag === "script" || tag === "foreignobject" || tag === "iframe") {
      el.remove();
      continue;
    }
    for (const attr of [...el.attributes]) {
      const n = attr.name.toLowerCase();
      if (n.startsWith("on") || (n === "href" || n === "xlink:href") && !attr.value.startsWith("#")) el.removeAttribute(attr.name);
    }
  }
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("aria-hidden", "true");
  return new XMLSerializer().serializeToString(svg);
}
