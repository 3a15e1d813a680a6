"""The published web client (../shared/webclient/) served for the browser tests, with
only its compiled backend URL replaced, Debian's Chromium driven by Playwright, and what
the browser saw of the backend during a session."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

# The production build of ai-cfia/nachet-frontend 0.9.4, as published (its README and LICENSE).
PUBLISHED = ROOT / "tests" / "webclient"
COMPILED_BACKEND_URL = "http://127.0.0.1:7071/api"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
# The fake camera and its auto-accepted permission give the client's video feed a real stream.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]
SHOTS = ROOT / ".test-artifacts" / "webclient"


def copy_with_backend(target: Path, backend_url: str) -> Path:
    """A copy of the published build whose one compiled backend URL is `backend_url`."""
    shutil.copytree(PUBLISHED, target)
    bundles = [p for p in (target / "assets").glob("index-*.js")
               if COMPILED_BACKEND_URL in p.read_text(encoding="utf-8")]
    assert len(bundles) == 1, "the published build names its backend once, in one bundle"
    text = bundles[0].read_text(encoding="utf-8")
    assert text.count(COMPILED_BACKEND_URL) == 1
    bundles[0].write_text(text.replace(COMPILED_BACKEND_URL, backend_url), encoding="utf-8")
    return target


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        pass


@contextmanager
def static_site(folder: Path) -> Iterator[str]:
    """`folder` served over HTTP on a free loopback port; yields its origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Browser:
    """One page of the client, with what the browser saw of the backend."""

    page: Any
    origin: str  # of the served client
    backend: str
    answers: list[tuple[str, int]] = field(default_factory=list)  # (route, status)
    failed: list[str] = field(default_factory=list)  # requests that got no answer (CORS...)
    console_errors: list[str] = field(default_factory=list)  # "text (source URL)"; uncaught errors
    alerts: list[str] = field(default_factory=list)
    refusals: list[tuple[str, int]] = field(default_factory=list)  # designed, seen and checked
    in_flight: set[Any] = field(default_factory=set)  # backend requests not yet answered

    def watch(self) -> None:
        """Record the page's backend traffic, console errors and alerts (alerts dismissed)."""
        page = self.page
        page.on("request", lambda r: self._ours(r) and self.in_flight.add(r))
        page.on("requestfinished", lambda r: self.in_flight.discard(r))
        page.on("requestfailed", self._failed)
        page.on("response", self._answered)
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(
            f"{m.text} ({m.location['url']})"))
        page.on("pageerror", lambda e: self.console_errors.append(f"uncaught: {e}"))
        page.on("dialog", self._alert)

    def _ours(self, request: Any) -> bool:
        return request.url.startswith(self.backend) and request.method != "OPTIONS"

    def _answered(self, response: Any) -> None:
        if self._ours(response.request):
            self.answers.append((response.url[len(self.backend) + 1:], response.status))

    def _failed(self, request: Any) -> None:
        self.in_flight.discard(request)
        self.failed.append(f"{request.url} {request.failure}")

    def _alert(self, dialog: Any) -> None:
        self.alerts.append(dialog.message)
        dialog.dismiss()

    def routes(self) -> list[str]:
        return [route for route, _ in self.answers]

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def answer(self, route: str) -> Any:
        """Wait for the next answer of `route` from the backend, as a Playwright Response."""
        return self.page.expect_response(
            lambda r: r.url == f"{self.backend}/{route}" and r.request.method != "OPTIONS")

    def settle(self) -> None:
        """Wait until every backend request the page sent is answered."""
        # The sync API handles events only inside its calls, so none is missed between
        # the check and the wait.
        while self.in_flight:
            self.page.wait_for_event("requestfinished", predicate=lambda _: not self.in_flight)

    def refused(self, route: str, status: int, message: str, alert: str, console_start: int) -> None:
        """Accept one designed refusal that the client has just reported: `route` answered
        `status`, the client alerted `alert`, and the console errors since `console_start`
        are Chromium's note of that answer and the client's own logging of it (from its
        bundle), which shows the contract's `message`."""
        assert (route, status) in self.answers, self.answers
        assert self.alerts[-1:] == [alert], self.alerts
        reports = self.console_errors[console_start:]
        assert any(message in text for text in reports), reports
        assert all(text.endswith(f"({self.backend}/{route})") or f"({self.origin}/assets/" in text
                   for text in reports), reports
        del self.console_errors[console_start:]
        self.alerts.pop()
        self.refusals.append((route, status))

    def check_session(self) -> None:
        """Every backend answer was a 200 but the designed refusals, with no request left
        unanswered (CORS), no alert and no console error."""
        assert [a for a in self.answers if a[1] != 200] == self.refusals, self.answers
        assert self.failed == [], self.failed
        assert self.alerts == [], self.alerts
        assert self.console_errors == [], self.console_errors


def tally_rows(inference: dict) -> list[str]:
    """The results table the client shows for `inference` (its default view): one row per
    label, in order of first appearance, with its number of boxes (the client counts the
    boxes itself, every box with a non-zero score)."""
    counts: dict[str, int] = {}
    for box in inference["boxes"]:
        if box["score"]:
            counts[box["label"]] = counts.get(box["label"], 0) + 1
    return [f"{n} {label} {count}" for n, (label, count) in enumerate(counts.items(), start=1)]
