"""Faults injected while `tiltpy up` runs a small app, and how `up` comes
through each: did it recover, how many seconds until the app served the next
edit, and how many of the pod's log lines were lost or shown twice.

The app is a busybox pod that serves a synced file (live update) through a
port-forward and prints a numbered tick every 0.2 s. Faults, in order:
the API server restarted, the pod deleted, a port-forward's pod killed in
the middle of a request, the Docker Engine restarted. Log continuity is
counted for the faults that keep the container (the API server restart);
for the others the container is replaced and its ticks start again.

    source /var/lib/testbed/env && python3 bench/faults.py [--short]

--short runs only the API server restart and the pod deletion; --check exits
1 when a fault could not be injected or was not recovered from, or a log
line was lost or repeated
(.ci/run runs `--short --check`)."""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import _testbed_env  # noqa: E402  (KUBECONFIG like `source /var/lib/testbed/env`)
from tests.e2e.harness import Up, live_pods, tiltpy  # noqa: E402
from tests.e2e.test_faults import _kill_daemon, _restart_testbed, _ticks  # noqa: E402
from tests.k8s_yaml import deployment  # noqa: E402

_testbed_env()

NAME = "tiltpy-bench-faults"
PORT = 8111
COMMAND = (f"httpd -p {PORT} -h /www && i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done")


def make_project(root: Path) -> Path:
    (root / "www").mkdir(parents=True)
    (root / "www" / "index.html").write_text("version 0\n")
    (root / "Dockerfile").write_text("FROM busybox\nCOPY www /www\n")
    (root / "k8s.yaml").write_text(deployment(NAME, f"{NAME}-image", COMMAND))
    (root / "Tiltfile").write_text(
        f"k8s_yaml('k8s.yaml')\n"
        f"docker_build('{NAME}-image', '.', live_update=[sync('www', '/www')])\n"
        f"k8s_resource('{NAME}', port_forwards={PORT})\n")
    return root


def fetch(timeout: float = 3) -> str:
    with urllib.request.urlopen(f"http://localhost:{PORT}/index.html", timeout=timeout) as response:
        return response.read().decode()


def serve_next_edit(project: Path, version: int, limit: float = 300) -> float | None:
    """Save an edit; seconds until it is served through the forward (None: never)."""
    started = time.monotonic()
    (project / "www" / "index.html").write_text(f"version {version}\n")
    while time.monotonic() - started < limit:
        try:
            if fetch().strip() == f"version {version}":
                return round(time.monotonic() - started, 2)
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return None


def current_pod() -> str:
    """The app's pod that is not being deleted."""
    live = live_pods(f"app={NAME}")
    if not live:
        raise RuntimeError(f"no pod labelled app={NAME} to inject the fault into")
    return live[0]["metadata"]["name"]


def api_server_restart(up: Up) -> None:
    _kill_daemon("apiserver")
    time.sleep(4)
    _restart_testbed()


def pod_deleted(up: Up) -> None:
    subprocess.run(["kubectl", "delete", "pod", current_pod(), "--wait=false"], capture_output=True, check=True)


def forward_pod_killed_mid_request(up: Up) -> None:
    held = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    held.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.3)
    subprocess.run(["kubectl", "delete", "pod", current_pod(), "--grace-period=0", "--force"], capture_output=True,
                   check=True)
    held.settimeout(30)
    try:
        held.recv(4096)
    except OSError:
        pass
    held.close()


def docker_engine_restart(up: Up) -> None:
    _kill_daemon("dockerd")
    time.sleep(2)
    _restart_testbed()


def run_fault(up: Up, project: Path, name: str, inject: Callable[[Up], None], version: int) -> dict:
    before = up.mark()
    started = time.monotonic()
    result: dict = {"fault": name}
    try:
        inject(up)
    except Exception as err:  # a fault we could not inject is reported, not fatal
        result["error"] = f"injecting: {err}"
    seconds = serve_next_edit(project, version)
    result["recovered"] = seconds is not None
    result["seconds_to_serve_next_edit"] = round(time.monotonic() - started, 2) if seconds is not None else None
    if name == "api_server_restart":
        time.sleep(3)  # let the resumed stream catch up
        during = _ticks("\n".join(up.output.splitlines()[before:]))
        expected = list(range(during[0], during[-1] + 1)) if during else []
        result["log_lines_lost"] = len(set(expected) - set(during))
        result["log_lines_duplicated"] = len(during) - len(set(during))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="only the API server restart and the pod deletion")
    parser.add_argument("--check", action="store_true", help="exit 1 unless every fault was survived")
    args = parser.parse_args()
    faults: list[tuple[str, Callable[[Up], None]]] = [("api_server_restart", api_server_restart),
                                                      ("pod_deleted", pod_deleted)]
    if not args.short:
        faults += [("forward_pod_killed_mid_request", forward_pod_killed_mid_request),
                   ("docker_engine_restart", docker_engine_restart)]
    import tempfile

    results = []
    with tempfile.TemporaryDirectory(prefix="tiltpy-bench-faults-") as tmp:
        project = make_project(Path(tmp))
        up = Up(project, "--port", "0")
        try:
            up.wait_for(r"│ tick 5$", timeout=300)
            first = serve_next_edit(project, 1)
            results.append({"fault": "none (baseline edit)", "recovered": first is not None,
                            "seconds_to_serve_next_edit": first})
            for version, (name, inject) in enumerate(faults, start=2):
                results.append(run_fault(up, project, name, inject, version))
        finally:
            up.stop()
            tiltpy("down", cwd=project)
    print(json.dumps({"faults": results}, indent=2))
    failed = [r["fault"] for r in results  # a fault that could not be injected proves nothing: it fails too
              if not r["recovered"] or r.get("error") or r.get("log_lines_lost") or r.get("log_lines_duplicated")]
    if args.check and failed:
        print(f"not survived: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
