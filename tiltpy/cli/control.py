"""Commands that talk to a running `tiltpy up` through its web API:
trigger, logs, get, describe, enable, disable, args.

`up` is found by its port (--port, TILTPY_PORT, default 10350) on localhost
(--host, TILTPY_HOST). Changes need the per-run token, which `up` hands to
clients on localhost (GET /api/token)."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Sequence

from tiltpy.cli.control_args import COMMANDS, add_parsers  # noqa: F401  (re-exported)
from tiltpy.cli.terminal import resource_status
from tiltpy.engine.store import kind_named

KINDS = {"resource", "resources", "uiresource", "uiresources", "uir", "res"}


class ControlError(Exception):
    pass


class Client:
    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host = host or "localhost"
        self.port = port
        connect_host = "127.0.0.1" if self.host in ("localhost", "", "0.0.0.0") else self.host
        if ":" in connect_host and not connect_host.startswith("["):
            connect_host = f"[{connect_host}]"
        self.base = f"http://{connect_host}:{port}"
        self.timeout = timeout
        self._token: str | None = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                 timeout: float | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as err:
            payload = err.read()
            try:
                message = json.loads(payload).get("error") or payload.decode(errors="replace")
            except (ValueError, AttributeError):
                raise ControlError(f"something on {self.where} answered {err.code}, but it isn't tiltpy up "
                                   f"(see --port / TILTPY_PORT)") from None
            raise ControlError(message) from None
        except (urllib.error.URLError, ConnectionError, OSError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, (ConnectionRefusedError, FileNotFoundError)) or "refused" in str(reason).lower():
                raise ControlError(f"no tiltpy up running on {self.where} "
                                   f"(start `tiltpy up`, or pass --port / set TILTPY_PORT)") from None
            raise ControlError(f"cannot reach tiltpy up on {self.where}: {reason}") from None
        try:
            return json.loads(payload)
        except ValueError:
            raise ControlError(f"something on {self.where} answered, but it isn't tiltpy up "
                               f"(see --port / TILTPY_PORT)") from None

    def get(self, path: str, timeout: float | None = None) -> Any:
        return self._request("GET", path, timeout=timeout)

    def post(self, path: str, body: Any) -> Any:
        if self._token is None:
            self._token = self.get("/api/token")["token"]
        return self._request("POST", path, body, headers={"X-Tiltpy-Token": self._token})

    def view(self) -> dict[str, Any]:
        return self.get("/api/view")


def run_control(args: argparse.Namespace, extra: Sequence[str] = ()) -> int:
    client = Client(args.host, args.port)
    out = sys.stdout
    try:
        handler = {"trigger": _trigger, "logs": _logs, "get": _get, "describe": _describe,
                   "enable": _enable, "disable": _enable, "args": _args}[args.command]
        return handler(client, args, list(extra), out)
    except ControlError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


# -- commands ------------------------------------------------------------------
def _names(values: list[str]) -> list[str]:
    """Drop a leading kind word: `get resources x`, `describe uiresource x`."""
    if values and values[0].lower() in KINDS:
        values = values[1:]
    return [v.split("/", 1)[1] if v.lower().split("/", 1)[0] in KINDS and "/" in v else v for v in values]


def _find(view: dict[str, Any], names: list[str]) -> list[dict[str, Any]]:
    by_name = {r["name"]: r for r in view["resources"]}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ControlError(f"no resource named {', '.join(map(repr, unknown))} (known: {', '.join(by_name)})")
    return [by_name[n] for n in names] if names else list(view["resources"])


def _trigger(client: Client, args: argparse.Namespace, extra: list[str], out: Any) -> int:
    for name in args.names:
        client.post("/api/trigger", {"name": name})
        print(f"Triggered {name}", file=out)
    return 0


def _enable(client: Client, args: argparse.Namespace, extra: list[str], out: Any) -> int:
    names = list(args.names)
    if args.all or args.labels:
        view = client.view()
        for res in view["resources"]:
            if res["type"] == "tiltfile" or res["name"] in names:
                continue
            if args.all or set(args.labels) & set(res.get("labels") or []):
                names.append(res["name"])
    if not names:
        raise ControlError(f"name the resources to {args.command} (or --all, --labels)")
    client.post(f"/api/{args.command}", {"names": names})
    for name in names:
        print(f"{'Enabled' if args.command == 'enable' else 'Disabled'} {name}", file=out)
    return 0


def _args(client: Client, args: argparse.Namespace, extra: list[str], out: Any) -> int:
    values = list(args.values) + list(extra)
    if not values and not args.clear:
        current = client.view()["session"].get("tiltfileArgs") or []
        print(shlex.join(current) if current else "(no Tiltfile args)", file=out)
        return 0
    client.post("/api/tiltfile_args", {"args": [] if args.clear else values})
    print(f"Tiltfile args set to: {shlex.join(values) if values and not args.clear else '(none)'}; reloading",
          file=out)
    return 0


def _get(client: Client, args: argparse.Namespace, extra: list[str], out: Any) -> int:
    if args.names and args.names[0].lower() not in KINDS and kind_named(args.names[0].split("/")[0]):
        return _get_objects(client, args, out)
    names = _names(args.names)
    view = client.view()
    resources = _find(view, names)
    if args.output == "json":
        data: Any = resources[0] if len(names) == 1 else {"kind": "List", "items": resources}
        print(json.dumps(data, indent=2, default=str), file=out)
    elif args.output == "yaml":
        import yaml

        data = resources[0] if len(names) == 1 else {"kind": "List", "items": resources}
        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip(), file=out)
    elif args.output == "name":
        for res in resources:
            print(res["name"], file=out)
    else:
        wide = args.output == "wide"
        header = ["NAME", "TYPE", "UPDATE", "RUNTIME", "TRIGGER", "STATUS"]
        if wide:
            header[5:5] = ["LABELS", "POD", "BUILDS"]
        rows = []
        for res in resources:
            _, status = resource_status(res)
            row = [res["name"], res["type"], res["updateStatus"] or "-", res["runtimeStatus"] or "-",
                   res["triggerMode"], status]
            if wide:
                pod = (res.get("pod") or {}).get("name") or "-"
                row[5:5] = [",".join(res.get("labels") or []) or "-", pod, str(len(res.get("buildHistory") or []))]
            rows.append(row)
        _table(header, rows, out)
    return 0


def _get_objects(client: Client, args: argparse.Namespace, out: Any) -> int:
    """`get KIND [NAME]` / `get KIND/NAME`: Tilt API objects, in Tilt's JSON shape."""
    word, _, name = args.names[0].partition("/")
    name = name or (args.names[1] if len(args.names) > 1 else "")
    query = {"kind": word, **({"name": name} if name else {})}
    data = client.get("/api/objects?" + urllib.parse.urlencode(query))
    items = [data] if name else data["items"]
    if args.output == "json":
        print(json.dumps(data, indent=2), file=out)
    elif args.output == "yaml":
        import yaml

        print(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip(), file=out)
    elif args.output == "name":
        for item in items:
            print(f"{item['kind'].lower()}/{item['metadata']['name']}", file=out)
    else:
        _table(["NAME", "CREATED AT"], [[i["metadata"]["name"], i["metadata"].get("creationTimestamp", "")]
                                        for i in items], out)
    return 0


