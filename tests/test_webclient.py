"""The published web client, unchanged but for its backend URL, in Debian's Chromium
against the app in local mode with nothing configured: an analyst's first steps (load,
a new folder, a classified picture), each
checked on the page and on the browser's network log. Screenshots of each step are kept
in .test-artifacts/webclient/ (see the README)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_api
import pytest

from devhost.server import Dispatcher, HostServer
from devhost.settings_file import HostSettings
from shared import settings
from tests.conftest import ROOT
from tests.support.synthetic_seeds import SAMPLE_PATH
from tests.support.webclient import CHROMIUM, CHROMIUM_ARGS, copy_with_backend, static_site

SHOTS = ROOT / ".test-artifacts" / "webclient"
UUID_TEXT = re.compile(r"UUID: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Browser:
    """One page of the client, with what the browser saw of the backend."""

    page: Any
    origin: str  # of the served client
    backend: str
    answers: list[tuple[str, int]] = field(default_factory=list)  # (route, status)
    failed: list[str] = field(default_factory=list)  # requests that got no answer (CORS...)
    console_errors: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    def routes(self) -> list[str]:
        return [route for route, _ in self.answers]

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def answer(self, route: str) -> Any:
        """Wait for the next answer of `route` from the backend, as a Playwright Response."""
        return self.page.expect_response(lambda r: r.url == f"{self.backend}/{route}")


@pytest.fixture
def browser(app, monkeypatch, tmp_path: Path) -> Iterator[Browser]:
    # Local mode as scripts/run starts it: no dev email, no secret, no sign-in.
    monkeypatch.setenv("NACHET_ENV", "local")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")
    settings.reset()
    site = tmp_path / "site"
    with static_site(site) as origin:
        host = HostServer(("127.0.0.1", 0), Dispatcher(ROOT), HostSettings(0, (origin,), True))
        threading.Thread(target=host.serve_forever, daemon=True).start()
        backend = f"http://127.0.0.1:{host.server_address[1]}/api"
        copy_with_backend(site, backend)
        with playwright_api.sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = chromium.new_context(viewport={"width": 1600, "height": 900}).new_page()
            seen = Browser(page, origin, backend)

            def answered(response: Any) -> None:
                if response.url.startswith(backend) and response.request.method != "OPTIONS":
                    seen.answers.append((response.url[len(backend) + 1:], response.status))

            page.on("response", answered)
            page.on("requestfailed", lambda r: seen.failed.append(f"{r.url} {r.failure}"))
            page.on("console", lambda m: m.type == "error" and seen.console_errors.append(m.text))

            def dismiss(dialog: Any) -> None:
                seen.alerts.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", dismiss)
            try:
                yield seen
            finally:
                chromium.close()
        host.shutdown()
        host.server_close()


def test_an_analyst_loads_the_client_makes_a_folder_and_classifies_the_sample(app, browser):
    page, expect = browser.page, playwright_api.expect
    # 1. Load: the user id in the footer, General listed, the model and species lists.
    with browser.answer("get-directories") as listing:
        page.goto(browser.origin, wait_until="load")
    assert listing.value.status == 200
    expect(page.get_by_text(UUID_TEXT)).to_be_visible(timeout=15_000)
    expect(page.get_by_text("General", exact=True).first).to_be_visible()
    user_id = app.sql("SELECT id::text FROM users WHERE email = 'analyst@nachet.local'")
    assert len(user_id) == 1 and user_id[0][0] in page.content()
    for route in ("get-user-id", "seeds", "model-endpoints-metadata", "get-directories"):
        assert (route, 200) in browser.answers, (route, browser.answers)
    browser.shot("1-loaded")
    page.get_by_role("button", name="I Agree", exact=True).click()  # the client's licence notice
    # 2. Create a folder and select it.
    page.locator("[data-testid=CreateNewFolderIcon]").click()
    page.get_by_label("Directory Name").fill("Lot A")
    with browser.answer("create-dir") as created:
        page.get_by_role("button", name="Create", exact=True).click()
    assert created.value.status == 200
    folder = page.get_by_text("Lot-A", exact=True)  # the client turns spaces into hyphens
    expect(folder).to_be_visible()
    folder.click()
    browser.shot("2-folder")
    # 3. LOAD the real sample, then CLASSIFY: one box, its label and a count of 1 in the table.
    page.get_by_text("Capture", exact=True).last.click()  # the captures view: the camera stops
    page.get_by_role("button", name="LOAD").click()
    page.locator("input[type=file]").set_input_files(str(SAMPLE_PATH))
    with browser.answer("inf") as inference:
        page.get_by_role("button", name="CLASSIFY").click()
    assert inference.value.status == 200
    result = inference.value.json()
    assert result["totalBoxes"] == 1
    label = result["boxes"][0]["label"]
    expect(page.get_by_text(label).first).to_be_visible()
    browser.shot("3-classified")
    # The picture went into the selected folder.
    assert app.sql("SELECT ps.name FROM inference i JOIN picture p ON p.id = i.picture_id"
                   " JOIN picture_set ps ON ps.id = p.picture_set_id") == [("Lot-A",)]
    # Every backend answer was a 200, with no CORS failure, alert or console error.
    assert all(status == 200 for _, status in browser.answers), browser.answers
    assert browser.failed == [] and browser.alerts == []
    assert browser.console_errors == [], browser.console_errors
