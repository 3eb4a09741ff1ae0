// A list that renders only the rows in view, so a pane with 100,000 log
// lines stays smooth. Rows have one height (measured once) unless lines
// wrap; then each rendered row is measured and the positions of the rest are
// estimated, with the first visible row kept in place as estimates change.

const OVERSCAN = 20;

export class VirtualList {
  constructor(scroller, renderRow, onFollowChange) {
    this.scroller = scroller;
    this.renderRow = renderRow;
    this.onFollowChange = onFollowChange || (() => {});
    this.items = [];
    this.wrap = false;
    this.follow = true;
    this.rowHeight = 0;
    this.heights = new Float64Array(0); // wrap mode: measured or estimated
    this.tops = new Float64Array(1);
    this.dirty = true;
    this.frame = 0;
    this.lastWidth = 0;
    this.spacer = document.createElement("div");
    this.spacer.className = "vl-spacer";
    this.rows = document.createElement("div");
    this.rows.className = "vl-rows";
    scroller.append(this.spacer, this.rows);
    this.expectedTop = null; // where we scrolled to ourselves: not the user's doing
    this._onScroll = () => {
      const top = this.scroller.scrollTop;
      if (this.expectedTop !== null && Math.abs(top - this.expectedTop) < 1) {
        this.expectedTop = null;
        this.schedule();
        return;
      }
      this.expectedTop = null;
      const atBottom = top + this.scroller.clientHeight >= this.scroller.scrollHeight - 4;
      if (atBottom !== this.follow) this.setFollow(atBottom);
      this.schedule();
    };
    scroller.addEventListener("scroll", this._onScroll, { passive: true });
    this.resize = new ResizeObserver(() => {
      const width = this.scroller.clientWidth;
      if (this.wrap && width !== this.lastWidth) this._forgetHeights();
      this.lastWidth = width;
      this.schedule();
    });
    this.resize.observe(scroller);
  }

  destroy() {
    this.scroller.removeEventListener("scroll", this._onScroll);
    this.resize.disconnect();
    cancelAnimationFrame(this.frame);
  }

  setFollow(follow) {
    if (this.follow === follow) return;
    this.follow = follow;
    this.onFollowChange(follow);
    if (follow) this.schedule();
  }

  setItems(items, change) {
    const previous = this.items.length;
    this.items = items;
    if (change === "reset" || items.length < previous) {
      this.heights = new Float64Array(0);
      this.setFollow(true);
    }
    this.dirty = true;
    this.schedule();
  }

  setWrap(wrap) {
    if (wrap === this.wrap) return;
    this.wrap = wrap;
    this._forgetHeights();
    this.schedule();
  }

  // Re-render rows even if nothing moved (e.g. timestamps turned on).
  refresh() {
    this.rowHeight = 0;
    this._forgetHeights();
    this.schedule();
  }

  _forgetHeights() {
    this.heights = new Float64Array(0);
    this.dirty = true;
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  _measureRowHeight() {
    this.rows.innerHTML = this.renderRow({ probe: true }, 0);
    const h = this.rows.firstElementChild ? this.rows.firstElementChild.getBoundingClientRect().height : 18;
    this.rowHeight = h || 18;
  }

  _layout() {
    const n = this.items.length;
    if (!this.wrap) {
      this.dirty = false;
      return;
    }
    if (this.heights.length < n) {
      const grown = new Float64Array(Math.max(n, this.heights.length * 2, 1024));
      grown.set(this.heights);
      grown.fill(0, this.heights.length);
      this.heights = grown;
    }
    if (this.tops.length < n + 1) this.tops = new Float64Array(Math.max(n + 1, this.tops.length * 2));
    const h = this.rowHeight;
    let acc = 0;
    for (let i = 0; i < n; i++) {
      this.tops[i] = acc;
      acc += this.heights[i] || h;
    }
    this.tops[n] = acc;
    this.dirty = false;
  }

  _top(i) {
    return this.wrap ? this.tops[i] : i * this.rowHeight;
  }

  _total() {
    return this._top(this.items.length);
  }

  _indexAt(y) {
    const n = this.items.length;
    if (!this.wrap) return Math.min(n, Math.max(0, Math.floor(y / this.rowHeight)));
    let lo = 0, hi = n; // first i with tops[i+1] > y
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.tops[mid + 1] <= y) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  render() {
    if (!this.rowHeight) this._measureRowHeight();
    const scroller = this.scroller;
    for (let pass = 0; pass < 3; pass++) {
      if (this.dirty) this._layout();
      const total = this._total();
      this.spacer.style.height = `${total}px`;
      const viewH = scroller.clientHeight;
      if (this.follow) {
        const bottom = Math.max(0, total - viewH);
        if (Math.abs(scroller.scrollTop - bottom) > 1) this._scrollTo(bottom);
      }
      const top = scroller.scrollTop;
      const first = this._indexAt(top);
      const start = Math.max(0, first - OVERSCAN);
      const end = Math.min(this.items.length, this._indexAt(top + viewH) + 1 + OVERSCAN);
      const parts = new Array(end - start);
      for (let i = start; i < end; i++) parts[i - start] = this.renderRow(this.items[i], i);
      this.rows.style.transform = `translateY(${this._top(start)}px)`;
      this.rows.innerHTML = parts.join("");
      if (!this.wrap) return;
      // Wrapped lines: measure what is on screen; if estimates were off, lay
      // out again with the first visible row kept where it was.
      let changed = false;
      const children = this.rows.children;
      for (let k = 0; k < children.length; k++) {
        const h = children[k].getBoundingClientRect().height;
        const i = start + k;
        if (Math.abs((this.heights[i] || this.rowHeight) - h) > 0.5) {
          this.heights[i] = h;
          changed = true;
        } else if (!this.heights[i]) {
          this.heights[i] = h;
        }
      }
      if (!changed) return;
      const offset = top - this._top(first);
      this._layout();
      if (!this.follow) this._scrollTo(this._top(first) + offset);
    }
  }

  _scrollTo(top) {
    this.scroller.scrollTop = top;
    this.expectedTop = this.scroller.scrollTop;
  }

  scrollToBottom() {
    this.setFollow(true);
    this.schedule();
  }

  // The item index at the top of the view (tests and the benchmark use it).
  firstVisible() {
    return this._indexAt(this.scroller.scrollTop);
  }
}
