"""The published web client (../shared/webclient/) served for the browser tests, with
only its compiled backend URL replaced, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import ROOT

# The production build of ai-cfia/nachet-frontend 0.9.4, as published (its README and LICENSE).
PUBLISHED = ROOT / "tests" / "webclient"
COMPILED_BACKEND_URL = "http://127.0.0.1:7071/api"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]


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