def _table(header: list[str], rows: list[list[str]], out: Any) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [str(c).ljust(widths[i]) if i < len(row) - 1 else str(c) for i, c in enumerate(row)]
        print("   ".join(cells).rstrip(), file=out)


def _clock(t: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else "-"


def _describe(client: Client, args: argparse.Namespace, extra: list[str], out: Any) -> int:
    names = _names(args.names)
    view = client.view()
    resources = _find(view, names)
    for i, res in enumerate(resources):
        if i:
            print("", file=out)
        _, status = resource_status(res)
        pod = res.get("pod") or {}
        fields = [
            ("Name", res["name"]), ("Type", res["type"]), ("Labels", ", ".join(res.get("labels") or []) or "-"),
            ("Enabled", str(res.get("enabled", True)).lower()), ("Trigger mode", res["triggerMode"]),
            ("Auto init", str(res.get("autoInit", True)).lower()),
            ("Resource deps", ", ".join(res.get("resourceDeps") or []) or "-"),
            ("Status", status), ("Update status", res["updateStatus"]), ("Runtime status", res["runtimeStatus"]),
            ("Waiting", res.get("waitingReason") or "-"),
            ("Pod", f"{pod['name']} ({pod.get('phase') or '?'}, {pod.get('restarts', 0)} restarts)"
             if pod.get("name") else "-"),
        ]
        for key, value in fields:
            print(f"{key + ':':<16}{value}", file=out)
        endpoints = res.get("endpoints") or []
        print("Endpoints:" + ("" if endpoints else "      -"), file=out)
        for e in endpoints:
            print(f"  {e['url']}" + (f"  ({e['name']})" if e.get("name") and e["name"] != e["url"] else ""), file=out)
        images = res.get("images") or {}
        if images:
            print("Images:", file=out)
            for ref, built in images.items():
                print(f"  {ref} -> {built}", file=out)
        if res.get("pendingFiles"):
            print("Pending files:", file=out)
            for path in res["pendingFiles"]:
                print(f"  {path}", file=out)
        builds = res.get("buildHistory") or []
        print("Builds:" + ("" if builds else "         -"), file=out)
        for b in builds:
            duration = f"{b['durationSecs']:.2f}s" if b.get("durationSecs") is not None else "running"
            line = f"  {_clock(b.get('startTime'))}  {b.get('kind', 'build'):<11} {duration:>9}  {b.get('reason', '')}"
            print(line.rstrip(), file=out)
            if b.get("error"):
                print(f"      ERROR: {_first(b['error'])}", file=out)
        for key, label in (("updateError", "Update error"), ("runtimeError", "Runtime error")):
            if res.get(key):
                print(f"{label}:", file=out)
                for line in str(res[key]).splitlines():
                    print(f"  {line}", file=out)
        recent = client.get("/api/logs?" + urllib.parse.urlencode({"resource": res["name"], "tail": 10}))["lines"]
        print("Recent logs:" + ("" if recent else "    -"), file=out)
        for line in recent:
            print(f"  {line['text']}", file=out)
    return 0


def _first(text: str) -> str:
    return next((l for l in str(text).splitlines() if l.strip()), "")


def _logs(client: Client, args: argparse.Namespace, extra: list[str], out: Any) -> int:
    names = list(args.names)
    view = client.view()
    known = {r["name"] for r in view["resources"]}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ControlError(f"no resource named {', '.join(map(repr, unknown))} (known: {', '.join(known)})")
    width = min(max([len(n) for n in known] + [10]), 28)
    prefix = len(names) != 1
    params: list[tuple[str, str]] = [("resource", n) for n in names]
    if args.source != "all":
        params.append(("source", args.source))
    last_n: dict[str, int] = {}
    since, first = 0, True
    while True:
        query = params + [("since", str(since))]
        if first and args.tail:
            query.append(("tail", str(args.tail)))
        elif not first and args.follow:
            query.append(("wait", "25"))  # long poll: answers as soon as there are lines
        data = client.get("/api/logs?" + urllib.parse.urlencode(query), timeout=40)
        chunk = []
        for line in data["lines"]:
            seen = last_n.get(line["resource"], 0)
            if seen and line["n"] > seen + 1 and args.source == "all":
                chunk.append(_prefixed(line["resource"], f"... {line['n'] - seen - 1} lines skipped", width, prefix))
            last_n[line["resource"]] = line["n"]
            chunk.append(_prefixed(line["resource"], line["text"], width, prefix))
        if chunk:
            out.write("\n".join(chunk) + "\n")
            out.flush()
        since = data["next"]
        first = False
        if not args.follow and not data.get("more"):
            return 0


def _prefixed(resource: str, text: str, width: int, prefix: bool) -> str:
    return f"{resource[:width].ljust(width)} │ {text}" if prefix else text
