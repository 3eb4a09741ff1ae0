"""`tiltpy up` from process start to the first HTTP answer through a
port-forward, with the time each phase ended, printed as JSON.

    python3 bench/startup.py [--runs 5] [--cold-runs 2]

The project is a busybox httpd (a Deployment, a docker_build with a synced
directory, a port_forward). A first `up` builds the image and deploys it
(not timed). Then:

warm: `up` again with the image cached and the app still running from the
      previous `up` (as after Ctrl-C): everything but the cluster's own work.
cold: `tiltpy down` first, so the pod is created anew (the image still cached):
      the same plus what the cluster takes to start a pod.

A client connects to the forwarded port from the moment `up` starts (refused
until the listener exists, then it waits for the pod) and the first answer
ends the run. Phases are when these lines of `up --stream` arrived (the
terminal writer batches lines for up to 10 ms, so each is within ~10 ms):
started ("Loading Tiltfile"), tiltfile_loaded, docker_connected,
k8s_connected, image_ready ("Reusing image"), applied, forwarding ("Forwarding
... of pod"), answered (the client). Needs the testbed."""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import _testbed_env  # noqa: E402  (KUBECONFIG like `source /var/lib/testbed/env`)
from tests.e2e.harness import TILTPY, interrupt  # noqa: E402  ($TILTPY_BIN, else this checkout)
from tests.k8s_yaml import httpd_deployment  # noqa: E402

_testbed_env()

NAME = "tiltpy-bench-startup"
PORT = 8075
PHASES = [
    ("started", r"Loading Tiltfile at"),
    ("tiltfile_loaded", r"Successfully loaded Tiltfile"),
    ("docker_connected", r"Docker Engine at"),
    ("k8s_connected", r"Kubernetes context"),
    ("image_ready", r"Reusing image|Built \S+ in"),
    ("applied", r"applied deployment/"),
    ("forwarding", r"Forwarding .* of pod"),
]


def make_project(root: Path) -> None:
    (root / "www").mkdir(parents=True)
    (root / "www" / "index.html").write_text("hello from the startup benchmark\n")
    (root / "Dockerfile").write_text("FROM busybox\nCOPY www /www\n")
    (root / "k8s.yaml").write_text(httpd_deployment(NAME, f"{NAME}-image"))
    (root / "Tiltfile").write_text(textwrap.dedent(f"""\
        k8s_yaml('k8s.yaml')
        docker_build('{NAME}-image', '.', live_update=[sync('www', '/www')])
        k8s_resource('{NAME}', port_forwards='{PORT}:8000')
        """))


def _first_answer(deadline: float) -> float:
    """Connect, send a GET, wait for the answer; retry while refused. Returns
    the time (perf_counter) the answer arrived."""
    request = f"GET /index.html HTTP/1.0\r\nHost: localhost:{PORT}\r\n\r\n".encode()
    while time.perf_counter() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", PORT), timeout=60) as sock:
                sock.sendall(request)
                data = sock.recv(4096)
                if b"hello from the startup benchmark" in data or b" 200 " in data:
                    return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.005)
    raise TimeoutError("no answer through the port-forward")


def one_run(project: Path, env: dict[str, str]) -> dict[str, float]:
    start = time.perf_counter()
    proc = subprocess.Popen([*TILTPY, "up", "--stream", "--port", "0"], cwd=project, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    seen: dict[str, float] = {}
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.perf_counter()
            lines.append(line.rstrip("\n"))
            for name, pattern in PHASES:
                if name not in seen and re.search(pattern, line):
                    seen[name] = now

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        answered = _first_answer(start + 180)
    except TimeoutError:
        raise SystemExit("no answer; output:\n" + "\n".join(lines[-40:])) from None
    finally:
        interrupt(proc)
        reader.join(5)
    phases = {name: round(seen[name] - start, 3) for name, _ in PHASES if name in seen}
    phases["answered"] = round(answered - start, 3)
    return phases


def summary(runs: list[dict[str, float]]) -> dict[str, object]:
    answers = [r["answered"] for r in runs]
    return {"first_answer_s": {"median": round(statistics.median(answers), 3), "min": round(min(answers), 3),
                               "max": round(max(answers), 3)},
            "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs")
    parser.add_argument("--cold-runs", type=int, default=2)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not os.environ.get("TILTPY_BIN"):  # this checkout's package; else the installed one, alone
        env.setdefault("PYTHONPATH", str(REPO))
    project = Path(tempfile.mkdtemp(prefix="tiltpy-bench-startup-"))
    make_project(project)
    out: dict[str, object] = {"benchmark": "startup", "tiltpy": " ".join(TILTPY),
                              "load_average": os.getloadavg()[0]}
    try:
        one_run(project, env)  # builds the image and deploys: not timed
        time.sleep(1)
        out["warm"] = summary([one_run(project, env) for _ in range(args.runs)])
        cold = []
        for _ in range(args.cold_runs):
            subprocess.run([*TILTPY, "down"], cwd=project, env=env, capture_output=True)
            cold.append(one_run(project, env))
        if cold:
            out["cold"] = summary(cold)
        out["load_average_after"] = os.getloadavg()[0]
    finally:
        subprocess.run([*TILTPY, "down"], cwd=project, env=env, capture_output=True)
        shutil.rmtree(project, ignore_errors=True)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
