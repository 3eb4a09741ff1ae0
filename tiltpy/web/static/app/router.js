// Every view and filter is a URL: / (or /overview) is the table,
// /r/NAME/overview a resource ((all) and (starred) too); filters are query
// parameters. Navigation uses the History API, so back and forward work.

export function parseLocation(loc = window.location) {
  const params = new URLSearchParams(loc.search);
  const m = loc.pathname.match(/^\/r\/([^/]+)(?:\/overview)?\/?$/);
  if (m) {
    let name;
    try {
      name = decodeURIComponent(m[1]);
    } catch (e) {
      name = m[1];
    }
    return { view: "resource", name, params };
  }
  return { view: "table", name: "", params };
}

const listeners = new Set();

export function onNavigate(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify() {
  for (const fn of listeners) fn(parseLocation());
}

window.addEventListener("popstate", notify);

// Go to a path (with its query string); `replace` rewrites the current
// history entry (typing in a filter) instead of adding one.
export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, window.location.href);
  if (target.pathname + target.search === window.location.pathname + window.location.search) return;
  if (replace) history.replaceState(null, "", target.pathname + target.search);
  else history.pushState(null, "", target.pathname + target.search);
  notify();
}

// The current URL with some query parameters changed ("" or null removes one).
export function withParams(changes, loc = window.location) {
  const params = new URLSearchParams(loc.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === "" || v === null || v === undefined || v === false) params.delete(k);
    else params.set(k, v === true ? "1" : String(v));
  }
  const q = params.toString();
  return loc.pathname + (q ? `?${q}` : "");
}

// Typing in a filter: the first change of a burst adds a history entry, the
// rest of the burst replaces it, so Back undoes the whole edit.
let burstUntil = 0;
export function navigateTyping(url) {
  const now = Date.now();
  navigate(url, { replace: now < burstUntil });
  burstUntil = now + 1500;
}
