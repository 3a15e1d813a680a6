"""Loads the function folders of the app from their function.json and routes HTTP to them."""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROUTE_PREFIX = "api"
_PARAM = re.compile(r"\{(\w+)(?::\w+)?(\?)?\}")


@dataclass(frozen=True)
class FunctionSpec:
    """One function folder: its name, bindings and entry point."""

    name: str
    folder: Path
    bindings: tuple[dict[str, Any], ...]
    script_file: str
    entry_point: str

    def trigger(self) -> dict[str, Any]:
        """The binding that triggers the function."""
        return next(b for b in self.bindings if b.get("type", "").endswith("Trigger"))

    def load(self) -> Callable[..., Any]:
        """Import the function's module (as the top-level package named after the folder,
        the app root on sys.path, as the Python worker does) and return its entry point."""
        root = str(self.folder.parent)
        if root not in sys.path:
            sys.path.insert(0, root)
        module = importlib.import_module(self.name)
        return getattr(module, self.entry_point)


@dataclass(frozen=True)
class HttpRoute:
    """An HTTP-triggered function's route, methods and path pattern."""

    function: FunctionSpec
    methods: frozenset[str]
    pattern: re.Pattern[str]
    template: str
    auth_level: str = "anonymous"  # function.json's authLevel: function needs a key

    def match(self, path: str) -> dict[str, str] | None:
        """The route parameters if `path` (without the /api prefix) matches."""
        m = self.pattern.fullmatch(path.strip("/"))
        if m is None:
            return None
        return {k: unquote(v) for k, v in m.groupdict().items() if v is not None}


def _compile(template: str) -> re.Pattern[str]:
    parts, pos = [], 0
    for m in _PARAM.finditer(template):
        parts.append(re.escape(template[pos:m.start()]))
        parts.append(f"(?P<{m.group(1)}>[^/]+){'?' if m.group(2) else ''}")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts))


def discover(root: Path) -> list[FunctionSpec]:
    """Every function folder (a folder holding function.json) under the app root."""
    specs = []
    for fj in sorted(root.glob("*/function.json")):
        spec = json.loads(fj.read_text())
        if spec.get("disabled"):
            continue
        specs.append(FunctionSpec(
            name=fj.parent.name,
            folder=fj.parent,
            bindings=tuple(spec.get("bindings", [])),
            script_file=spec.get("scriptFile", "__init__.py"),
            entry_point=spec.get("entryPoint", "main"),
        ))
    return specs


def http_routes(specs: list[FunctionSpec]) -> list[HttpRoute]:
    """The HTTP routes of the app; literal routes are tried before parameterised ones."""
    routes = []
    for spec in specs:
        trigger = spec.trigger()
        if trigger.get("type") != "httpTrigger":
            continue
        template = (trigger.get("route") or spec.name).strip("/")
        methods = frozenset(m.upper() for m in trigger.get("methods") or ["GET", "POST"])
        routes.append(HttpRoute(spec, methods, _compile(template), template,
                                trigger.get("authLevel") or "function"))
    return sorted(routes, key=lambda r: ("{" in r.template, r.template))
