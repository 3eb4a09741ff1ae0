// The page's copy of the logs: every line the websocket delivered (and what
// was fetched for history), bounded, plus the filtering that the log pane
// shows. Filtering is incremental: new lines only extend the last result.
import { AnsiUp } from "../vendor/ansi_up.js";
import { escapeHtml } from "./util.js";

export const MAX_LINES = 250000; // kept in the page (all resources)
const TRIM_TO = 200000;

export class LogStore {
  constructor() {
    this.lines = []; // ordered by seq
    this.byResource = new Map(); // name -> lines
    this.version = 0; // bumped on appends
    this.resetVersion = 0; // bumped on changes that aren't appends
    this.cleared = new Map(); // name -> seq cleared up to ("" = all resources)
    this.lastSeq = 0;
  }

  reset() {
    this.lines = [];
    this.byResource = new Map();
    this.cleared = new Map();
    this.lastSeq = 0;
    this.resetVersion++;
  }

  append(lines, skipped = 0) {
    if (!lines.length) return;
    if (skipped > 0) {
      const first = lines[0];
      this._push({ seq: first.seq - 0.5, resource: "", source: "system", level: "info", time: first.time,
        text: `… ${skipped} lines not sent to the page (too many at once; \`tiltpy logs\` has them)`, marker: true });
    }
    for (const line of lines) {
      if (line.seq <= this.lastSeq) continue; // already have it
      this._push(line);
    }
    this.version++;
    if (this.lines.length > MAX_LINES) this._trim();
  }

  _push(line) {
    this.lines.push(line);
    if (line.seq > this.lastSeq) this.lastSeq = Math.floor(line.seq);
    if (!line.resource) return;
    let list = this.byResource.get(line.resource);
    if (!list) this.byResource.set(line.resource, (list = []));
    list.push(line);
  }

  _trim() {
    const drop = this.lines.length - TRIM_TO;
    const cutSeq = this.lines[drop].seq;
    this.lines = this.lines.slice(drop);
    for (const [name, list] of this.byResource) {
      let i = 0;
      while (i < list.length && list[i].seq < cutSeq) i++;
      if (i) this.byResource.set(name, list.slice(i));
    }
    this.resetVersion++;
  }

  // Older lines (history fetched over HTTP) merged in before what we have.
  prepend(lines) {
    const first = this.lines.length ? this.lines[0].seq : Infinity;
    const older = lines.filter((l) => l.seq < first && !this._isCleared(l));
    if (!older.length) return 0;
    this.lines = older.concat(this.lines);
    for (const line of older) {
      if (line.seq > this.lastSeq) this.lastSeq = line.seq;
    }
    this.byResource = new Map();
    for (const line of this.lines) {
      if (!line.resource) continue;
      let list = this.byResource.get(line.resource);
      if (!list) this.byResource.set(line.resource, (list = []));
      list.push(line);
    }
    this.resetVersion++;
    return older.length;
  }

  firstSeqOf(name) {
    const list = name ? this.byResource.get(name) : this.lines;
    return list && list.length ? list[0].seq : Infinity;
  }

  _isCleared(line) {
    const all = this.cleared.get("") || 0;
    return line.seq <= all || line.seq <= (this.cleared.get(line.resource) || 0);
  }

  clearedSeq(name) {
    return Math.max(this.cleared.get("") || 0, this.cleared.get(name) || 0);
  }

  // Clear logs: of one resource, of several, or of all (names = null).
  clear(names) {
    const seq = this.lastSeq;
    if (!names) {
      this.cleared.set("", seq);
      this.lines = [];
      this.byResource = new Map();
    } else {
      const set = new Set(names);
      for (const n of set) {
        this.cleared.set(n, seq);
        this.byResource.delete(n);
      }
      this.lines = this.lines.filter((l) => !set.has(l.resource));
    }
    this.resetVersion++;
  }
}

// -- filters -------------------------------------------------------------------

