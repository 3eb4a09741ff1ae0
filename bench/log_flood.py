"""A pod printing ~10 MB/s of logs: tiltpy's memory must stay bounded and
its dashboard responsive, and it must read the logs as fast as the cluster
hands them out.

Runs `tiltpy up` (stdout to /dev/null: not a terminal, so every line is also
formatted and written, the heavier path) on a small busybox project whose
pod prints 200-character lines (--line-length) at about 10 MB/s for
--seconds (default 60).
Meanwhile it samples tiltpy's RSS every second from /proc/<pid>/status,
times GET /api/view and GET /api/logs?tail=100, and keeps a dashboard
websocket open, counting what it is sent. At the end, for --compare-seconds,
`kubectl logs -f` reads the same pod beside tiltpy: what the cluster delivers
to a Go client is the ceiling of what any client can ingest (on the 2-core
testbed, the kubelet and API server hand out ~6 MB/s of 200-character lines
whatever reads, even from a finished log; ~17 MB/s of 2000-character lines).

--synthetic measures tiltpy's side alone: a server process on loopback sends
timestamped lines of --line-length characters as the API server does (one
HTTP chunk per line) as fast as tiltpy reads them, through the same path (the raw HTTP
reader, the resume cursor, the log store, the terminal writer to /dev/null).
Prints JSON.

    source /var/lib/testbed/env && python3 bench/log_flood.py [--seconds 60] [--port 10365] [--line-length 200]
    python3 bench/log_flood.py --synthetic [--seconds 20]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import _testbed_env  # noqa: E402  (KUBECONFIG like `source /var/lib/testbed/env`)
from tests.e2e.harness import live_pods  # noqa: E402
from tests.k8s_yaml import deployment  # noqa: E402

_testbed_env()

NAME = "tiltpy-bench-flood"


def pod_command(line_length: int) -> str:
    """1 MB of `line_length`-character lines every 0.07 s: a little over 10 MB/s
    with the time `cat` takes (what the pod really printed is measured)."""
    return (f"yes $(printf %0{line_length}d 0) | head -n {1_000_000 // (line_length + 1)} > /tmp/block; "
            "while true; do cat /tmp/block; sleep 0.07; done")


def mb_per_s(lines_per_s: float, line_length: int) -> float:
    return round(lines_per_s * (line_length + 1) / 1e6, 2)  # each line and its newline


def running_pod(name: str) -> dict:
    """The pod printing now (one of an earlier run may still be terminating)."""
    running = [pod for pod in live_pods(f"app={name}") if pod["status"].get("phase") == "Running"]
    if not running:
        raise SystemExit(f"no running pod labelled app={name}")
    return running[0]


class PodLogFile:
    """The lines the pod printed, counted from the container runtime's log file
    (the testbed's Docker Engine is local; json-file, one JSON object per line)."""

    def __init__(self, name: str) -> None:
        container_id = running_pod(name)["status"]["containerStatuses"][0]["containerID"].split("://")[-1]
        self.path = subprocess.run(["docker", "inspect", "-f", "{{.LogPath}}", container_id],
                                   capture_output=True, text=True, check=True).stdout.strip()
        with open(self.path, "rb") as f:
            self.bytes_per_line = len(f.readline())

    def mark(self) -> tuple[int, float]:
        return os.stat(self.path).st_size, time.monotonic()

    def rate_since(self, mark: tuple[int, float], line_length: int) -> dict:
        size, now = self.mark()
        lines = (size - mark[0]) / self.bytes_per_line / (now - mark[1])
        return {"lines_per_s": round(lines), "mb_per_s": mb_per_s(lines, line_length)}


def make_project(root: Path, line_length: int) -> None:
    (root / "Dockerfile").write_text("FROM busybox\nCOPY marker.txt /marker.txt\n")
    (root / "marker.txt").write_text(f"flood {time.time_ns()}\n")
    (root / "k8s.yaml").write_text(deployment(NAME, f"{NAME}-image", pod_command(line_length)))
    (root / "Tiltfile").write_text(f"k8s_yaml('k8s.yaml')\ndocker_build('{NAME}-image', '.')\n")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def timed_get(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    return (time.perf_counter() - start) * 1000, body


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 1)


async def watch_websocket(url: str, stop: threading.Event, stats: dict) -> None:
    import websockets

    async with websockets.connect(url, max_size=None) as ws:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=1)
            except asyncio.TimeoutError:
                continue
            msg = json.loads(raw)
            stats["messages"] += 1
            stats["bytes"] += len(raw)
            stats["max_message_bytes"] = max(stats["max_message_bytes"], len(raw))
            stats["lines"] += len(msg.get("logs", []))
            stats["skipped"] += msg.get("skipped", 0)


