"""How tiltpy grows with the number of services, printed as JSON.

    python3 bench/scale.py [--sizes 10,50,100,200,400] [--max-pods 100] [--idle-seconds 60]

For each N it generates a project of N services (a busybox httpd Deployment
and a Service each, its own docker_build with a live_update sync, a
k8s_resource with a label; the Tiltfile a loop, as such projects are
written) in a namespace of its own, and reports:

load:        `tiltpy alpha tiltfile-result` wall time (median and min of 9),
             the process start included, and the first load (an empty
             cache directory: every YAML file parsed, the kubeconfig read);
up_ready:    `tiltpy up` (images already built by a warm-up `tiltpy ci`,
             whose pods are deleted and gone first) until every resource is
             ready, from the dashboard's /api/view (--cluster-baseline: also
             cluster_only_ready_s, the same number of busybox pods applied at
             once with kubectl, the cluster's own floor);
connections: TCP connections `up` holds to the API server once settled
             (one is the shared pod watch; one log stream per container,
             which the API serves only per container; the rest the REST pool);
idle:        `up`'s CPU (over --idle-seconds, after a minute of rest) and RSS.

Sizes above --max-pods get only the load figure: the testbed's kubelet runs
at most 110 pods. Needs the testbed."""
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
from tests.e2e.harness import TILTPY, interrupt, kubectl_json  # noqa: E402  ($TILTPY_BIN, else this checkout)
from tests.k8s_yaml import deployment, httpd_deployment  # noqa: E402

_testbed_env()

NAMESPACE = "tiltpy-bench-scale"
PORT = 10366


def generate(root: Path, n: int, namespace: str = NAMESPACE) -> None:
    (root / "k8s").mkdir(parents=True)
    for i in range(n):
        name = f"svc-{i}"
        service = root / "services" / name
        service.mkdir(parents=True)
        (service / "Dockerfile").write_text("FROM busybox\nCOPY . /www\n")
        (service / "index.html").write_text(f"{name}\n")
        service_yaml = textwrap.dedent(f"""\
            apiVersion: v1
            kind: Service
            metadata: {{name: {name}, namespace: {namespace}}}
            spec:
              selector: {{app: {name}}}
              ports: [{{port: 8000}}]
            """)
        deployment_yaml = httpd_deployment(name, f"scale-{name}", namespace=namespace)
        (root / "k8s" / f"{name}.yaml").write_text(deployment_yaml + "---\n" + service_yaml)
    (root / "Tiltfile").write_text(textwrap.dedent(f"""\
        update_settings(max_parallel_updates=4)
        for i in range({n}):
            name = 'svc-%d' % i
            k8s_yaml('k8s/%s.yaml' % name)
            docker_build('scale-' + name, 'services/' + name, live_update=[sync('services/' + name, '/www')])
            k8s_resource(name, labels=['group-%d' % (i % 10)])
        """))