// Tilt's term syntax: /regex/ is a case-insensitive regular expression,
// anything else a case-insensitive substring.
export function parseTerm(input) {
  if (!input) return { re: null, error: "" };
  try {
    if (input.length > 2 && input.startsWith("/") && input.endsWith("/")) {
      return { re: new RegExp(input.slice(1, -1), "i"), error: "" };
    }
    return { re: new RegExp(input.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i"), error: "" };
  } catch (e) {
    return { re: null, error: `Invalid regexp: ${e.message}` };
  }
}

function stripAnsi(text) {
  return text.indexOf("\x1b") < 0 ? text : text.replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, "");
}
export const plainText = (line) => stripAnsi(line.text);

// The lines a pane shows, computed incrementally: `scope` says which lines
// (a resource's, several, all), `source`/`level`/`term` filter them, and
// around each level hit `context` lines of the same resource are kept.
export class FilteredView {
  constructor(store, { names, source, level, term, context }) {
    this.store = store;
    this.names = names; // null: all; a Set otherwise
    this.source = source || "";
    this.level = level || "";
    this.term = term;
    this.context = level ? context : 0;
    this.key = "";
    this._restart();
  }

  _restart() {
    this.items = []; // {line, ctx} or {sep: true}
    this.counts = { warn: 0, error: 0 };
    this.processed = 0;
    this.resetVersion = this.store.resetVersion;
    this.source_ = this._sourceList();
    this.ordinal = new Map(); // resource -> scoped lines seen
    this.lastEmitted = new Map(); // resource -> ordinal of its last emitted line
    this.trailing = new Map(); // resource -> context lines still to add after a hit
    this.recent = new Map(); // resource -> [[ordinal, line]] not emitted, newest last
  }

  _sourceList() {
    if (this.names && this.names.size === 1) {
      return this.store.byResource.get([...this.names][0]) || [];
    }
    return this.store.lines;
  }

  // Bring the result up to date; returns "reset", "append" or "" (unchanged).
  update() {
    let change = "";
    if (this.resetVersion !== this.store.resetVersion || this._sourceList() !== this.source_) {
      this._restart();
      change = "reset";
    }
    const list = this.source_;
    if (this.processed >= list.length) return change;
    const before = this.items.length;
    const store = this.store;
    const allCleared = store.cleared.get("") || 0;
    for (let i = this.processed; i < list.length; i++) {
      const line = list[i];
      if (line.marker) {
        if (!this.names && !this.level && !this.term) this.items.push({ line, ctx: false });
        continue;
      }
      if (this.names && !this.names.has(line.resource)) continue;
      if (line.seq <= allCleared || line.seq <= (store.cleared.get(line.resource) || 0)) continue;
      if (this.source && line.source !== this.source) continue;
      if (line.level === "warn") this.counts.warn++;
      else if (line.level === "error") this.counts.error++;
      this._take(line);
    }
    this.processed = list.length;
    return change || (this.items.length !== before ? "append" : "");
  }

  _matchesTerm(line) {
    if (!this.term) return true;
    return this.term.test(plainText(line));
  }

  _take(line) {
    const res = line.resource;
    const n = (this.ordinal.get(res) || 0) + 1;
    this.ordinal.set(res, n);
    const hit = (!this.level || line.level === this.level) && this._matchesTerm(line);
    if (!this.context) {
      if (hit) this.items.push({ line, ctx: false });
      return;
    }
    if (hit) {
      const recent = this.recent.get(res) || [];
      for (const [ord, ctxLine] of recent) this._emit(res, ord, ctxLine, true);
      this.recent.set(res, []);
      this._emit(res, n, line, false);
      this.trailing.set(res, this.context);
      return;
    }
    const trailing = this.trailing.get(res) || 0;
    if (trailing > 0) {
      this.trailing.set(res, trailing - 1);
      this._emit(res, n, line, true);
      return;
    }
    let recent = this.recent.get(res);
    if (!recent) this.recent.set(res, (recent = []));
    recent.push([n, line]);
    if (recent.length > this.context) recent.shift();
  }

  _emit(res, ord, line, ctx) {
    const last = this.lastEmitted.get(res);
    if (last !== undefined && ord > last + 1) this.items.push({ sep: true, resource: res });
    this.lastEmitted.set(res, ord);
    this.items.push({ line, ctx });
  }
}

// -- rendering -------------------------------------------------------------------

// On escaped text: "&amp;" is a URL's "&", other entities (&gt; &quot; …) end it.
const URL_RE = /\bhttps?:\/\/(?:[^\s<>"'`&]|&amp;)+/g;

function linkify(htmlText) {
  // Only outside tags: ansi_up's output is escaped text and <span> tags.
  return htmlText.split(/(<[^>]*>)/).map((part) => {
    if (part.startsWith("<")) return part;
    return part.replace(URL_RE, (url) => {
      const tail = (url.match(/[.,;:!?)\]}]+$/) || [""])[0];
      if (tail) url = url.slice(0, -tail.length);
      return `<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>${tail}`;
    });
  }).join("");
}

let ansi = null;
// A line's text as HTML: ANSI colours (ansi_up) and links. Each line on its
// own: colours don't leak from one line into the next.
export function lineHtml(line) {
  if (line.h !== undefined) return line.h;
  let out;
  if (line.text.indexOf("\x1b") < 0) {
    out = escapeHtml(line.text);
  } else {
    if (!ansi) {
      ansi = new AnsiUp();
      ansi.use_classes = false;
    }
    ansi.ansi_to_html("\x1b[0m"); // reset the state a previous line may have left
    out = ansi.ansi_to_html(line.text);
  }
  line.h = out.indexOf("http") < 0 ? out : linkify(out);
  return line.h;
}
