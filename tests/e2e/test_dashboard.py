"""The dashboard in Debian's headless Chromium, driven by Playwright, on a
real `tiltpy up`: local resources for most of it (statuses, warnings, ANSI
logs, the trigger lock, URLs, shortcuts, the disconnected state), one
Kubernetes workload for pods and endpoints. Screenshots of both views go to
test-artifacts/."""
from __future__ import annotations

import re
import shutil
import textwrap
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.chromium import ARTIFACTS
from tests.browser.helpers import open_dashboard, row, wait_until
from tests.e2e.harness import Up, tiltpy
from tests.extension_repos import upstream_extensions  # noqa: F401  (fixture)
from tests.k8s_yaml import deployment

pytestmark = pytest.mark.e2e

PORT = 10364
K8S_PORT = 10365
NAME = "tiltpy-e2e-dash"


def local_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "colors.sh").write_text(
        "printf '\\033[31mred alert\\033[0m and \\033[1;32mbold green\\033[0m, docs at http://localhost:18093/x\\n'\n"
        "i=0; while true; do i=$((i+1)); echo \"tick $i\"; sleep 1; done\n")
    (root / "Tiltfile").write_text(textwrap.dedent("""\
        local_resource('slow', 'sleep 5; echo slow done', labels=['jobs'])
        local_resource('broken', 'echo about to fail; exit 3', labels=['jobs'])
        local_resource('warns', 'echo "WARNING: deprecated flag"; echo built', labels=['jobs'])
        local_resource('colors', serve_cmd='sh colors.sh', labels=['svc'],
                       links=[link('http://localhost:18093/x', 'docs')])
        local_resource('manual', 'echo manual ran', trigger_mode=TRIGGER_MODE_MANUAL, auto_init=False)
        """))
    return root


def test_dashboard_on_local_resources(page: Page, tmp_path: Path) -> None:
    project = local_project(tmp_path / "dash")
    up = Up(project, "--port", str(PORT))
    base = f"http://localhost:{PORT}"
    try:
        up.wait_for(r"colors\s*│ tick 1", timeout=120)
        open_dashboard(page, base + "/")
        # The table: groups by label, statuses that tell the truth.
        expect(page.locator("section.group[data-group]")).to_have_count(4)
        expect(row(page, "broken")).to_have_attribute("data-status", "error", timeout=30_000)
        expect(row(page, "warns")).to_have_attribute("data-status", "warning", timeout=30_000)
        expect(row(page, "slow")).to_have_attribute("data-status", "healthy", timeout=30_000)
        expect(row(page, "colors").locator("a.endpoint")).to_have_attribute("href", "http://localhost:18093/x")
        expect(page).to_have_title(re.compile("^✖︎ 1 ┊ tiltpy$"))
        # The summary counts the Tiltfile: slow, warns (a warning is healthy),
        # colors and the Tiltfile of 5 (manual never ran: not counted).
        expect(page.locator(".sum-healthy")).to_have_text(re.compile(r"4\s*/\s*5"))
        page.screenshot(path=str(ARTIFACTS / "dashboard-table.png"))

        # The error count links to the failing resource.
        page.locator(".sum-error").click()
        expect(page).to_have_url(base + "/overview?status=error")
        expect(page.locator("tr.res-row")).to_have_count(1)
        expect(row(page, "broken")).to_be_visible()

        # A resource's page loads directly; ANSI colours are coloured spans, URLs links.
        open_dashboard(page, base + "/r/colors/overview")
        expect(page.locator(".res-title")).to_have_text("colors")
        red = page.locator(".ll .lt span", has_text="red alert")
        expect(red).to_have_css("color", "rgb(187, 0, 0)")
        expect(page.locator(".ll .lt a").first).to_have_attribute("href", "http://localhost:18093/x")
        expect(page.locator(".ll .lt", has_text="\x1b")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "dashboard-resource.png"))

        # The build-start header and the level filter with its count.
        open_dashboard(page, base + "/r/broken/overview")
        expect(page.locator(".ll.hdr").first).to_have_text("Initial Build")
        expect(page.locator("[data-count=error]")).to_have_text(re.compile(r"[1-9]"))
        page.locator("[data-level=error]").click()
        expect(page).to_have_url(base + "/r/broken/overview?level=error")
        expect(page.locator(".ll.lvl-error").first).to_contain_text("ERROR")
        expect(page.locator(".ll.ctx", has_text="about to fail").first).to_be_visible()  # context around the hit

        # Trigger while a build runs: refused, by the page and by the server.
        open_dashboard(page, base + "/r/slow/overview")
        trigger = page.locator(".details [data-action=trigger]")
        builds = len(page.evaluate("window.__tiltpy.store.resources.get('slow').buildHistory"))
        trigger.click()
        expect(page.locator(".details")).to_have_attribute("data-status", "building", timeout=10_000)
        expect(trigger).to_have_attribute("aria-disabled", "true")
        trigger.click(force=True)  # a real click on the locked button
        expect(page.locator(".toast-error")).to_contain_text("already updating")
        refused = page.evaluate("""async () => {
            const token = (await (await fetch('/api/token')).json()).token;
            const r = await fetch('/api/trigger', {method: 'POST', headers: {'X-Tiltpy-Token': token},
                                                   body: JSON.stringify({name: 'slow'})});
            return [r.status, (await r.json()).error];
        }""")
        assert refused[0] == 409 and "already updating" in refused[1], refused
        expect(page.locator(".details")).to_have_attribute("data-status", "healthy", timeout=30_000)
        time.sleep(1.5)  # a duplicate build would have started by now
        assert len(page.evaluate("window.__tiltpy.store.resources.get('slow').buildHistory")) == builds + 1

        # Keyboard: j/k through resources, r triggers, x clears the logs, ? helps.
        open_dashboard(page, base + "/r/manual/overview")
        page.keyboard.press("r")
        expect(page.locator(".ll", has_text="manual ran").first).to_be_visible(timeout=20_000)
        page.keyboard.press("x")
        expect(page.locator(".ll")).to_have_count(0)
        page.keyboard.press("k")
        expect(page).to_have_url(re.compile(r"/r/(colors|warns|broken|slow|\(Tiltfile\)|%28Tiltfile%29)/overview"))
        page.keyboard.press("j")
        expect(page).to_have_url(base + "/r/manual/overview")
        page.keyboard.press("?")
        expect(page.locator(".help-dialog")).to_be_visible()
        page.keyboard.press("Escape")
        page.go_back()
        page.go_back()
        expect(page.locator(".res-title")).to_have_text("manual")

        # When `up` stops, the page says so over everything and offers no action.
        assert up.stop() == 0
        expect(page.locator("[data-overlay=disconnected]")).to_be_visible(timeout=15_000)
        expect(page).to_have_title("Disconnected ┊ tiltpy")
        expect(page.locator(".details [data-action=trigger]")).to_be_disabled()
        page.screenshot(path=str(ARTIFACTS / "dashboard-disconnected.png"))
        assert (ARTIFACTS / "dashboard-table.png").stat().st_size > 10_000
        # The page's own errors: none but the refused trigger and the failed
        # reconnects after the stop.
        assert not [e for e in page.errors if not re.search(
            r"ERR_CONNECTION_REFUSED|WebSocket|ERR_NETWORK_CHANGED|409 \(Conflict\)", e)], page.errors
    finally:
        up.stop()
        tiltpy("down", cwd=project)


