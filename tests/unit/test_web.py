"""The web API: reads, incremental logs, the websocket, and the token and
origin checks that keep other sites from steering `up`."""
from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tiltpy.engine.engine import Engine, EngineOptions
from tiltpy.engine.logs import TILTFILE, LogSink
from tiltpy.model.manifest import Manifest, TiltfileResult
from tiltpy.web.server import TOKEN_HEADER, WebApp, WebServer

PORT = 10350
BASE = f"http://localhost:{PORT}"
TOKEN = "test-token-123"


@pytest.fixture()
def setup():
    sink = LogSink(io.StringIO(), stream=False)
    manifests = [Manifest(name="frontend", labels=("web",), auto_init=False),
                 Manifest(name="backend", labels=("api",), auto_init=False)]
    result = TiltfileResult(tiltfile="/tmp/Tiltfile", manifests=manifests)
    engine = Engine(result, EngineOptions(), sink, tiltfile_args=["a"])
    engine._install(result.manifests)
    web = WebApp(sink, TOKEN, "localhost", PORT)
    web.attach(engine)
    with TestClient(web.app, base_url=BASE, client=("127.0.0.1", 50000)) as client:  # one loop for all requests
        yield web, engine, sink, client


def auth(origin: str | None = None) -> dict[str, str]:
    headers = {TOKEN_HEADER: TOKEN}
    if origin:
        headers["Origin"] = origin
    return headers


def test_view_lists_the_tiltfile_first_then_resources(setup) -> None:
    web, engine, sink, client = setup
    data = client.get("/api/view").json()
    names = [r["name"] for r in data["resources"]]
    assert names == [TILTFILE, "frontend", "backend"]
    frontend = data["resources"][1]
    for key in ("updateStatus", "runtimeStatus", "waitingReason", "buildHistory", "endpoints", "pod", "labels",
                "triggerMode", "enabled"):
        assert key in frontend
    assert frontend["labels"] == ["web"]
    assert data["session"]["tiltfileArgs"] == ["a"]


