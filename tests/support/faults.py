"""Faults for tests/test_faults.py: a PostgreSQL and an Azurite of a test's own that it may
stop and start, the local host as a separate process that it may kill, a stream of
requests over a realistic mix of routes that records every answer, and the data that no
fault may lose."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pgserver
import requests

from devhost.services import azurite_connection_string, free_port, start_azurite, start_postgres, stop

if TYPE_CHECKING:
    from tests.conftest import App, Client

ROOT = Path(__file__).resolve().parent.parent.parent
# Longest wait for any one answer: past it a request counts as hung. Generous, as the
# machine is shared; the app's own bounds (database 3 s, model read 5 s in the tests'
# settings) are far below it.
ANSWER_BOUND_S = 30.0
# Statuses that say clearly what went wrong, in the contract's error shape.
DEPENDENCY_STATUSES = {502, 503, 504}


def stop_postgres(server: Any) -> None:
    """Stop the server abruptly, as a crash or a failover would."""
    pgserver.pg_ctl(["-w", "stop", "-m", "immediate"], pgdata=server.pgdata, user=server.system_user)


@contextmanager
def own_postgres(folder: Path) -> Iterator[Any]:
    """A PostgreSQL server of the caller's own in `folder` (pgserver handle): it may be
    stopped (stop_postgres) and started again (.ensure_postgres_running())."""
    server = start_postgres(folder)
    try:
        yield server
    finally:
        # pgserver's cleanup races the exit of a server stopped mid-test (it signals a
        # postmaster that is just gone): hand it a running server, which it stops cleanly.
        server.ensure_postgres_running()
        server.cleanup()


class OwnAzurite:
    """An Azurite of the caller's own, on a fixed port and folder across stops and starts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.connection_string = azurite_connection_string(self.port)
        self._proc: subprocess.Popen[bytes] | None = start_azurite(ROOT, folder, self.port)

    def stop(self) -> None:
        """Stop it as an outage would, but with Ctrl-C: killed, the emulator loses the
        blobs of its last seconds (it saves its index every few seconds), which real
        storage never does; that would be the emulator's loss, not the app's."""
        stop(self._proc)
        self._proc = None

    def start(self) -> None:
        self._proc = start_azurite(ROOT, self.folder, self.port)

    def close(self) -> None:
        stop(self._proc)


