"""Shared test setup: end-to-end tests talk to the real testbed and fail
(never skip) when Docker or the cluster is missing."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

TESTBED_ENV = "/var/lib/testbed/env"


def _testbed_env() -> None:
    """Like `source /var/lib/testbed/env`, for tests started without it."""
    if not os.path.exists(TESTBED_ENV):
        return
    with open(TESTBED_ENV, encoding="utf-8") as f:
        for line in f:
            match = re.match(r"\s*export\s+(\w+)=(.*)$", line.strip())
            if match and match.group(1) not in os.environ:
                os.environ[match.group(1)] = match.group(2).strip().strip("'\"")


_testbed_env()


def pytest_configure(config: pytest.Config) -> None:
    """Extension repos fetched by tests (and the tiltpy processes they start) go to a
    cache of their own, never the user's ~/.cache/tiltpy."""
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="tiltpy-test-cache-")


@pytest.fixture(scope="session")
def testbed() -> dict[str, str]:
    """Docker and Kubernetes must be up: run ../shared/testbed/up first."""
    docker = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if docker.returncode != 0:
        pytest.fail(f"Docker Engine not reachable (run ../shared/testbed/up): {docker.stderr.strip()}")
    nodes = subprocess.run(["kubectl", "get", "nodes", "-o", "name"], capture_output=True, text=True)
    if nodes.returncode != 0 or not nodes.stdout.strip():
        pytest.fail(f"Kubernetes cluster not reachable (run ../shared/testbed/up): {nodes.stderr.strip()}")
    return {"docker": docker.stdout.strip(), "kubeconfig": os.environ.get("KUBECONFIG", "")}


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium driven by Playwright (tests/browser, the dashboard's e2e tests).
    Module-scoped: Playwright's sync API runs an event loop in this thread while
    it is open, and the tests that follow call asyncio.run()."""
    from playwright.sync_api import sync_playwright

    from tests.browser.chromium import CHROMIUM_ARGS, chromium_path

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(chromium):
    """A fresh browser context and page; page.errors collects the page's errors."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.set_default_timeout(10_000)
    yield page
    context.close()