def wait_until_no_pods(namespace: str = NAMESPACE, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = subprocess.run(["kubectl", "get", "pods", "-n", namespace, "-o", "name"],
                                capture_output=True, text=True).stdout
        if not listed.strip():
            return
        time.sleep(2)
    raise SystemExit(f"pods in {namespace} still there after {timeout:.0f} s")


def cluster_only_ready(n: int, namespace: str = NAMESPACE) -> float:
    """Seconds the cluster alone takes to make n busybox httpd pods ready
    (one `kubectl apply`, no tiltpy): the floor for up_ready."""
    yaml_text = "---\n".join(
        deployment(f"baseline-{i}", "busybox", "mkdir -p /www && exec httpd -f -p 8000 -h /www", namespace=namespace)
        .replace("          image: busybox\n", "          image: busybox\n          imagePullPolicy: IfNotPresent\n")
        for i in range(n))
    start = time.perf_counter()
    subprocess.run(["kubectl", "apply", "-f", "-"], input=yaml_text, text=True, check=True, capture_output=True)
    try:
        while True:
            listed = kubectl_json("get", "deployments", "-n", namespace)
            if sum(1 for d in listed["items"] if (d.get("status") or {}).get("readyReplicas") == 1) >= n:
                return round(time.perf_counter() - start, 1)
            if time.perf_counter() - start > 900:
                raise SystemExit(f"the cluster alone did not make {n} pods ready within 15 minutes")
            time.sleep(0.5)
    finally:
        subprocess.run(["kubectl", "delete", "-f", "-"], input=yaml_text, text=True, capture_output=True)
        wait_until_no_pods(namespace)


def load_time(project: Path, env: dict[str, str], runs: int = 9) -> dict[str, float]:
    def once(run_env: dict[str, str]) -> float:
        start = time.perf_counter()
        subprocess.run([*TILTPY, "alpha", "tiltfile-result"], cwd=project, env=run_env, check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    # The first load of a project parses its YAML; later ones find it in the
    # user's cache (tiltfile/yaml_cache.py). Both are reported.
    with tempfile.TemporaryDirectory(prefix="tiltpy-bench-cache-") as empty_cache:
        first = once({**env, "XDG_CACHE_HOME": empty_cache})
        times = [once({**env, "XDG_CACHE_HOME": empty_cache}) for _ in range(runs)]
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
            "first_load_s": round(first, 3)}


def _view(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/view", timeout=10) as response:
        return json.loads(response.read())


def _all_ready(view: dict, n: int) -> bool:
    resources = [r for r in view["resources"] if r["name"].startswith("svc-")]
    return len(resources) == n and all(r["runtimeStatus"] == "ok" and r["updateStatus"] == "ok" for r in resources)


def api_connections(pid: int, api_port: int = 6443) -> int:
    """Established TCP connections of `pid` to the API server's port."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == api_port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def run_up(project: Path, env: dict[str, str], n: int, idle_seconds: float, settle: float) -> dict:
    start = time.perf_counter()
    up = subprocess.Popen([*TILTPY, "up", "--port", str(PORT)], cwd=project, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = start + 900
        ready = None
        while time.perf_counter() < deadline:
            try:
                if _all_ready(_view(PORT), n):
                    ready = time.perf_counter() - start
                    break
            except OSError:
                pass
            if up.poll() is not None:
                raise SystemExit(f"up exited: {up.stderr.read().decode() if up.stderr else ''}")
            time.sleep(0.25)
        if ready is None:
            raise SystemExit(f"N={n}: not every resource became ready within 15 minutes")
        time.sleep(settle)
        connections = api_connections(up.pid)
        cpu0, t0 = _cpu_seconds(up.pid), time.monotonic()
        time.sleep(idle_seconds)
        cpu = 100 * (_cpu_seconds(up.pid) - cpu0) / (time.monotonic() - t0)
        return {"up_ready_s": round(ready, 1), "api_connections": connections,
                "idle_cpu_percent": round(cpu, 2), "idle_rss_mib": _rss_mib(up.pid)}
    finally:
        interrupt(up, 60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,100,200,400")
    parser.add_argument("--max-pods", type=int, default=100, help="larger sizes: load time only")
    parser.add_argument("--idle-seconds", type=float, default=60, help="CPU measured over this long")
    parser.add_argument("--cluster-baseline", action="store_true",
                        help="also time the cluster alone starting as many pods (kubectl apply)")
    parser.add_argument("--settle", type=float, default=60, help="rest after ready before measuring idle")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not os.environ.get("TILTPY_BIN"):  # this checkout's package; else the installed one, alone
        env.setdefault("PYTHONPATH", str(REPO))
    out: dict = {"benchmark": "scale", "tiltpy": " ".join(TILTPY), "load_average_start": os.getloadavg()[0],
                 "sizes": {}}
    subprocess.run(["kubectl", "create", "namespace", NAMESPACE], capture_output=True)
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            root = Path(tempfile.mkdtemp(prefix=f"tiltpy-bench-scale-{n}-"))
            project = root / "project"
            generate(project, n)
            figures: dict = {"load": load_time(project, env)}
            if n <= args.max_pods:
                # Build every image and start every pod once (not timed), then remove the pods.
                subprocess.run([*TILTPY, "ci", "--timeout", "30m"], cwd=project, env=env, check=True,
                               capture_output=True)
                subprocess.run([*TILTPY, "down"], cwd=project, env=env, capture_output=True)
                wait_until_no_pods()  # pods still terminating would slow the timed start
                if args.cluster_baseline:
                    figures["cluster_only_ready_s"] = cluster_only_ready(n)
                try:
                    figures.update(run_up(project, env, n, args.idle_seconds, args.settle))
                finally:
                    subprocess.run([*TILTPY, "down"], cwd=project, env=env, capture_output=True)
                    wait_until_no_pods()  # nor the next size's load time
            else:
                figures["up"] = f"not run: more than --max-pods {args.max_pods} pods (the kubelet runs at most 110)"
            out["sizes"][str(n)] = figures
            shutil.rmtree(root, ignore_errors=True)
            print(json.dumps({str(n): figures}), file=sys.stderr, flush=True)
    finally:
        subprocess.run(["kubectl", "delete", "namespace", NAMESPACE, "--wait=false"], capture_output=True)
    out["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
