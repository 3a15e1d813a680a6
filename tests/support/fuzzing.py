"""The fuzzer of tests/test_fuzz.py. Schemathesis generates requests for every operation of
the published document, conforming (positive) and not (negative); into them go the real
ids of two registered users (so that requests reach the services, not only the parsers),
identities, pictures and hostile JSON of tests/support/hostile.py. Every answer is checked:
no 5xx, a status and a body that the document lists for the route (schemathesis's own
checks), every error one string in an array, and no answer slower than MAX_SECONDS."""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.contract import openapi_document
from tests.conftest import App, Client
from tests.support import hostile
from tests.support.images import data_url
from tests.support.inference import sample_url

T = TypeVar("T")
# Hypothesis keeps a cache of constants: outside the tree, which the publish would pack.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "nachet-hypothesis")
MAX_SECONDS = 5.0
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Body keys that hold an id, and the kind of object each names.
ID_KEYS = {
    "container_name": "user", "user_id": "user", "userId": "user", "folder_uuid": "folder",
    "session_id": "folder", "folder_name": "folder", "picture_id": "picture",
    "inferenceId": "inference", "boxId": "box", "classId": "seed", "seed_id": "seed",
    "seed_name": "seed_name", "model_name": "pipeline",
}


def examples_per_mode() -> int:
    """NACHET_FUZZ_EXAMPLES: requests per mode (150 in the suite; the README's long run uses more)."""
    return int(os.environ.get("NACHET_FUZZ_EXAMPLES", "150"))


@cache
def _schema() -> Any:
    return schemathesis.openapi.from_dict(openapi_document())


@cache
def _operations() -> tuple[Any, ...]:
    return tuple(sorted((result.ok() for result in _schema().get_all_operations()), key=lambda o: o.label))


@cache
def _strategy(index: int, mode: str) -> st.SearchStrategy | None:
    """Cases of the operation `index`: conforming to the document ("positive"), not
    ("negative"), or the web client's request of its examples ("example"); None when the
    operation has none of that kind."""
    operation = _operations()[index]
    if mode == "example":
        examples = _schema().get_strategies_from_examples(operation)
        return st.one_of(examples) if examples else None
    if mode == "negative" and not (operation.body or operation.path_parameters):
        return None  # nothing to send that the document could forbid
    return operation.as_strategy(generation_mode=GenerationMode(mode))


@dataclass
class Actor:
    """A registered user of the fuzzed app and the real ids of what it owns."""

    email: str
    client: Client
    id: str = ""
    ids: dict[str, list[str]] = field(default_factory=dict)
    boxes: dict[str, list[str]] = field(default_factory=dict)  # inference id -> its box ids