SYNTHETIC_SERVER = r"""
import asyncio, sys
LINE = "0" * int(sys.argv[1])

async def serve(reader, writer):
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    i = 0
    try:
        while True:
            block = []
            for _ in range(500):
                line = ("2026-12-02T13:%02d:%02d.%09dZ %s\n" % ((i // 600000) % 60, (i // 10000) % 60, i, LINE)).encode()
                block.append(b"%x\r\n%s\r\n" % (len(line), line))
                i += 1
            writer.write(b"".join(block))
            await writer.drain()
    except ConnectionError:
        pass  # the reader is done

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


def synthetic(seconds: float, line_length: int) -> dict:
    """tiltpy's log path fed faster than it can read, by another process."""
    from tiltpy.engine.logs import LogSink
    from tiltpy.k8s.client import K8sClient
    from tiltpy.k8s.connection import ClusterConnection
    from tiltpy.k8s.credentials import CredentialProvider
    from tiltpy.k8s.log_cursor import LogCursor

    server = subprocess.Popen([sys.executable, "-c", SYNTHETIC_SERVER, str(line_length)], stdout=subprocess.PIPE,
                              text=True)
    assert server.stdout is not None
    url = f"http://127.0.0.1:{server.stdout.readline().strip()}"

    async def read() -> dict:
        client = K8sClient(ClusterConnection(server=url, credentials=CredentialProvider(server=url, user="u",
                                                                                        tls=None)))
        sink = LogSink(out=open(os.devnull, "w"))
        cursor = LogCursor()
        lines = 0
        peak = 0
        start, cpu = time.monotonic(), time.process_time()
        async for batch in client.stream_log_batches("ns", "flood", "c", timestamps=True):
            shown = [text for text in map(cursor.accept, batch) if text is not None]
            sink.log_lines("flood", shown, "runtime")
            lines += len(shown)
            if lines % 20000 < len(shown):
                peak = max(peak, rss_kib(os.getpid()))
            if time.monotonic() - start > seconds:
                break
        elapsed = time.monotonic() - start
        busy = (time.process_time() - cpu) / elapsed
        await client.close()
        sink.flush()
        return {"lines_per_s": round(lines / elapsed), "mb_per_s_ingested": mb_per_s(lines / elapsed, line_length),
                "reader_cpu_percent": round(100 * busy), "peak_rss_mib": round(peak / 1024, 1),
                "note": "plain HTTP on loopback (the API server adds TLS); the sender is another process"}

    try:
        return asyncio.run(read())
    finally:
        server.kill()
        server.wait()