class HostProcess:
    """`python -m devhost` serving the app from the environment's settings, in its own process."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/api"
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 90.0) -> None:
        """Start it and wait until its health check answers 200."""
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "devhost", "--port", str(self.port),
                 "--data", str(self.log_path.parent / "devhost-data")],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the host exited with {self._proc.returncode}: {self.log()}")
            try:
                if requests.get(f"{self.base_url}/health", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the host did not become healthy: {self.log()}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the host."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait()

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass(frozen=True)
class Outcome:
    """One request of a stream: its answer (status None: none came) and when it was sent."""

    route: str
    status: int | None
    body: Any
    sent_at: float
    elapsed_s: float
    error: str | None = None


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


class RequestStream:
    """Signed-in users, one thread each, calling a realistic mix of routes in a loop until
    stopped: get-user-id, get-directories, create-dir (a new name each time), inf (of
    `picture`, a data URL) and feedback-positive confirming every box of each inference
    that answered 200. Every answer is recorded; no request is retried."""

    ROUTES = ("get-user-id", "get-directories", "create-dir", "inf", "feedback-positive")

    def __init__(self, clients: list[Client], picture: str) -> None:
        self.clients = clients
        self.picture = picture
        self.outcomes: list[Outcome] = []
        self.confirmed: list[str] = []  # inferences whose feedback-positive answered 200
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in clients]

    def __enter__(self) -> RequestStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2 * ANSWER_BOUND_S)

    def _call(self, client: Client, route: str, body: dict[str, Any]) -> Outcome:
        sent_at = time.monotonic()
        try:
            r = client.post(route, body, timeout=ANSWER_BOUND_S)
            outcome = Outcome(route, r.status_code, _body(r), sent_at, time.monotonic() - sent_at)
        except requests.RequestException as exc:
            outcome = Outcome(route, None, None, sent_at, time.monotonic() - sent_at, repr(exc))
        with self._lock:
            self.outcomes.append(outcome)
        return outcome

    def _run(self, client: Client) -> None:
        user_id: str | None = None
        while not self._stop.is_set():
            who = self._call(client, "get-user-id", {})
            if who.status == 200:
                user_id = who.body["user_id"]
            if user_id is None:
                time.sleep(0.1)  # nothing else can be asked without knowing who one is
                continue
            self._call(client, "get-directories", {"container_name": user_id})
            self._call(client, "create-dir", {"container_name": user_id,
                                              "folder_name": f"f-{uuid.uuid4().hex[:10]}"})
            inference = self._call(client, "inf", {
                "image": self.picture, "imageDims": [640, 480], "folder_name": "General",
                "container_name": user_id, "user_id": user_id})
            if inference.status == 200 and inference.body["boxes"]:
                inference_id = inference.body["inference_id"]
                confirm = self._call(client, "feedback-positive", {
                    "userId": user_id, "inferenceId": inference_id,
                    "boxes": [{"boxId": b["box_id"]} for b in inference.body["boxes"]]})
                if confirm.status == 200:
                    with self._lock:
                        self.confirmed.append(inference_id)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def wait_for(self, predicate: Callable[[list[Outcome]], bool], what: str,
                 timeout_s: float = 120.0) -> None:
        """Wait until `predicate(outcomes so far)` holds; fail naming `what` past the timeout."""
        deadline = time.monotonic() + timeout_s
        while not predicate(self.snapshot()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {summary(self.snapshot())}")
            time.sleep(0.1)


def since(outcomes: list[Outcome], started: float) -> list[Outcome]:
    """The outcomes of requests sent at or after `started` (time.monotonic())."""
    return [o for o in outcomes if o.sent_at >= started]


def every_route_answered(outcomes: list[Outcome], status: int, routes: tuple[str, ...]) -> bool:
    """Whether each of `routes` has answered `status` at least once in `outcomes`."""
    return set(routes) <= {o.route for o in outcomes if o.status == status}


def summary(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    """How many answers of each status each route gave ("none": no answer)."""
    out: dict[str, dict[str, int]] = {}
    for o in outcomes:
        key = str(o.status) if o.status is not None else "none"
        out.setdefault(o.route, {}).setdefault(key, 0)
        out[o.route][key] += 1
    return out


def assert_clear(outcomes: list[Outcome], allowed: set[int]) -> None:
    """Every request answered within the bound with a status in `allowed`, each error in
    the contract's shape (a JSON array holding one string)."""
    assert outcomes, "no request was made"
    for o in outcomes:
        assert o.status is not None, f"{o.route}: no answer within {ANSWER_BOUND_S:g} s: {o.error}"
        assert o.status in allowed, (o.route, o.status, o.body)
        if o.status != 200:
            assert isinstance(o.body, list) and len(o.body) == 1 and isinstance(o.body[0], str), (
                o.route, o.status, o.body)


@dataclass(frozen=True)
class Verified:
    """The training data: verified inferences (with their boxes' verdicts) and picture_seed rows."""

    inferences: frozenset[tuple]
    picture_seeds: frozenset[tuple]

    @classmethod
    def read(cls, app: App) -> Verified:
        return cls(
            frozenset(app.sql(
                "SELECT i.id, i.picture_id, i.feedback_user_id, o.id, o.verified_id, o.valid"
                " FROM inference i JOIN object o ON o.inference_id = i.id WHERE i.verified")),
            frozenset(app.sql("SELECT picture_id, seed_id FROM picture_seed")),
        )

    def kept_in(self, later: Verified) -> bool:
        """Whether every row here is still there, unchanged, in `later`."""
        return self.inferences <= later.inferences and self.picture_seeds <= later.picture_seeds


def verified_ids(app: App) -> set[str]:
    return {r[0] for r in app.sql("SELECT id::text FROM inference WHERE verified")}

