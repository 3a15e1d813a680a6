"""`python -m devhost` in a process of its own, for tests that need the real entry point or
several hosts at once. It gets the test's settings through the environment (so it starts
no services of its own) and its log is kept to read back."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
_SERVING = re.compile(r"serving \d+ HTTP functions on http://([\d.]+):(\d+)/api")


class HostProcess:
    """A started local host: `address` (host, port), `base_url`, `pid`, and `log()` so far."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, timeout_s: float = 120) -> None:
        self._lines: list[str] = []
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "devhost", "--port", "0", *args], cwd=ROOT,
            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout_s
        while (found := _SERVING.search(self.log())) is None:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the local host did not start:\n{self.log()}")
            time.sleep(0.05)
        self.address = (found.group(1), int(found.group(2)))
        self.base_url = f"http://127.0.0.1:{self.address[1]}/api"
        self.pid = self._proc.pid

    def _read(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._lines.append(line)

    def log(self) -> str:
        return "".join(self._lines)

    def stop(self) -> None:
        """Stop the host as Ctrl-C would, and wait for it."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reader.join(timeout=10)
