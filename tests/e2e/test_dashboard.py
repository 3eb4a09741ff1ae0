"""The dashboard in real headless Chromium (Debian's `chromium`), driven
over the Chrome DevTools Protocol: while `up` runs a busybox project, the
page lists its resources with their status, a click on trigger starts a new
build that the page then shows, and the log pane shows the pod's output.
A screenshot is kept in test-artifacts/dashboard.png."""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.k8s_yaml import deployment
from tests.e2e.harness import REPO, Up, tiltpy

pytestmark = pytest.mark.e2e

PORT = 10364
NAME = "tiltpy-e2e-dash"
ARTIFACTS = REPO / "test-artifacts"


def make_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text("FROM busybox\nCOPY marker.txt /marker.txt\n")
    (root / "marker.txt").write_text(f"dash {time.time_ns()}\n")
    (root / "k8s.yaml").write_text(deployment(NAME, "tiltpy-e2e-dash-image", "i=0; while true; do i=$((i+1)); echo dash-tick $i; sleep 1; done"))
    (root / "Tiltfile").write_text(textwrap.dedent(f"""\
        k8s_yaml('k8s.yaml')
        docker_build('tiltpy-e2e-dash-image', '.')
        k8s_resource('{NAME}', labels=['frontend'], links=[link('http://localhost:18095/', 'docs')])
        """))
    return root