def kubectl_rate(name: str, seconds: float, line_length: int) -> dict:
    """Lines per second `kubectl logs -f` gets from the pod over `seconds`."""
    # --tail, not --since: the kubelet finds a time by reading the log file from its start.
    proc = subprocess.Popen(["kubectl", "logs", "-f", "--tail=1", running_pod(name)["metadata"]["name"]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    counted = [0]

    def count() -> None:  # in a thread: a stalled stream must not stall the measurement
        for _ in proc.stdout:
            counted[0] += 1

    start = time.monotonic()
    reader = threading.Thread(target=count, daemon=True)
    reader.start()
    reader.join(seconds)
    lines, elapsed = counted[0], time.monotonic() - start
    proc.kill()
    proc.wait()
    figures = {"lines_per_s": round(lines / elapsed), "mb_per_s": mb_per_s(lines / elapsed, line_length)}
    if not lines:
        figures["kubectl_error"] = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace")[-500:]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--compare-seconds", type=float, default=10)
    parser.add_argument("--port", type=int, default=10365)
    parser.add_argument("--line-length", type=int, default=200,
                        help="characters per log line (the cluster's cost is per line: on the testbed it hands "
                             "out ~6 MB/s of 200-character lines and ~17 MB/s of 2000-character ones)")
    parser.add_argument("--synthetic", action="store_true", help="tiltpy's log path alone, fed by a local server")
    args = parser.parse_args()
    if args.synthetic:
        print(json.dumps({"synthetic": synthetic(args.seconds, args.line_length),
                          "load_average": os.getloadavg()[0]}, indent=2))
        return 0
    base = f"http://127.0.0.1:{args.port}"
    workdir = Path(tempfile.mkdtemp(prefix="tiltpy-flood-"))
    make_project(workdir, args.line_length)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    repo = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = str(repo) + os.pathsep + env.get("PYTHONPATH", "")
    up = subprocess.Popen([sys.executable, "-m", "tiltpy", "up", "--port", str(args.port)], cwd=workdir,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    result: dict = {"seconds": args.seconds, "rate_target_mb_s": 10, "line_length": args.line_length,
                    "load_average": os.getloadavg()[0]}
    try:
        # Wait until the pod is running and its lines arrive.
        deadline = time.monotonic() + 300
        seq0 = None
        while time.monotonic() < deadline:
            try:
                _, body = timed_get(base + "/api/view")
                view = json.loads(body)
                res = {r["name"]: r for r in view["resources"]}.get(NAME)
                if res and res["runtimeStatus"] == "ok":
                    seq0 = view["session"]["logSeq"]
                    break
            except OSError:
                pass
            if up.poll() is not None:
                raise SystemExit(f"tiltpy up exited: {up.stderr.read().decode() if up.stderr else ''}")
            time.sleep(0.5)
        if seq0 is None:
            raise SystemExit("the flooding pod never became ready")
        time.sleep(2)
        result["rss_before_flood_mib"] = round(rss_kib(up.pid) / 1024, 1)

        stop = threading.Event()
        ws_stats = {"messages": 0, "bytes": 0, "max_message_bytes": 0, "lines": 0, "skipped": 0}
        ws_thread = threading.Thread(target=lambda: asyncio.run(
            watch_websocket(f"ws://127.0.0.1:{args.port}/ws", stop, ws_stats)), daemon=True)
        ws_thread.start()

        samples, view_ms, logs_ms = [], [], []
        _, body = timed_get(base + "/api/logs?tail=1")
        seq_start, t_start = json.loads(body)["lastSeq"], time.monotonic()
        pod_log = PodLogFile(NAME)
        printed_from = pod_log.mark()
        end = t_start + args.seconds
        while time.monotonic() < end:
            tick = time.monotonic()
            samples.append(rss_kib(up.pid))
            ms, _ = timed_get(base + "/api/view")
            view_ms.append(ms)
            ms, body = timed_get(base + "/api/logs?tail=100")
            logs_ms.append(ms)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        _, body = timed_get(base + "/api/logs?tail=1")
        data = json.loads(body)
        elapsed = time.monotonic() - t_start
        lines = data["lastSeq"] - seq_start
        result["pod_printed"] = pod_log.rate_since(printed_from, args.line_length)
        stop.set()
        ws_thread.join(5)
        cpu = open(f"/proc/{up.pid}/stat").read().split(")")[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        if args.compare_seconds > 0:  # the same window, read by tiltpy and by kubectl
            _, body = timed_get(base + "/api/logs?tail=1")
            seq_a, t_a = json.loads(body)["lastSeq"], time.monotonic()
            result["kubectl_same_window"] = kubectl_rate(NAME, args.compare_seconds, args.line_length)
            _, body = timed_get(base + "/api/logs?tail=1")
            tiltpy_lines = (json.loads(body)["lastSeq"] - seq_a) / (time.monotonic() - t_a)
            result["tiltpy_same_window"] = {"lines_per_s": round(tiltpy_lines),
                                            "mb_per_s": mb_per_s(tiltpy_lines, args.line_length)}
        result.update({
            "lines_ingested": lines,
            "lines_per_s": round(lines / elapsed),
            "mb_per_s_ingested": mb_per_s(lines / elapsed, args.line_length),
            "peak_rss_mib": round(max(samples) / 1024, 1),
            "rss_at_end_mib": round(samples[-1] / 1024, 1),
            "vm_hwm_mib": round(rss_kib(up.pid, "VmHWM") / 1024, 1),
            "api_view_ms": {"p50": pct(view_ms, 50), "p95": pct(view_ms, 95), "max": round(max(view_ms), 1)},
            "api_logs_tail100_ms": {"p50": pct(logs_ms, 50), "p95": pct(logs_ms, 95), "max": round(max(logs_ms), 1)},
            "websocket": {**ws_stats, "kib_per_s": round(ws_stats["bytes"] / 1024 / elapsed, 1)},
            "tiltpy_cpu_seconds_total": round((int(cpu[11]) + int(cpu[12])) / ticks, 1),
        })
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(30)
            except subprocess.TimeoutExpired:
                up.kill()
        subprocess.run([sys.executable, "-m", "tiltpy", "down"], cwd=workdir, env=env, capture_output=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
