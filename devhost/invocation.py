"""A function's call as the Python worker makes it: its bindings by name, and the
invocation's `context` when main names a parameter `context`. That context's trace context
is the host's own span for the invocation (W3C traceparent), which the app's spans take as
their parent (shared.telemetry), as they do under the Functions host."""

from __future__ import annotations

import inspect
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


@dataclass(frozen=True)
class TraceContext:
    """azure.functions.TraceContext, as the worker fills it."""

    trace_parent: str
    trace_state: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryContext:
    """azure.functions.RetryContext: the attempt, 0 the first time."""

    retry_count: int = 0
    max_retry_count: int = 0
    exception: None = None


@dataclass(frozen=True)
class Context:
    """azure.functions.Context, as the worker fills it."""

    function_name: str
    function_directory: str
    trace_context: TraceContext
    retry_context: RetryContext = RetryContext()
    invocation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    thread_local_storage: threading.local = field(default_factory=threading.local)


def host_span(incoming: str | None = None) -> TraceContext:
    """The host's span for an invocation: in the caller's trace when its request carried a
    valid `traceparent` header (the Functions host's request span is a child of it), else
    the first span of a new trace."""
    match = _TRACEPARENT.match(incoming or "")
    valid = match is not None and set(match.group(1)) != {"0"} and set(match.group(2)) != {"0"}
    trace_id = match.group(1) if valid and match is not None else secrets.token_hex(16)
    return TraceContext(f"00-{trace_id}-{secrets.token_hex(8)}-01")


@cache
def _takes_context(entry: Callable[..., Any]) -> bool:
    return "context" in inspect.signature(entry).parameters


def invoke(entry: Callable[..., Any], bindings: dict[str, Any], context: Context) -> Any:
    """Call a function's entry point with its bindings, and `context` if it takes one."""
    if _takes_context(entry):
        return entry(**bindings, context=context)
    return entry(**bindings)