def k8s_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text("FROM busybox\nCOPY marker.txt /marker.txt\n")
    (root / "marker.txt").write_text(f"dash {time.time_ns()}\n")
    (root / "k8s.yaml").write_text(deployment(NAME, "tiltpy-e2e-dash-image",
                                              "i=0; while true; do i=$((i+1)); echo dash-tick $i; sleep 1; done"))
    (root / "Tiltfile").write_text(textwrap.dedent(f"""\
        k8s_yaml('k8s.yaml')
        docker_build('tiltpy-e2e-dash-image', '.')
        k8s_resource('{NAME}', labels=['frontend'], links=[link('http://localhost:18095/', 'docs')])
        """))
    return root


def test_dashboard_shows_pods_and_endpoints(testbed: dict, page: Page, tmp_path: Path) -> None:
    project = k8s_project(tmp_path / "dash-k8s")
    up = Up(project, "--port", str(K8S_PORT))
    base = f"http://localhost:{K8S_PORT}"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        up.wait_for(rf"{NAME}\s*│ dash-tick", timeout=300)
        open_dashboard(page, base + "/")
        expect(row(page, NAME)).to_have_attribute("data-status", "healthy", timeout=60_000)
        pod = row(page, NAME).locator(".pod-input")
        expect(pod).to_have_value(re.compile(rf"^{NAME}-"))
        expect(row(page, NAME).locator("a.endpoint")).to_have_attribute("href", "http://localhost:18095/")
        open_dashboard(page, base + f"/r/{NAME}/overview")
        expect(page.locator(".ll", has_text="dash-tick").first).to_be_visible(timeout=30_000)
        expect(page.locator(".ll.hdr").first).to_have_text("Initial Build")
        page.get_by_label("Copy Pod ID").click()
        pod_name = page.locator(".pod-row .pod-input").input_value()
        wait_until(lambda: page.evaluate("navigator.clipboard.readText()") == pod_name, "the pod ID on the clipboard")
        expect(page.locator(".endpoints-row a.endpoint")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "dashboard-k8s-resource.png"))
    finally:
        up.stop()
        tiltpy("down", cwd=project)
        shutil.rmtree(project, ignore_errors=True)


def test_cmd_button_click_in_the_browser_runs_its_command(page: Page, tmp_path: Path,
                                                          upstream_extensions: Path) -> None:
    """The real ext://uibutton's cmd_button with a text input: shown on its
    resource, a click with a typed value runs the command with it, and the
    output shows in the resource's log."""
    project = tmp_path / "button"
    project.mkdir()
    (project / "Tiltfile").write_text(textwrap.dedent(f"""\
        v1alpha1.extension_repo(name='default', url='{upstream_extensions.as_uri()}')
        load('ext://uibutton', 'cmd_button', 'text_input')
        local_resource('app', serve_cmd='sleep 3600')
        cmd_button('greet', resource='app', argv=['sh', '-c', 'echo "greeting $WHO from a button"'],
                   text='Greet', inputs=[text_input('WHO', label='Who', default='world')])
        """))
    up = Up(project, "--port", str(PORT))
    base = f"http://localhost:{PORT}"
    try:
        up.wait_for(r"app\s*│ Starting serve_cmd", timeout=120)
        open_dashboard(page, base + "/r/app/overview")
        button = page.locator('.details [data-button="greet"]')
        expect(button).to_be_visible(timeout=30_000)
        button.get_by_label("Open Greet options").click()
        form = page.get_by_role("dialog", name="Options for Greet")
        form.get_by_label("Who").fill("the browser")
        page.keyboard.press("Escape")
        button.get_by_label("Trigger Greet").click()
        up.wait_for(r"app\s*│ greeting the browser from a button", timeout=30)
        expect(page.locator(".log-pane")).to_contain_text("greeting the browser from a button", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "dashboard-cmd-button.png"))
    finally:
        up.stop()