class World:
    """Two users with real folders, pictures, inferences and boxes, made through the API and
    topped up as the fuzzer deletes and verifies them."""

    def __init__(self, app: App, *, local: bool) -> None:
        self.app = app
        self.local = local
        self.actors = [self._register(f"fuzz-{n}-{uuid.uuid4().hex[:6]}@example.org") for n in (1, 2)]
        self.seeds = [(str(i), n) for i, n in app.sql("SELECT id, name FROM seed ORDER BY name")]
        self.pipelines = [n for (n,) in app.sql("SELECT name FROM pipeline WHERE active")]
        self.refresh()

    def _register(self, email: str) -> Actor:
        actor = Actor(email, Client(self.app.base_url, None if self.local else email))
        r = actor.client.post("get-user-id", {"email": email})
        assert r.status_code == 200, r.text
        actor.id = r.json()["user_id"]
        return actor

    def _ok(self, actor: Actor, path: str, body: dict) -> Any:
        r = actor.client.post(path, body)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def refresh(self) -> None:
        """Top each user up to two extra folders, two unverified inferences with boxes and a
        validated picture, then read every id they own from the database."""
        for actor in self.actors:
            self._read(actor)
            for _ in range(3 - len(actor.ids["folder"])):
                name = f"F{uuid.uuid4().hex[:8]}"
                self._ok(actor, "create-dir", {"container_name": actor.id, "folder_name": name})
            open_inferences = [i for i in actor.ids["open"] if actor.boxes.get(i)]
            for _ in range(2 - len(open_inferences)):
                self._ok(actor, "inf", {"image": sample_url(), "imageDims": [638, 559], "user_id": actor.id,
                                        "container_name": actor.id})
            if not actor.ids["validated"]:
                session = self._ok(actor, "new-batch-import", {"container_name": actor.id, "nb_pictures": 1,
                                                               "folder_name": ""})["session_id"]
                self._ok(actor, "upload-picture", {
                    "container_name": actor.id, "session_id": session, "seed_name": "Ambrosia trifida",
                    "image": data_url(hostile.good_picture("PNG"))})
            self._read(actor)

    def _read(self, actor: Actor) -> None:
        sql, owner = self.app.sql, [actor.id]
        folders = sql("SELECT id::text, name FROM picture_set WHERE owner_id = %s", owner)
        pictures = sql("SELECT p.id::text, EXISTS (SELECT 1 FROM picture_seed s WHERE s.picture_id = p.id)"
                       " FROM picture p JOIN picture_set ps ON ps.id = p.picture_set_id"
                       " WHERE ps.owner_id = %s", owner)
        inferences = sql("SELECT id::text, verified FROM inference WHERE user_id = %s", owner)
        boxes = sql("SELECT o.inference_id::text, o.id::text FROM object o"
                    " JOIN inference i ON i.id = o.inference_id WHERE i.user_id = %s", owner)
        actor.ids = {
            "user": [actor.id],
            "folder": [i for i, _ in folders], "folder_name": [n for _, n in folders],
            "picture": [i for i, _ in pictures], "validated": [i for i, v in pictures if v],
            "inference": [i for i, _ in inferences], "open": [i for i, v in inferences if not v],
            "box": [b for _, b in boxes],
        }
        actor.boxes = {}
        for inference_id, box_id in boxes:
            actor.boxes.setdefault(inference_id, []).append(box_id)

    def pool(self, actor: Actor, kind: str) -> list[str]:
        if kind == "seed":
            return [i for i, _ in self.seeds]
        if kind == "seed_name":
            return [n for _, n in self.seeds]
        if kind == "pipeline":
            return self.pipelines
        return actor.ids.get(kind, [])


@dataclass
class Plan:
    """What one request may use, drawn before it is built (see Fuzzer._plans)."""

    actor: int
    identity: tuple[dict[str, dict[str, str]], ...]  # each user's identities, by kind: headers
    choices: list[int]
    picture: str
    hostile_value: str
    hostile_body: bytes
    seed_name: str
    # The web client's request from the document's examples: real ids and the caller's own
    # identity nearly always, so that most such requests reach the rows.
    faithful: bool = False

    def pick(self, options: Sequence[T]) -> T | None:
        """One of `options` (None when there is none), by the next drawn choice."""
        choice = self.choices.pop() if self.choices else 0
        return options[choice % len(options)] if options else None

    def chance(self, one_in: int) -> bool:
        """True once in `one_in`, by the next drawn choice."""
        return self.pick(range(one_in)) == 0


@dataclass(frozen=True)
class Finding:
    """An answer outside the contract, once per route, kind and status."""

    route: str
    kind: str
    status: int | None
    detail: str

    def __str__(self) -> str:
        return f"{self.route} {self.status}: {self.kind}\n{self.detail}"


