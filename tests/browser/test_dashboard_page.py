"""The dashboard page in headless Chromium against a server whose engine
state the test sets (no Docker, no cluster): views and their URLs, logs,
statuses, keyboard, UI buttons. tests/e2e/test_dashboard.py drives the same
page on a real `tiltpy up`."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.chromium import ARTIFACTS
from tests.browser.helpers import open_dashboard, row, wait_until
from tests.browser.fake_up import FakeUp, sample_project
from tiltpy.engine.pod_monitor import RuntimeState


class FakeMonitor:
    def __init__(self, pod: str) -> None:
        self.state = RuntimeState(status="ok", pod=pod, pod_phase="Running")


BUTTONS = [
    {"metadata": {"name": "greet", "annotations": {}}, "spec": {
        "location": {"componentType": "Resource", "componentID": "frontend"}, "text": "Greet",
        "iconName": "waving_hand", "requiresConfirmation": True,
        "inputs": [{"name": "who", "label": "Who", "text": {"defaultValue": "world", "placeholder": "a name"}},
                   {"name": "loud", "bool": {"defaultValue": False}},
                   {"name": "lang", "choice": {"choices": ["en", "fr"]}},
                   {"name": "secret", "hidden": {"value": "h1"}}]}, "status": {}},
    {"metadata": {"name": "off"}, "spec": {"location": {"componentType": "Resource", "componentID": "api"},
                                           "text": "Off button", "disabled": True}, "status": {}},
    {"metadata": {"name": "nav-button"}, "spec": {"location": {"componentType": "Global", "componentID": "nav"},
                                                  "text": "Deploy all",
                                                  "iconSVG": '<svg viewBox="0 0 24 24" onload="alert(1)">'
                                                             '<script>alert(2)</script><path d="M2 2h20v20H2z"/></svg>'},
     "status": {}},
]


@pytest.fixture()
def up():
    fake = FakeUp(sample_project())
    fake.build("frontend")
    fake.build("api", warnings=2)
    fake.build("db", error="exit status 1")
    fake.set("frontend", monitor=FakeMonitor("frontend-7d9f-abcde"))
    fake.sink.log("frontend", "\x1b[31mred text\x1b[0m then \x1b[1;32mbold green\x1b[0m", "runtime")
    fake.sink.log("frontend", "see https://example.com/docs?a=1&b=2.", "runtime")
    for i in range(30):
        fake.sink.log("worker", f"worker line {i}", "runtime")
    fake.sink.log("worker", "ERROR: worker hiccup", "runtime")
    for i in range(30, 40):
        fake.sink.log("worker", f"worker line {i}", "runtime")
    fake.call(lambda: [fake.engine.store.apply({"kind": "UIButton", **b}) for b in BUTTONS])
    yield fake
    fake.stop()


def open_page(page: Page, up: FakeUp, path: str = "/") -> None:
    open_dashboard(page, up.url + path)


def test_table_groups_filter_sort_and_urls(page: Page, up: FakeUp) -> None:
    open_page(page, up)
    groups = page.locator("section.group[data-group]")
    expect(groups).to_have_count(4)
    assert [groups.nth(i).get_attribute("data-group") for i in range(4)] == ["backend", "web", "unlabeled", "Tiltfile"]
    # api has two labels: it is in both groups; each group shows its status.
    expect(page.locator('section[data-group="backend"] tr.res-row')).to_have_count(2)
    expect(page.locator('section[data-group="backend"] .gs-error')).to_contain_text("1")
    expect(page.locator('section[data-group="web"] .gs-warning')).to_contain_text("1")
    # Collapse a group.
    page.locator('section[data-group="backend"] .group-head').click()
    expect(page.locator('section[data-group="backend"] tr.res-row')).to_have_count(0)
    page.locator('section[data-group="backend"] .group-head').click()
    # The name filter is in the URL; groups give way to a flat list.
    page.get_by_label("Filter resources by name").fill("end")
    expect(page).to_have_url(re.compile(r"\?name=end$"))
    expect(page.locator("tr.res-row")).to_have_count(1)
    expect(page.locator(".result-count")).to_have_text("1 result")
    page.go_back()
    expect(page.locator("tr.res-row")).to_have_count(7)
    # Sort by name, then descending, in the URL.
    page.locator('section[data-group="web"] th[data-col=name] button').click()
    expect(page).to_have_url(re.compile(r"sort=name"))
    expect(page.locator('section[data-group="web"] tr.res-row').first).to_have_attribute("data-name", "api")
    page.locator('section[data-group="web"] th[data-col=name] button').click()
    expect(page).to_have_url(re.compile(r"sort=name&desc=1"))
    expect(page.locator('section[data-group="web"] tr.res-row').first).to_have_attribute("data-name", "frontend")
    # Alerts on top: db's error before api's warning.
    open_page(page, up, "/overview?alerts=1")
    expect(page.locator('section[data-group="backend"] tr.res-row')).to_have_count(2)
    names = page.locator('section[data-group="backend"] tr.res-row').evaluate_all("rs => rs.map(r => r.dataset.name)")
    assert names == ["db", "api"]
    # Compact rows: 25 resources would fit on one screen.
    height = row(page, "db").bounding_box()["height"]
    assert height <= 36, height


def test_status_truth_summary_title_favicon_and_error_link(page: Page, up: FakeUp) -> None:
    open_page(page, up)
    expect(row(page, "api")).to_have_attribute("data-status", "warning")
    expect(row(page, "api").locator(".status-line[data-which=build]")).to_contain_text("warnings")
    summary = page.locator(".summary")
    expect(summary.locator(".sum-error")).to_contain_text("1")
    expect(summary.locator(".sum-warning")).to_contain_text("1")
    # The Tiltfile counts: frontend, api (warning counts as healthy), Tiltfile healthy of 6.
    expect(summary.locator(".sum-healthy")).to_have_text(re.compile(r"3\s*/\s*6"))
    expect(page).to_have_title("✖︎ 1 ┊ tiltpy")
    assert page.locator("#favicon").get_attribute("data-color") == "red"
    summary.locator(".sum-error").click()
    expect(page).to_have_url(re.compile(r"/overview\?status=error$"))
    expect(page.locator("tr.res-row")).to_have_count(1)
    expect(row(page, "db")).to_be_visible()
    page.go_back()
    expect(page.locator("tr.res-row")).to_have_count(7)
    # A Tiltfile error counts too.
    up.call(lambda: setattr(up.engine, "tiltfile_error", "Tiltfile:3: boom"))
    expect(summary.locator(".sum-error")).to_contain_text("2")
    expect(page.locator(".banner-error")).to_contain_text("Tiltfile:3: boom")


def test_resource_page_sidebar_stars_endpoints_pod_and_history(page: Page, up: FakeUp) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_page(page, up, "/r/frontend/overview")
    expect(page.locator(".res-title")).to_have_text("frontend")
    expect(page.locator('.sb-item[data-name="db"]')).to_have_attribute("data-status", "error")
    expect(page.locator('.sb-item[data-name="db"] .status-icon.st-error')).to_be_visible()
    expect(page.locator(".endpoints-row a.endpoint")).to_have_count(2)
    expect(page.locator(".pod-row .pod-input")).to_have_value("frontend-7d9f-abcde")
    page.get_by_label("Copy Pod ID").click()
    assert page.evaluate("navigator.clipboard.readText()") == "frontend-7d9f-abcde"
    page.locator(".build-history summary").click()
    expect(page.locator(".build-history tr")).to_have_count(1)
    # Stars make a section of their own, kept across reloads.
    page.locator('.sb-item[data-name="db"] [data-action=star]').click()
    expect(page.locator(".sb-section.starred .sb-item")).to_have_count(1)
    page.reload()
    expect(page.locator('.sb-section.starred .sb-item[data-name="db"]')).to_be_visible()
    # A disabled resource shows no endpoints, no trigger, no pod.
    page.locator("[data-action=disable]").click()
    page.locator("[data-action=disable]").click()  # confirm
    expect(page.locator(".details")).to_have_attribute("data-status", "disabled")
    expect(page.locator(".endpoints-row")).to_have_count(0)
    expect(page.locator(".details [data-action=trigger]")).to_have_count(0)
    expect(page.locator(".pod-row")).to_have_count(0)
    # Disabled resources hide behind the toggle in the sidebar.
    expect(page.locator('.sb-item[data-name="frontend"]')).to_have_count(0)
    page.locator(".sidebar [data-option=disabled]").check()
    expect(page.locator('.sb-item[data-name="frontend"]')).to_have_attribute("data-status", "disabled")
    page.screenshot(path=str(ARTIFACTS / "fake-resource.png"))


def test_unknown_resource_and_back_forward(page: Page, up: FakeUp) -> None:
    open_page(page, up, "/r/nope/overview")
    expect(page.locator(".not-found")).to_contain_text("No resource named")
    page.goto(up.url + "/")
    row(page, "db").locator(".res-name").click()
    expect(page).to_have_url(up.url + "/r/db/overview")
    page.locator('.sb-item[data-name="api"] a').first.click()
    expect(page).to_have_url(up.url + "/r/api/overview")
    page.go_back()
    expect(page.locator(".res-title")).to_have_text("db")
    page.go_back()
    expect(page.locator("tr.res-row").first).to_be_visible()
    page.go_forward()
    expect(page.locator(".res-title")).to_have_text("db")


def test_logs_ansi_links_headers_filters_context_clear_copy(page: Page, up: FakeUp) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_page(page, up, "/r/frontend/overview")
    red = page.locator(".ll .lt span", has_text="red text")
    expect(red).to_have_css("color", "rgb(187, 0, 0)")
    link = page.locator(".ll .lt a")
    expect(link).to_have_attribute("href", "https://example.com/docs?a=1&b=2")
    expect(page.locator(".ll.hdr")).to_have_text("Initial Build")
    # Timestamps and wrap.
    page.locator("[data-option=timestamps]").check()
    expect(page.locator(".ll .ts").first).to_have_text(re.compile(r"^\d\d:\d\d:\d\d\.\d{3}$"))
    page.locator("[data-option=timestamps]").uncheck()
    page.locator("[data-option=wrap]").uncheck()
    expect(page.locator(".log-scroller")).to_have_class(re.compile("wrap-off"))
    # Level filter with counts and context, in the URL.
    page.goto(up.url + "/r/worker/overview")
    expect(page.locator("[data-count=error]")).to_have_text("1")
    page.locator("[data-level=error]").click()
    expect(page).to_have_url(re.compile(r"level=error"))
    lines = page.locator(".ll:not(.sep)")
    expect(lines).to_have_count(5)  # the hit and 2 lines either side
    expect(page.locator(".ll.lvl-error .lt")).to_have_text("ERROR: worker hiccup")
    expect(page.locator(".ll.ctx .lt").first).to_have_text("worker line 28")
    # Text filter: /regex/, in the URL; a bad one says so.
    page.goto(up.url + "/r/worker/overview")
    page.locator(".term-input").fill("/line 3[0-2]$/")
    expect(page).to_have_url(re.compile(r"term=%2Fline"))
    expect(page.locator(".ll")).to_have_count(3)
    page.locator(".term-input").fill("/(/")
    expect(page.locator(".term-error")).to_contain_text("Invalid regexp")
    page.locator(".term-input").fill("line 3")
    expect(page.locator(".ll")).to_have_count(11)
    # Copy what is shown.
    page.locator("[data-action=copy-logs]").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.splitlines()[0] == "worker line 3" and len(copied.splitlines()) == 11
    # Clear: the page's copy only (as Tilt); x does it too.
    page.locator(".term-input").fill("")
    page.locator("[data-action=clear-logs]").click()
    expect(page.locator(".ll")).to_have_count(0)
    up.sink.log("worker", "after the clear", "runtime")
    expect(page.locator(".ll")).to_have_count(1)
    page.locator(".log-scroller").click()
    page.keyboard.press("x")
    expect(page.locator(".ll")).to_have_count(0)


def test_clearing_logs_clears_the_warning_status(page: Page, up: FakeUp) -> None:
    open_page(page, up, "/r/api/overview")
    expect(page.locator(".details")).to_have_attribute("data-status", "warning")
    page.locator("[data-action=clear-logs]").click()
    expect(page.locator(".details")).to_have_attribute("data-status", "healthy")


def test_hundred_thousand_lines_stay_virtual(page: Page, up: FakeUp) -> None:
    open_page(page, up, "/r/(all)/overview")
    page.evaluate("""() => {
        const lines = [];
        const t = Date.now() / 1000;
        for (let i = 1; i <= 100000; i++) {
            lines.push({seq: 1e6 + i, n: i, resource: "bulk", source: "runtime", level: i % 1000 ? "info" : "warn",
                        time: t, text: `bulk line ${i} \\x1b[33myellow\\x1b[0m`});
        }
        window.__tiltpy.store.logs.append(lines);
        window.__tiltpy.store.changed();
    }""")
    expect(page.locator(".log-scroller")).to_have_attribute("data-lines", re.compile(r"^1\d{5}$"))
    assert page.locator(".ll").count() < 200
    expect(page.locator(".ll").last).to_contain_text("bulk line 100000")
    page.evaluate("() => { const s = document.querySelector('.log-scroller'); s.scrollTop = s.scrollHeight / 2; }")
    expect(page.locator(".ll", has_text=re.compile(r"bulk line 5\d{4}\b")).first).to_be_visible()
    page.locator(".term-input").fill("/bulk line 9999[0-9] /")
    expect(page.locator(".ll")).to_have_count(10)


def test_trigger_is_locked_while_building_and_refused_by_the_server(page: Page, up: FakeUp) -> None:
    open_page(page, up)
    up.build("frontend", running=True)
    trigger = row(page, "frontend").locator("[data-action=trigger]")
    expect(trigger).to_have_attribute("aria-disabled", "true")
    trigger.click(force=True)  # a real click, on a button marked disabled for assistive tech
    expect(page.locator(".toast-error")).to_contain_text("already updating")
    assert not up.engine.resources["frontend"].trigger_requested
    status = page.evaluate("""async () => {
        const token = (await (await fetch('/api/token')).json()).token;
        const r = await fetch('/api/trigger', {method: 'POST', headers: {'X-Tiltpy-Token': token},
                                               body: JSON.stringify({name: 'frontend'})});
        return [r.status, (await r.json()).error];
    }""")
    assert status[0] == 409 and "already updating" in status[1]
    # jobs (manual, never run) is the one to start: emphasized.
    expect(row(page, "jobs").locator("[data-action=trigger]")).to_have_class(re.compile("is-emphasized"))
    row(page, "jobs").locator("[data-action=trigger]").click()
    expect(row(page, "jobs")).to_have_attribute("data-queued", "true")
    assert up.engine.resources["jobs"].trigger_requested


def test_keyboard_shortcuts_and_help(page: Page, up: FakeUp) -> None:
    open_page(page, up)
    page.keyboard.press("j")
    expect(page.locator("tr.res-row.is-focused").first).to_have_attribute("data-name", "api")
    page.keyboard.press("j")
    expect(page.locator("tr.res-row.is-focused").first).to_have_attribute("data-name", "db")
    page.keyboard.press("k")
    expect(page.locator("tr.res-row.is-focused").first).to_have_attribute("data-name", "api")
    page.keyboard.press("x")
    expect(page.locator(".bulk-bar")).to_contain_text("1 selected")
    page.keyboard.press("/")
    expect(page.get_by_label("Filter resources by name")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator(".help-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(".help-dialog")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page).to_have_url(up.url + "/r/api/overview")
    page.keyboard.press("j")
    expect(page).to_have_url(up.url + "/r/db/overview")
    page.keyboard.press("r")
    expect(page.locator(".details")).to_have_attribute("data-name", "db")
    wait_until(lambda: up.engine.resources["db"].trigger_requested, "r to trigger db")
    expect(page.locator(".toast-error")).to_have_count(0)
    open_page(page, up, "/r/frontend/overview")
    expect(page.locator(".endpoints-row a.endpoint")).to_have_count(2)
    page.context.route("http://localhost:18112/**", lambda route: route.fulfill(body="the docs"))
    with page.context.expect_page() as popup:
        page.keyboard.press("Shift+Digit2")
    popup.value.wait_for_load_state()
    assert popup.value.url == "http://localhost:18112/docs"
    page.keyboard.press("/")
    expect(page.locator(".term-input")).to_be_focused()


def test_ui_buttons_render_where_located_with_inputs_and_confirmation(page: Page, up: FakeUp) -> None:
    open_page(page, up)
    expect(page.locator('.global-buttons [data-button="nav-button"]')).to_contain_text("Deploy all")
    svg = page.locator('.global-buttons [data-button="nav-button"] .api-icon').inner_html()
    assert "<path" in svg and "script" not in svg and "onload" not in svg
    expect(row(page, "frontend").locator('[data-button="greet"]')).to_be_visible()
    expect(row(page, "api").locator('[data-button="off"] .api-submit')).to_be_disabled()
    page.goto(up.url + "/r/frontend/overview")
    button = page.locator('.details [data-button="greet"]')
    button.get_by_label("Open Greet options").click()
    form = page.get_by_role("dialog", name="Options for Greet")
    form.get_by_label("Who").fill("you")
    form.get_by_label("loud").check()
    form.get_by_label("lang").select_option("fr")
    page.keyboard.press("Escape")
    button.get_by_label("Trigger Greet").click()
    expect(button.get_by_label("Confirm Greet")).to_be_visible()
    status = lambda: up.call(lambda: dict(up.engine.store.get("UIButton", "greet")["status"]))  # noqa: E731
    assert "lastClickedAt" not in status()
    button.get_by_label("Confirm Greet").click()
    expect(page.locator(".toast")).to_contain_text("Triggered button: Greet")
    wait_until(lambda: "lastClickedAt" in status(), "the click to reach the engine")
    assert status()["inputs"] == [
        {"name": "who", "text": {"value": "you"}}, {"name": "loud", "bool": {"value": True}},
        {"name": "lang", "choice": {"value": "fr"}}, {"name": "secret", "hidden": {"value": "h1"}}]
    # A new view without the button removes it.
    up.call(lambda: up.engine.store.delete("UIButton", "greet"))
    expect(page.locator('[data-button="greet"]')).to_have_count(0)


def test_bulk_disable_asks_to_confirm(page: Page, up: FakeUp) -> None:
    open_page(page, up)
    for name in ("worker", "jobs"):
        row(page, name).locator("input[type=checkbox]").check()
    bar = page.locator(".bulk-bar")
    expect(bar).to_contain_text("2 selected")
    bar.locator("[data-action=bulk-disable]").click()
    assert up.engine.resources["worker"].enabled
    bar.locator("[data-action=bulk-disable]").click()
    expect(page.locator('tr.res-row[data-name="worker"]')).to_have_count(0)  # hidden: disabled
    assert not up.engine.resources["worker"].enabled and not up.engine.resources["jobs"].enabled
    page.locator("[data-option=disabled]").first.check()
    expect(page).to_have_url(re.compile(r"disabled=1"))
    expect(row(page, "worker")).to_have_attribute("data-status", "disabled")
    row(page, "worker").locator("input[type=checkbox]").check()
    page.locator("[data-action=bulk-enable]").click()
    expect(row(page, "worker")).not_to_have_attribute("data-status", "disabled")


def test_disconnected_overlay_turns_actions_off(page: Page, up: FakeUp) -> None:
    open_page(page, up)
    page.screenshot(path=str(ARTIFACTS / "fake-table.png"))
    up.server.web.close()
    up.call(lambda: None)
    import asyncio
    asyncio.run_coroutine_threadsafe(up.server.stop(), up.loop).result(30)
    expect(page.locator("[data-overlay=disconnected]")).to_be_visible(timeout=15_000)
    expect(page).to_have_title("Disconnected ┊ tiltpy")
    expect(row(page, "frontend").locator("[data-action=trigger]")).to_be_disabled()
    assert page.locator(".page").get_attribute("inert") is not None
