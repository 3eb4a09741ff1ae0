"""The dashboard's speed in headless Chromium (Debian's, through Playwright):

1. First render of a dashboard with 200 resources: `tiltpy up` on a project
   of 200 local resources (trivial commands, 10 labels); once they have all
   run, the page is loaded N times and timed from navigation start to the
   table holding all 200 rows, and to the resource page's sidebar.
2. 100,000 log lines: added to the page's log store (as the websocket would,
   without waiting ~35 s for it to deliver that many), then timed: their
   first render, scrolling (jumps across the pane and small steps, each
   until the next painted frame), filtering by /regex/, by level (with
   context) and clearing the filter (URL change to rendered rows).

Prints JSON. Needs no Docker or cluster.

    python3 bench/dashboard.py [--resources 200] [--lines 100000] [--port 10366]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser.chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402
from tests.e2e.harness import TILTPY  # noqa: E402


def make_project(root: Path, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Tiltfile").write_text(
        f"for i in range({count}):\n"
        "    local_resource('res-' + str(1000 + i)[1:], 'echo built %d' % i, labels=['group-%d' % (i % 10)])\n")


def wait_all_built(port: int, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/api/view", timeout=5) as resp:
                view = json.load(resp)
            done = [r for r in view["resources"] if r["type"] == "local" and r["updateStatus"] in ("ok", "error")]
            if len(done) >= count:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the {count} resources did not all run within {timeout}s")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 1)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "p95": pct(values, 0.95), "max": round(max(values), 1)}


FIRST_ROWS = """(count) => new Promise((resolve) => {
    const check = () => {
        if (document.querySelectorAll('tr.res-row').length >= count) resolve(performance.now());
        else requestAnimationFrame(check);
    };
    check();
})"""

NEXT_FRAME = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


def measure_first_render(page, base: str, count: int, runs: int) -> dict:
    table, sidebar, heap = [], [], []
    for _ in range(runs):
        page.goto(base + "/overview?disabled=1", wait_until="commit")
        table.append(page.evaluate(FIRST_ROWS, count))
        heap.append(page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0") / 2**20)
        page.goto(base + "/r/res-000/overview", wait_until="commit")
        sidebar.append(page.evaluate("""(count) => new Promise((resolve) => {
            const check = () => document.querySelectorAll('.sb-item').length >= count
                ? resolve(performance.now()) : requestAnimationFrame(check);
            check();
        })""", count))
    return {"table_ms": summary(table), "resource_page_ms": summary(sidebar),
            "js_heap_mib": round(statistics.median(heap), 1)}


def measure_logs(page, base: str, lines: int) -> dict:
    page.goto(base + "/r/(all)/overview")
    # (Playwright's wait_for_function evaluates strings, which the page's CSP forbids.)
    page.evaluate("""() => new Promise((resolve) => {
        const check = () => window.__tiltpy && window.__tiltpy.store.connected ? resolve() : setTimeout(check, 20);
        check();
    })""")
    added = page.evaluate("""(count) => new Promise((resolve) => {
        const store = window.__tiltpy.store;
        const t = Date.now() / 1000, batch = [];
        const base = store.logs.lastSeq + 1;
        for (let i = 0; i < count; i++) {
            const level = i % 997 === 0 ? "error" : i % 331 === 0 ? "warn" : "info";
            const text = i % 50 === 0 ? `\\x1b[36mbench\\x1b[0m line ${i} http://localhost:8080/item/${i}`
                : `bench line ${i} ${"lorem ipsum dolor sit amet ".repeat(i % 5)}`;
            batch.push({seq: base + i, n: i + 1, resource: `res-${String(i % 200).padStart(3, "0")}`,
                        source: i % 3 ? "runtime" : "build", level, time: t, text: level === "error" ? "ERROR: " + text : level === "warn" ? "WARNING: " + text : text});
        }
        const t0 = performance.now();
        store.logs.append(batch);
        store.changed();
        const wait = () => {
            const n = Number(document.querySelector('.log-scroller').dataset.lines);
            if (n >= count) requestAnimationFrame(() => resolve({ms: performance.now() - t0, shown: n}));
            else requestAnimationFrame(wait);
        };
        wait();
    })""", lines)
    rows_in_dom = page.evaluate("document.querySelectorAll('.ll').length")
    jumps = page.evaluate("""async (steps) => {
        const s = document.querySelector('.log-scroller');
        const out = [];
        for (let k = 0; k < steps; k++) {
            const t0 = performance.now();
            s.scrollTop = Math.random() * (s.scrollHeight - s.clientHeight);
            await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
            out.push(performance.now() - t0);
        }
        return out;
    }""", 60)
    # The pane's own work per scroll position: rows rendered, measured and
    # laid out (synchronously, without waiting for a frame).
    renders = page.evaluate("""(steps) => {
        const s = document.querySelector('.log-scroller');
        const list = window.__tiltpy.paneHandle.current.list;
        const out = [];
        for (let k = 0; k < steps; k++) {
            s.scrollTop = Math.random() * (s.scrollHeight - s.clientHeight);
            const t0 = performance.now();
            list.render();
            void document.body.offsetHeight;
            out.push(performance.now() - t0);
        }
        return out;
    }""", 200)
    steps = page.evaluate("""async (steps) => {
        const s = document.querySelector('.log-scroller');
        s.scrollTop = s.scrollHeight / 3;
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const out = [];
        for (let k = 0; k < steps; k++) {
            const t0 = performance.now();
            s.scrollTop += 120;
            await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
            out.push(performance.now() - t0);
        }
        return out;
    }""", 120)

    def timed_filter(query: str) -> dict:
        return page.evaluate("""(query) => new Promise((resolve) => {
            const s = document.querySelector('.log-scroller');
            const before = s.dataset.lines;
            const t0 = performance.now();
            window.__tiltpy.navigate('/r/(all)/overview' + query);
            const wait = () => {
                if (s.dataset.lines !== before) requestAnimationFrame(() => resolve({ms: performance.now() - t0, shown: Number(s.dataset.lines)}));
                else requestAnimationFrame(wait);
            };
            wait();
        })""", query)

    regex = timed_filter("?term=" + urllib.request.quote("/line \\d*7 /"))
    level = timed_filter("?level=error")
    unfiltered = timed_filter("")
    return {
        "lines": lines,
        "first_render_ms": round(added["ms"], 1),
        "rows_in_dom": rows_in_dom,
        "scroll_render_ms": summary(renders),
        "scroll_jump_frame_ms": summary(jumps),
        "scroll_step_frame_ms": summary(steps),
        "filter_regex_ms": round(regex["ms"], 1), "filter_regex_shown": regex["shown"],
        "filter_level_error_ms": round(level["ms"], 1), "filter_level_error_shown": level["shown"],
        "filter_clear_ms": round(unfiltered["ms"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=10366)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="tiltpy-bench-dash-") as tmp:
        project = Path(tmp) / "project"
        make_project(project, args.resources)
        up = subprocess.Popen([*TILTPY, "up", "--stream", "--port", str(args.port)], cwd=project,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            started = time.monotonic()
            wait_all_built(args.port, args.resources)
            built_secs = time.monotonic() - started
            base = f"http://localhost:{args.port}"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                first = measure_first_render(page, base, args.resources, args.runs)
                logs = measure_logs(page, base, args.lines)
                version = browser.version
                browser.close()
        finally:
            up.terminate()
            up.wait(30)
            subprocess.run([*TILTPY, "down"], cwd=project, capture_output=True, timeout=120)
    print(json.dumps({"chromium": version, "resources": args.resources,
                      "all_resources_run_secs": round(built_secs, 1),
                      "first_render": first, "logs": logs}, indent=2))


if __name__ == "__main__":
    main()
