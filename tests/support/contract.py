"""The published contract (shared/contract/openapi.json) as the tests check it: every answer
of the app's HTTP functions, whatever test caused it, must be listed in the document for
its route and match that answer's schema. `ContractDispatcher` does this for the local
host of tests/conftest.py; the `_answers_follow_the_contract` fixture fails the test that
received an answer outside the document."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

import azure.functions as func
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from devhost.functions import HttpRoute
from devhost.server import Dispatcher
from shared.contract import openapi_document

DOCUMENT = openapi_document()


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node`, or the object its `$ref` (a local JSON pointer) names."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@cache
def _validator(path: str, method: str, status: str) -> Draft202012Validator:
    """The validator of the JSON body of `status` answered by the operation."""
    response = _resolve(DOCUMENT, DOCUMENT["paths"][path][method]["responses"][status])
    schema = response["content"]["application/json"]["schema"]
    # The schema's references (#/components/...) resolve against a root holding the components.
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": DOCUMENT["components"], "allOf": [schema]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(path: str, method: str, status: int, content_type: str | None, body: bytes) -> list[str]:
    """What is wrong with an answer of `method` `path` (a path of the document, such as
    /seed-data/{seed_name}) by the contract: [] when it is listed there and matches."""
    operation = DOCUMENT["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return [f"{method} {path} is not in the document"]
    if str(status) not in operation["responses"]:
        return [f"{method} {path} answered {status}, which the document does not list "
                f"({', '.join(operation['responses'])}): {body[:300]!r}"]
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        return [f"{method} {path} {status} is {content_type!r}, not application/json"]
    try:
        value = json.loads(body)
    except ValueError:
        return [f"{method} {path} {status} is not JSON: {body[:300]!r}"]
    error = best_match(_validator(path, method.lower(), str(status)).iter_errors(value))
    if error is not None:
        return [f"{method} {path} {status} does not match its schema at "
                f"{'/'.join(map(str, error.absolute_path)) or 'the root'}: {error.message[:300]}"]
    return []


class Violations:
    """Answers outside the contract, collected by the host's threads for the test to see."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: list[str] = []

    def add(self, found: list[str]) -> None:
        with self._lock:
            self._found.extend(found)

    def take(self) -> list[str]:
        """The violations found since the last call, forgotten."""
        with self._lock:
            found, self._found = self._found, []
        return found


VIOLATIONS = Violations()


class ContractDispatcher(Dispatcher):
    """The local host's dispatcher, checking every function's answer against the document."""

    def entry(self, route: HttpRoute) -> Callable[..., func.HttpResponse]:
        function = super().entry(route)
        path = "/" + route.template

        # With main's signature, which tells the host what to pass (the request, the context).
        @wraps(function)
        def checked(*args: Any, **kwargs: Any) -> func.HttpResponse:
            response = function(*args, **kwargs)
            request = next(a for a in (*args, *kwargs.values()) if isinstance(a, func.HttpRequest))
            body = response.get_body() or b""
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)  # the JSON inside is what the document describes
            VIOLATIONS.add(problems(path, request.method, response.status_code, response.mimetype, body))
            return response

        return checked
