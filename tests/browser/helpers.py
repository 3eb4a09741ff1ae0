"""Helpers for driving the dashboard with Playwright."""
from __future__ import annotations

import time

from playwright.sync_api import Page, expect


def open_dashboard(page: Page, url: str) -> None:
    """Load the dashboard and wait until it is connected and may act."""
    page.goto(url)
    try:
        for attempt in range(3):
            try:
                expect(page.locator("#app")).to_have_attribute("data-ready", "true", timeout=5000)
                break
            except AssertionError:
                # Chromium drops loads when network interfaces change
                # (net::ERR_NETWORK_CHANGED: the testbed's containers come and go).
                if attempt == 2:
                    raise
                page.reload()
        expect(page.locator(".conn")).to_have_text("live")
        expect(page.locator(".shell")).to_have_attribute("data-actions", "on")
    except AssertionError:
        state = page.evaluate("() => { const s = window.__tiltpy && window.__tiltpy.store; return s ? "
                              "{ws: s.ws && s.ws.readyState, connected: s.connected, ever: s.everConnected, "
                              "n: s.resources.size, listeners: s.listeners.size} : null; }")
        raise AssertionError(f"the page did not load: {state}; its errors: {page.errors}") from None


def wait_until(check, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def row(page: Page, name: str):
    return page.locator(f'tr.res-row[data-name="{name}"]').first


