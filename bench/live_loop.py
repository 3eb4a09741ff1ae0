"""Benchmarks of the live loop, printed as JSON.

  python3 bench/live_loop.py [--edits 25] [--only static,node,idle]

static: a busybox httpd serving a synced file through a port-forward: time
        from writing the file to the first HTTP answer carrying the new
        content (p50/p95 over --edits edits).
node:   examples/base-image with live update: time to a served change of
        server.js (sync + nodemon restart), and of package.json (rebuild of
        base and app, pod roll).
idle:   CPU and resident memory of `tiltpy up` once it has settled.

Needs the testbed (../shared/testbed/up)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import _testbed_env  # noqa: E402  (KUBECONFIG like `source /var/lib/testbed/env`)
from tests.e2e.harness import Up, http_get  # noqa: E402

_testbed_env()


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return ""


def _time_until(url: str, token: str, timeout: float = 60) -> float:
    """Seconds from now until `url` answers with `token`, polling back to back."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if token in _get(url):
            return time.perf_counter() - start
    raise TimeoutError(f"{url} never served {token!r}")


def _stats(samples: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, max(0, round(0.95 * len(ms)) - 1))]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(p95, 1),
            "min_ms": round(ms[0], 1), "max_ms": round(ms[-1], 1)}


def _down(project: Path) -> None:
    subprocess.run([sys.executable, "-m", "tiltpy", "down"], cwd=project, capture_output=True)


def bench_static(edits: int) -> dict:
    project = Path(tempfile.mkdtemp(prefix="tiltpy-bench-static-"))
    (project / "www").mkdir()
    (project / "www" / "index.html").write_text("start\n")
    (project / "Dockerfile").write_text("FROM busybox\nCOPY www /www\n")
    (project / "k8s.yaml").write_text(textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: bench-static}
        spec:
          selector: {matchLabels: {app: bench-static}}
          template:
            metadata: {labels: {app: bench-static}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: httpd
                image: bench-static-image
                command: ["httpd", "-f", "-p", "8000", "-h", "/www"]
                ports: [{containerPort: 8000}]
        """))
    (project / "Tiltfile").write_text(textwrap.dedent("""\
        k8s_yaml('k8s.yaml')
        docker_build('bench-static-image', '.', live_update=[sync('www', '/www')])
        k8s_resource('bench-static', port_forwards=8000)
        """))
    url = "http://localhost:8000/index.html"
    up = Up(project)
    try:
        http_get(url, timeout=180, expect="start")
        time.sleep(1)
        samples = []
        for i in range(edits):
            token = f"edit-{i}-{time.time_ns()}"
            (project / "www" / "index.html").write_text(token + "\n")
            samples.append(_time_until(url, token))
            time.sleep(0.3)
        return {"write_to_served": _stats(samples)}
    finally:
        up.stop()
        _down(project)
        shutil.rmtree(project, ignore_errors=True)


NODE_TILTFILE = """
k8s_yaml('app.yml')
docker_build('nodejs-express-base-image', './package', dockerfile='base.dockerfile',
             build_args={'node_env': 'development'})
docker_build('nodejs-express-app-image', '.', dockerfile='app.dockerfile',
             entrypoint='yarn run nodemon /var/www/app/server.js',
             live_update=[sync('.', '/var/www/app')])
k8s_resource('nodejs-express-app', port_forwards=3000)
"""


def bench_node(edits: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="tiltpy-bench-node-"))
    project = tmp / "base-image"
    shutil.copytree(REPO / "examples" / "base-image", project)
    (project / "Tiltfile").write_text(NODE_TILTFILE)
    server = project / "server.js"
    original = server.read_text()
    pkg = project / "package" / "package.json"
    url = "http://localhost:3000/"
    up = Up(project)
    try:
        http_get(url, timeout=300, expect="Hello")
        time.sleep(1)
        sync_samples = []
        for i in range(edits):
            token = f"node-{i}-{time.time_ns()}"
            server.write_text(original.replace("Hello from the base-image example!", token))
            sync_samples.append(_time_until(url, token))
            time.sleep(0.5)
        rebuild_samples = []
        for i in range(3):
            token = f"pkg-{i}-{time.time_ns()}"
            pkg.write_text(pkg.read_text().replace('"license"', f'"x-bench": "{token}",\n  "license"', 1)
                           if '"x-bench"' not in pkg.read_text() else
                           _replace_bench_token(pkg.read_text(), token))
            server.write_text(original.replace("Hello from the base-image example!", token))
            rebuild_samples.append(_time_until(url, token, timeout=600))
            time.sleep(1)
        return {"server_js_to_served": _stats(sync_samples), "package_json_to_served": _stats(rebuild_samples)}
    finally:
        up.stop()
        _down(project)
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_bench_token(text: str, token: str) -> str:
    import re

    return re.sub(r'"x-bench": "[^"]*"', f'"x-bench": "{token}"', text)


def _proc_times(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench_idle(seconds: float = 20) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="tiltpy-bench-idle-"))
    project = tmp / "base-image"
    shutil.copytree(REPO / "examples" / "base-image", project)
    (project / "Tiltfile").write_text(NODE_TILTFILE)
    up = Up(project)
    try:
        http_get("http://localhost:3000/", timeout=300, expect="Hello")
        time.sleep(5)  # let it settle
        pid = up.proc.pid
        cpu0, t0 = _proc_times(pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = _proc_times(pid), time.monotonic()
        return {"idle_cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 2), "rss_mib": round(_rss_mib(pid), 1),
                "measured_seconds": round(t1 - t0, 1)}
    finally:
        up.stop()
        _down(project)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=25)
    parser.add_argument("--only", default="static,node,idle")
    parser.add_argument("--quiet-ms", type=int, default=None,
                        help="override the watcher's quiet window (TILTPY_WATCH_QUIET_MS) for comparison")
    args = parser.parse_args()
    if args.quiet_ms is not None:
        os.environ["TILTPY_WATCH_QUIET_MS"] = str(args.quiet_ms)
    parts = args.only.split(",")
    out: dict = {"benchmark": "live_loop", "edits": args.edits,
                 "watch_quiet_ms": int(os.environ.get("TILTPY_WATCH_QUIET_MS", "20"))}
    if "static" in parts:
        out["static"] = bench_static(args.edits)
    if "node" in parts:
        out["node"] = bench_node(max(5, args.edits // 2))
    if "idle" in parts:
        out["idle"] = bench_idle()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