class Fuzzer:
    """Sends generated requests to the app and collects every answer outside the contract."""

    def __init__(self, base_url: str, world: World, *, vouch_secret: str | None) -> None:
        self.base_url = base_url
        self.world = world
        self.vouch_secret = vouch_secret
        self.session = requests.Session()
        self.findings: dict[tuple[str, str, int | None], Finding] = {}
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.slowest: list[tuple[float, str, int]] = []
        self.sent = 0
        self._plan_strategy = self._plans()

    # Generation ---------------------------------------------------------------------
    # Hypothesis replays choices, so every draw is made whatever the world holds: a plan of
    # everything a request may use is drawn first, then applied to the ids of the moment.

    def _plans(self) -> st.SearchStrategy[Plan]:
        secret = self.vouch_secret or "no secret is set: cookies are read unverified locally" * 2
        emails = [actor.email for actor in self.world.actors]

        def principal(header: str) -> dict[str, str]:
            return {"X-MS-CLIENT-PRINCIPAL": header}

        def cookie(value: str) -> dict[str, str]:
            return {"Cookie": f"jxVouchCookie={value}"}

        def identities(email: str) -> st.SearchStrategy[dict[str, dict[str, str]]]:
            # In local mode the body names the user: its own identity is no header.
            own = st.just({}) if self.world.local else hostile.principals(email).map(principal)
            return st.fixed_dictionaries({
                "own": own, "none": st.just({}), "malformed": hostile.malformed_principals().map(principal),
                "vouch": hostile.vouch_cookies(email, secret).map(cookie),
                "bad vouch": hostile.malformed_vouch_cookies(email, secret).map(cookie),
            })

        return st.builds(
            Plan,
            actor=st.integers(0, 3),  # 0-2: the first user acts, 3: the second
            identity=st.tuples(*(identities(e) for e in emails)),
            choices=st.lists(st.integers(0, 2**16), min_size=48, max_size=48),
            picture=hostile.picture_data_urls(),
            hostile_value=hostile.hostile_json(),
            hostile_body=hostile.hostile_bodies(),
            seed_name=st.text(max_size=300) | st.sampled_from([
                "%00", "..%2F..%2Fetc", "%ZZ", "a%2Fb", "%ED%A0%80", "Ambrosia trifida",
                "AMBROSIA%20TRIFIDA"]),
        )

    def _real(self, plan: Plan, body: dict, actor: Actor, other: Actor) -> None:
        """Put real ids into `body` (and its nested objects): mostly `actor`'s own, sometimes
        the other user's or none; a feedback's boxes are those of the inference it names."""
        for key in sorted(body, key=lambda k: k != "inferenceId"):  # the inference first
            kind = ID_KEYS.get(key)
            if kind is not None:
                # The user a body names is mostly the caller: else the request ends at a 403.
                mine = 9 if plan.faithful else 8 if kind == "user" else 4
                owner = plan.pick([actor] * mine + [other] + ([] if plan.faithful else [None]))
                if key == "folder_name" and plan.chance(2):  # a folder by its name, not its id
                    kind = "folder_name"
                found = plan.pick(self.world.pool(owner, kind)) if owner else None
                if found is not None:
                    body[key] = found
            value = body[key]
            inference = body.get("inferenceId")
            if key == "boxes" and isinstance(value, list) and isinstance(inference, str) \
                    and inference in actor.boxes and (plan.faithful or plan.chance(2)):
                # The inference's own boxes: feedback that reaches the rows.
                value += [{} for _ in range(len(actor.boxes[inference]) - len(value))]
                for entry, box_id in zip(value, actor.boxes[inference], strict=False):
                    if isinstance(entry, dict):
                        entry["boxId"] = box_id
            elif isinstance(value, dict):
                self._real(plan, value, actor, other)
            elif isinstance(value, list):
                for entry in value:
                    if isinstance(entry, dict):
                        self._real(plan, entry, actor, other)
        if isinstance(body.get("image"), str) and not plan.chance(4):
            body["image"] = plan.picture

    def _payload(self, plan: Plan, body: Any, actor: Actor, other: Actor) -> bytes | None:
        """The bytes sent: the generated body with real ids, and at times a hostile value in
        one place, or a hostile body instead."""
        if body is None:
            return None
        if isinstance(body, dict) and (plan.faithful or not plan.chance(4)):
            self._real(plan, body, actor, other)
        shape = plan.pick(range(20))
        if shape == 0:
            return plan.hostile_body
        text = json.dumps(body)
        if shape <= 4 and isinstance(body, dict) and body:
            # One value, at any depth of the body, replaced by hostile JSON text.
            marker = f"hostile-{uuid.uuid4().hex}"
            target = body
            while True:
                key = plan.pick(sorted(target))
                if isinstance(target[key], dict) and target[key] and plan.chance(2):
                    target = target[key]
                    continue
                target[key] = marker
                break
            text = json.dumps(body).replace(json.dumps(marker), plan.hostile_value, 1)
        return text.encode()

    # Sending and checking -------------------------------------------------------------

    def _send(self, method: str, url: str, headers: dict[str, str], payload: bytes | None) -> tuple[
            requests.Response, float]:
        started = time.perf_counter()
        response = self.session.request(method, url, data=payload, headers=headers, timeout=60)
        return response, time.perf_counter() - started

    def _find(self, route: str, kind: str, status: int | None, detail: str) -> None:
        self.findings.setdefault((route, kind, status), Finding(route, kind, status, detail))

    def one(self, operation: Any, case: Any, plan: Plan) -> None:
        """Build, send and check one request from a generated case and a plan."""
        self.sent += 1
        if self.sent % 40 == 0:
            self.world.refresh()
        first, second = self.world.actors
        actor, other = (first, second) if plan.actor < 3 else (second, first)
        path = case.formatted_path
        if case.path_parameters and plan.chance(2):
            name = plan.pick(self.world.pool(actor, "seed_name")) if plan.chance(2) else plan.seed_name
            path = operation.path.replace("{seed_name}", quote(name or "x", safe="%"))
        body = case.body if isinstance(case.body, dict | list | str | int | float | bool) else None
        payload = self._payload(plan, body, actor, other)
        # Mostly the actor's own identity; else none, a malformed one or a Vouch cookie.
        own = 16 if plan.faithful else 6
        kind = plan.pick(["own"] * own + ["none", "malformed", "vouch", "bad vouch"]) or "own"
        headers = {"Content-Type": "application/json", **plan.identity[plan.actor // 3][kind]}
        url = self.base_url + path
        route = operation.label
        try:
            response, seconds = self._send(case.method, url, headers, payload)
            if seconds > MAX_SECONDS:
                # A hang, not a slow machine: the same request is slow a second time.
                response, seconds = self._send(case.method, url, headers, payload)
        except requests.RequestException as exc:
            self._find(route, f"no answer: {type(exc).__name__}", None,
                       f"{url} {headers!r:.500} {payload!r:.500}")
            return
        self.statuses[route, response.status_code] += 1
        self.slowest = sorted([*self.slowest, (seconds, route, response.status_code)], reverse=True)[:5]
        shown = {name: f"{value:.200}" for name, value in headers.items()}
        self._check(case, route, response, seconds, f"{case.method} {url}\n{shown}\n{payload!r:.1500}")

    def _check(self, case: Any, route: str, response: requests.Response, seconds: float, sent: str) -> None:
        status = response.status_code
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:  # one failure per check that failed
            for failure in group.exceptions:
                self._find(route, failure.title, status, f"{sent}\n-> {response.text[:1000]}")
        if status != 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not (isinstance(body, list) and len(body) == 1 and isinstance(body[0], str) and body[0]):
                self._find(route, "error not in the contract's shape", status,
                           f"{sent}\n-> {response.text[:500]}")
        if seconds > MAX_SECONDS:
            self._find(route, f"answered in {seconds:.1f} s, twice over {MAX_SECONDS:g} s", status, sent)

    def run(self, examples: int) -> None:
        """Send about `examples` requests, as many to each operation, generated to conform to
        the document, not to conform, and from its examples (NACHET_FUZZ_SEED fixes the seed)."""
        modes = ("positive", "negative", "example")
        operations = _operations()
        each = max(1, math.ceil(examples / (len(operations) * len(modes))))
        for index in range(len(operations)):
            strategies = [(cases, mode == "example") for mode in modes
                          if (cases := _strategy(index, mode)) is not None]
            for strategy, faithful in strategies:
                self._fuzz(index, strategy, each * len(modes) // len(strategies), faithful=faithful)

    def _fuzz(self, index: int, cases: st.SearchStrategy, examples: int, *, faithful: bool) -> None:
        """`examples` requests to the operation `index`, of `cases` (`faithful`: see Plan)."""

        @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=cases, plan=self._plan_strategy)
        def fuzz(case: Any, plan: Plan) -> None:
            self.one(_operations()[index], case, replace(plan, faithful=faithful))

        if os.environ.get("NACHET_FUZZ_SEED"):
            fuzz = hypothesis_seed(int(os.environ["NACHET_FUZZ_SEED"]))(fuzz)
        fuzz()

    def report(self) -> str:
        """Requests per route and status, the slowest answers and every finding."""
        lines = [f"{self.sent} requests"]
        for route in sorted({route for route, _ in self.statuses}):
            counts = sorted((status, n) for (r, status), n in self.statuses.items() if r == route)
            lines.append(f"  {route}: " + ", ".join(f"{status}×{n}" for status, n in counts))
        slowest = (f"{route} {status} {s:.2f} s" for s, route, status in self.slowest)
        lines.append("slowest: " + ", ".join(slowest))
        lines += [f"FINDING {finding}" for finding in self.findings.values()]
        return "\n".join(lines)