def test_dashboard_and_static_files_are_served(setup) -> None:
    """The page's modules (its own and the vendored libraries) all load from
    this server, none from elsewhere, and weigh under 250 KiB together."""
    client = setup[3]
    page = client.get("/")
    assert page.status_code == 200 and "/static/app/main.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from a CDN
    import re
    seen: dict[str, int] = {}
    todo = ["/static/app/main.js"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        response = client.get(path)
        assert response.status_code == 200, path
        assert "javascript" in response.headers["content-type"], path
        assert response.headers["cache-control"] == "no-cache"
        seen[path] = len(response.content)
        for target in re.findall(r'(?:from|import)\s*"(\.{1,2}/[^"]+)"', response.text):
            todo.append(os.path.normpath(str(Path(path).parent / target)))
    assert "/static/vendor/preact.js" in seen and "/static/vendor/ansi_up.js" in seen
    preloaded = set(re.findall(r'rel="modulepreload" href="([^"]+)"', page.text))
    assert preloaded == set(seen), "index.html preloads exactly the page's modules"
    css = client.get("/static/app.css")
    assert css.status_code == 200
    total = sum(seen.values()) + len(css.content)
    assert total < 250 * 1024, f"the page's JS and CSS weigh {total} bytes"


def test_token_only_for_localhost(setup) -> None:
    web, _, _, client = setup
    assert client.get("/api/token").json()["token"] == TOKEN
    # A page from another site (its Origin) can't have it...
    assert client.get("/api/token", headers={"Origin": "http://evil.example"}).status_code == 403
    # ...nor a DNS-rebinding page (Host is the attacker's name)...
    assert client.get("/api/token", headers={"Host": "evil.example:10350"}).status_code == 403
    # ...nor another machine.
    remote = TestClient(web.app, base_url=BASE, client=("10.1.2.3", 40000))
    assert remote.get("/api/token").status_code == 403
    assert client.get("/api/token", headers={"Origin": BASE}).status_code == 200


def test_host_check_applies_to_reads_too(setup) -> None:
    client = setup[3]
    assert client.get("/api/view", headers={"Host": "attacker.example"}).status_code == 403
    assert client.get("/api/view", headers={"Host": "127.0.0.1:10350"}).status_code == 200


def test_posts_need_the_token(setup) -> None:
    _, engine, _, client = setup
    assert client.post("/api/trigger", json={"name": "frontend"}).status_code == 403
    assert client.post("/api/trigger", json={"name": "frontend"},
                       headers={TOKEN_HEADER: "wrong"}).status_code == 403
    assert not engine.resources["frontend"].trigger_requested
    assert client.post("/api/trigger", json={"name": "frontend"}, headers=auth()).status_code == 200
    assert engine.resources["frontend"].trigger_requested


def test_posts_from_other_origins_are_refused_even_with_the_token(setup) -> None:
    _, engine, _, client = setup
    for origin in ("http://evil.example", "http://localhost:3000", "null"):
        response = client.post("/api/trigger", json={"name": "frontend"}, headers=auth(origin))
        assert response.status_code == 403, origin
    assert not engine.resources["frontend"].trigger_requested
    ok = client.post("/api/trigger", json={"name": "frontend"}, headers=auth(BASE))
    assert ok.status_code == 200


def test_trigger_unknown_resource(setup) -> None:
    client = setup[3]
    response = client.post("/api/trigger", json={"name": "nope"}, headers=auth())
    assert response.status_code == 404 and "nope" in response.json()["error"]


def test_trigger_mode_enable_disable_and_args(setup) -> None:
    _, engine, _, client = setup
    assert client.post("/api/trigger_mode", json={"name": "frontend", "mode": "manual"},
                       headers=auth()).status_code == 200
    view = {r["name"]: r for r in client.get("/api/view").json()["resources"]}
    assert view["frontend"]["triggerMode"] == "manual"
    assert client.post("/api/trigger_mode", json={"name": "frontend", "mode": "sometimes"},
                       headers=auth()).status_code == 400

    assert client.post("/api/disable", json={"names": ["frontend", "backend"]}, headers=auth()).status_code == 200
    view = {r["name"]: r for r in client.get("/api/view").json()["resources"]}
    assert not view["frontend"]["enabled"] and not view["backend"]["enabled"]
    assert client.post("/api/trigger", json={"name": "backend"}, headers=auth()).status_code == 409
    assert client.post("/api/enable", json={"names": ["backend"]}, headers=auth()).status_code == 200
    assert engine.resources["backend"].enabled
    assert client.post("/api/enable", json={"names": ["ghost"]}, headers=auth()).status_code == 404

    assert client.post("/api/tiltfile_args", json={"args": ["x", "--y"]}, headers=auth()).status_code == 200
    assert engine.tiltfile_args == ["x", "--y"]
    assert client.post("/api/tiltfile_args", json={"args": "x"}, headers=auth()).status_code == 400


def test_logs_incremental_reads(setup) -> None:
    _, _, sink, client = setup
    for i in range(5):
        sink.log("frontend", f"f{i}", "runtime")
        sink.log("backend", f"b{i}")
    sink.log("backend", "ERROR: broken")
    data = client.get("/api/logs").json()
    assert len(data["lines"]) == 11 and data["next"] == 11 and not data["more"]
    first = client.get("/api/logs", params={"resource": "frontend", "limit": 2}).json()
    assert [l["text"] for l in first["lines"]] == ["f0", "f1"] and first["more"]
    rest = client.get("/api/logs", params={"resource": "frontend", "since": first["next"]}).json()
    assert [l["text"] for l in rest["lines"]] == ["f2", "f3", "f4"] and not rest["more"]
    tail = client.get("/api/logs", params={"resource": "backend", "tail": 1}).json()
    assert tail["lines"][0]["level"] == "error" and tail["lines"][0]["source"] == "build"
    runtime = client.get("/api/logs", params={"source": "runtime"}).json()
    assert {l["resource"] for l in runtime["lines"]} == {"frontend"}
    assert client.get("/api/logs", params={"since": "x"}).status_code == 400


def test_websocket_snapshot_then_updates(setup) -> None:
    web, engine, sink, client = setup
    sink.log("frontend", "before connect")
    with client.websocket_connect(f"ws://localhost:{PORT}/ws") as ws:
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot"
        assert [r["name"] for r in snapshot["resources"]] == [TILTFILE, "frontend", "backend"]
        assert snapshot["order"] == [TILTFILE, "frontend", "backend"]
        assert [l["text"] for l in snapshot["logs"]] == ["before connect"]
        for i in range(3):
            sink.log("backend", f"live {i}")
        texts: list[str] = []
        while len(texts) < 3:
            message = ws.receive_json()
            texts += [l["text"] for l in message.get("logs", [])]
        assert texts == ["live 0", "live 1", "live 2"]
        # A state change sends only the resource that changed.
        engine.resources["backend"].waiting_reason = "waiting for a test"
        web.publish_view()  # what the engine's listener (or the periodic refresh) does
        message = {}
        for _ in range(50):
            message = ws.receive_json()
            if message.get("resources"):
                break
        assert [r["name"] for r in message["resources"]] == ["backend"]
        assert message["resources"][0]["waitingReason"] == "waiting for a test"


def test_websocket_from_another_origin_is_refused(setup) -> None:
    client = setup[3]
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect(f"ws://localhost:{PORT}/ws", headers={"Origin": "http://evil.example"}) as ws:
            ws.receive_json()


def test_websocket_caps_a_flood(setup) -> None:
    _, _, sink, client = setup
    with client.websocket_connect(f"ws://localhost:{PORT}/ws") as ws:
        ws.receive_json()
        for i in range(5000):
            sink.log("frontend", f"flood {i}", "runtime")
        received, skipped, last = 0, 0, ""
        while last != "flood 4999":
            message = ws.receive_json()
            lines = message.get("logs", [])
            assert len(lines) <= 300
            received += len(lines)
            skipped += message.get("skipped", 0)
            if lines:
                last = lines[-1]["text"]
        assert received + skipped == 5000
        assert skipped > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_real_server_on_its_own_thread_steers_the_engine_loop() -> None:
    async def main() -> None:
        sink = LogSink(io.StringIO(), stream=False)
        port = _free_port()
        server = WebServer(sink, "localhost", port)
        assert await server.start()
        assert server.url == f"http://localhost:{port}/"
        base = f"http://127.0.0.1:{port}"
        status, view = await asyncio.to_thread(_get, base + "/api/view")
        assert status == 200 and view["session"]["loading"] is True

        result = TiltfileResult(tiltfile="/tmp/Tiltfile", manifests=[Manifest(name="svc", auto_init=False)])
        engine = Engine(result, EngineOptions(), sink)
        engine._install(result.manifests)
        server.attach(engine)
        await asyncio.sleep(0.05)
        status, view = await asyncio.to_thread(_get, base + "/api/view")
        assert [r["name"] for r in view["resources"]] == [TILTFILE, "svc"]
        status, token = await asyncio.to_thread(_get, base + "/api/token")
        headers = {TOKEN_HEADER: token["token"], "Content-Type": "application/json"}
        status, _ = await asyncio.to_thread(_get, base + "/api/trigger_mode",
                                            json.dumps({"name": "svc", "mode": "manual"}).encode(), headers)
        assert status == 200 and engine.resources["svc"].trigger_mode == 1  # applied on this loop
        await asyncio.sleep(0.05)
        status, view = await asyncio.to_thread(_get, base + "/api/view")
        assert view["resources"][1]["triggerMode"] == "manual"
        status, body = await asyncio.to_thread(_get, base + "/api/trigger", json.dumps({"name": "x"}).encode(),
                                               headers)
        assert status == 404 and "x" in body["error"]
        await server.stop()

    asyncio.run(main())


def test_a_taken_port_warns_and_carries_on() -> None:
    async def main() -> None:
        sink = LogSink(io.StringIO(), stream=False)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            server = WebServer(sink, "localhost", taken.getsockname()[1])
            assert not await server.start()
            assert server.url == ""
            await server.stop()
        assert any("dashboard is off" in l.text and "--port" in l.text for l in sink.lines(TILTFILE))

    asyncio.run(main())


def _button(name: str, resource: str = "frontend") -> dict:
    return {"apiVersion": "tilt.dev/v1alpha1", "kind": "UIButton",
            "metadata": {"name": name, "annotations": {"tilt.dev/resource": resource}},
            "spec": {"text": name.title(), "location": {"componentType": "Resource", "componentID": resource},
                     "inputs": [{"name": "WHO", "text": {"defaultValue": "x"}}]}}


def test_api_objects_and_uibutton_clicks(setup) -> None:
    web, engine, _, client = setup
    engine.store.apply(_button("deploy"))
    engine.store.apply({"kind": "Cmd", "metadata": {"name": "btn-deploy"}, "spec": {"args": ["true"]}})
    listing = client.get("/api/objects?kind=uibuttons").json()
    assert listing["kind"] == "List" and [i["metadata"]["name"] for i in listing["items"]] == ["deploy"]
    one = client.get("/api/objects?kind=cmd&name=btn-deploy").json()
    assert one["kind"] == "Cmd" and one["spec"] == {"args": ["true"]} and one["metadata"]["uid"]
    assert client.get("/api/objects?kind=cmd&name=nope").status_code == 404
    assert client.get("/api/objects?kind=widget").status_code == 400
    # The view (and the websocket's snapshot) carries the buttons for the dashboard.
    web.publish_view()
    assert [b["metadata"]["name"] for b in client.get("/api/view").json()["uiButtons"]] == ["deploy"]
    with client.websocket_connect(f"ws://localhost:{PORT}/ws") as ws:
        assert ws.receive_json()["uiButtons"][0]["spec"]["text"] == "Deploy"
    # A click needs the token, and is recorded with its inputs.
    body = {"name": "deploy", "inputs": [{"name": "WHO", "text": {"value": "me"}}]}
    assert client.post("/api/uibutton", json=body).status_code == 403
    assert client.post("/api/uibutton", json=body, headers=auth()).status_code == 200
    status = engine.store.get("UIButton", "deploy")["status"]
    assert status["inputs"] == body["inputs"] and status["lastClickedAt"].endswith("Z")
    assert client.post("/api/uibutton", json={"name": "nope"}, headers=auth()).status_code == 404
    assert client.post("/api/uibutton", json={"name": 3}, headers=auth()).status_code == 400


def test_with_a_non_local_host_only_our_own_origin_may_read_or_steer() -> None:
    sink = LogSink(io.StringIO(), stream=False)
    result = TiltfileResult(tiltfile="/tmp/Tiltfile", manifests=[Manifest(name="a", auto_init=False)])
    engine = Engine(result, EngineOptions(host="0.0.0.0"), sink)
    engine._install(result.manifests)
    web = WebApp(sink, TOKEN, "0.0.0.0", PORT)
    web.attach(engine)
    lan = f"192.168.1.5:{PORT}"
    with TestClient(web.app, base_url=f"http://{lan}", client=("192.168.1.9", 50000)) as client:
        assert client.get("/api/view").status_code == 200  # no Origin: not a page
        assert client.get("/api/view", headers={"Origin": f"http://{lan}"}).status_code == 200
        # A page of another site on the same port number used to pass: it must not.
        for origin in (f"http://evil.example:{PORT}", "http://192.168.1.5:3000", "null"):
            assert client.get("/api/view", headers={"Origin": origin}).status_code == 403, origin
            assert client.get("/api/logs", headers={"Origin": origin}).status_code == 403, origin
            assert client.post("/api/trigger", json={"name": "a"}, headers=auth(origin)).status_code == 403
            with pytest.raises(WebSocketDisconnect):
                with client.websocket_connect(f"ws://{lan}/ws", headers={"Origin": origin}) as ws:
                    ws.receive_json()
        with client.websocket_connect(f"ws://{lan}/ws", headers={"Origin": f"http://{lan}"}) as ws:
            assert "resources" in json.dumps(ws.receive_json())


def test_secrets_are_scrubbed_from_errors_and_objects(setup) -> None:
    web, engine, sink, client = setup
    sink.set_secrets({"hunter2": "[redacted secret db:password]"})
    engine.resources["frontend"].update_error = "login failed with password hunter2"
    engine.store.apply({"kind": "Cmd", "metadata": {"name": "c"}, "spec": {"args": ["echo", "hunter2"]}})
    web.publish_view()
    view = client.get("/api/view").text
    assert "hunter2" not in view and "login failed with password [redacted secret db:password]" in view
    assert "hunter2" not in client.get("/api/objects?kind=cmd").text


def test_spa_paths_serve_the_page(setup) -> None:
    client = setup[3]
    for path in ("/overview", "/r/frontend/overview", "/r/(all)/overview?level=error", "/r/a%2Fb/overview"):
        page = client.get(path)
        assert page.status_code == 200 and '<div id="app"' in page.text, path
        assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/nope").status_code == 404


def test_trigger_is_refused_while_updating_or_queued(setup) -> None:
    _, engine, _, client = setup
    res = engine.resources["frontend"]
    res.update_status = "in_progress"
    refused = client.post("/api/trigger", json={"name": "frontend"}, headers=auth())
    assert refused.status_code == 409 and "already updating" in refused.json()["error"]
    assert not res.trigger_requested
    res.update_status, res.first_update_done = "ok", True
    assert client.post("/api/trigger", json={"name": "frontend"}, headers=auth()).status_code == 200
    assert client.get("/api/view").json()["resources"][1]["queued"] is True
    again = client.post("/api/trigger", json={"name": "frontend"}, headers=auth())
    assert again.status_code == 409 and "already queued" in again.json()["error"]


def test_a_resource_waiting_for_its_first_update_cannot_be_triggered(setup) -> None:
    _, engine, _, client = setup
    res = engine.resources["backend"]
    res.manifest = dataclasses.replace(res.manifest, auto_init=True)
    res.waiting_reason = "waiting on resource_deps: db"
    refused = client.post("/api/trigger", json={"name": "backend"}, headers=auth())
    assert refused.status_code == 409 and "resource_deps: db" in refused.json()["error"]


def test_build_records_count_their_warnings_and_logs_mark_update_headers(setup) -> None:
    web, engine, sink, client = setup
    from tiltpy.engine.resource import BuildRecord
    res = engine.resources["frontend"]
    sink.log("frontend", "WARNING: from before")
    record = BuildRecord(started=1.0)
    engine._start_record(res, record, "Updating: test")
    sink.log("frontend", "WARNING: careful")
    sink.log("frontend", "WARNING: pod says", "runtime")
    sink.log("frontend", "fine")
    engine._finish_record(res, record)
    web.publish_view()
    view = client.get("/api/view").json()["resources"][1]
    build = view["buildHistory"][0]
    assert build["spanID"] == "build:1" and build["warningCount"] == 1
    assert build["lastWarningSeq"] == [l.seq for l in sink.lines("frontend") if l.text == "WARNING: careful"][0]
    assert view["runtimeWarningCount"] == 1 and view["runtimeWarningSeq"] > 0
    lines = client.get("/api/logs", params={"resource": "frontend"}).json()["lines"]
    header = [l for l in lines if l["text"] == "Updating: test"][0]
    assert header["buildEvent"] == "init" and "buildEvent" not in lines[0]