class Browser:
    """Headless Chromium and one page, over the DevTools websocket."""

    def __init__(self, profile: Path) -> None:
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        assert exe, "chromium is not installed (apt-get install -y chromium)"
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1400,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self.url = f"ws://127.0.0.1:{port}{path}"
        self.ws: Any = None
        self.session = ""
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self.errors: list[str] = []
        self._reader: asyncio.Task | None = None

    async def open(self, url: str) -> None:
        self.ws = await websockets.connect(self.url, max_size=None)
        self._reader = asyncio.create_task(self._read())
        target = await self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                                   session=False)
        self.session = attached["sessionId"]
        await self.send("Runtime.enable")
        await self.send("Page.enable")
        await self.send("Emulation.setDeviceMetricsOverride",
                        {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        await self.send("Page.navigate", {"url": url})

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self._pending:
                self._pending.pop(msg["id"]).set_result(msg)
            elif msg.get("method") == "Runtime.exceptionThrown":
                details = msg["params"]["exceptionDetails"]
                self.errors.append(str((details.get("exception") or {}).get("description") or details.get("text")))
            elif msg.get("method") == "Runtime.consoleAPICalled" and msg["params"].get("type") == "error":
                self.errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                            for a in msg["params"].get("args", [])))

    async def send(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        future = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self.ws.send(json.dumps(message))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def js(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                      "awaitPromise": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 120, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = await self.js(expression)
            except AssertionError as err:  # e.g. the page is still loading
                value = str(err)[-300:]
            else:
                if value:
                    return value
            await asyncio.sleep(0.25)
        await self.screenshot(ARTIFACTS / "dashboard-failure.png")
        raise AssertionError(f"timed out waiting for {what or expression} (last value {value!r})")

    async def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element."""
        rect = await self.js(f"""(() => {{
            const el = document.querySelector({json.dumps(selector)});
            if (!el) return null;
            el.scrollIntoView({{block: 'center'}});
            const r = el.getBoundingClientRect();
            return {{x: r.x + r.width / 2, y: r.y + r.height / 2}};
        }})()""")
        assert rect, f"nothing matches {selector}"
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", {"type": kind, "x": rect["x"], "y": rect["y"],
                                                         "button": "left", "clickCount": 1})

    async def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def row(name: str) -> str:
    return f'tr.res[data-name={json.dumps(name)}]'


async def drive(url: str, profile: Path) -> None:
    browser = Browser(profile)
    try:
        await browser.open(url)
        sel = row(NAME)
        # The page lists the resources with their status.
        await browser.wait_for(f"document.querySelector('{sel}')?.dataset.status === 'ok'", timeout=180,
                               what="the resource to show as ready")
        assert await browser.js(f"!!document.querySelector('{row('(Tiltfile)')}')")
        assert await browser.js(f"document.querySelector('{row('(Tiltfile)')}').dataset.status") == "ok"
        assert await browser.js("document.querySelector('tbody[data-group=\"frontend\"] .gname').textContent") \
            == "frontend"
        assert await browser.js(f"document.querySelector('{sel} .rstatus').textContent") == "ok"
        assert "docs" in await browser.js(f"document.querySelector('{sel} .endpoints').textContent")
        assert await browser.js(f"document.querySelector('{sel} .endpoints a').href") == "http://localhost:18095/"
        assert (await browser.js(f"document.querySelector('{sel} .pod').textContent")).startswith(NAME)
        assert await browser.js(f"document.querySelector('{sel} [data-action=mode]').textContent") == "auto"
        await browser.wait_for("document.querySelector('#conn').textContent === 'live'", timeout=10)

        # A click on trigger starts a new build, which the page shows.
        builds = int(await browser.js(f"document.querySelector('{sel}').dataset.builds"))
        await browser.wait_for(f"!document.querySelector('{sel} [data-action=trigger]').disabled", timeout=10,
                               what="the trigger button to be enabled (token)")
        await browser.click(f"{sel} [data-action=trigger]")
        await browser.wait_for(f"Number(document.querySelector('{sel}').dataset.builds) > {builds}", timeout=60,
                               what="a new build on the page")
        await browser.wait_for(f"document.querySelector('{sel}').dataset.status === 'ok' && "
                               f"document.querySelector('{sel}').dataset.update === 'ok'", timeout=180,
                               what="the triggered build to finish")
        assert "triggered" in await browser.js(f"document.querySelector('{sel} .ubuild').title")

        # The log pane shows the pod's output: all resources, then the resource alone.
        await browser.wait_for("[...document.querySelectorAll('#logs .line')]"
                               ".some(l => l.textContent.includes('dash-tick'))", timeout=60,
                               what="the pod's output in the log pane")
        await browser.click(f"{sel} .name")
        await browser.wait_for(f"document.querySelector('#log-title').textContent === {json.dumps(NAME)}",
                               timeout=10)
        await browser.wait_for("[...document.querySelectorAll('#logs .line')]"
                               ".some(l => l.textContent.includes('dash-tick'))", timeout=30,
                               what="the pod's output in the resource's log pane")
        assert await browser.js("[...document.querySelectorAll('#logs .line[data-resource]')]"
                                f".every(l => l.dataset.resource === {json.dumps(NAME)})")
        # Source filter: build lines only.
        await browser.js("(() => { const s = document.querySelector('#filter-source'); s.value = 'build';"
                         " s.dispatchEvent(new Event('change')); })()")
        text = await browser.js("document.querySelector('#logs').textContent")
        assert "Building Dockerfile" in text and "dash-tick" not in text
        await browser.js("(() => { const s = document.querySelector('#filter-source'); s.value = '';"
                         " s.dispatchEvent(new Event('change')); })()")
        await browser.wait_for("document.querySelector('#logs').textContent.includes('dash-tick')", timeout=10)
        await asyncio.sleep(1.5)  # a few more live lines for the picture
        await browser.screenshot(ARTIFACTS / "dashboard.png")
        assert not browser.errors, f"errors in the page: {browser.errors}"
    finally:
        await browser.close()


def test_dashboard_in_headless_chromium(testbed: dict, tmp_path: Path) -> None:
    project = make_project(tmp_path / "dash")
    up = Up(project, "--port", str(PORT))
    profile = Path(tempfile.mkdtemp(prefix="tiltpy-chromium-"))
    try:
        up.wait_for(rf"{NAME}\s*│ dash-tick", timeout=300)
        asyncio.run(drive(f"http://localhost:{PORT}/", profile))
        assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
        # The click went through the token-protected API, as a trigger.
        up.wait_for(rf"{NAME}\s*│ Updating: triggered", timeout=10)
    finally:
        up.stop()
        tiltpy("down", cwd=project)
        shutil.rmtree(profile, ignore_errors=True)
