"""A change made between a service's reads, for the tests that show a report or an export
is one snapshot: the queries it calls are wrapped so that `change` runs after each answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest


def after_each(monkeypatch: pytest.MonkeyPatch, module: ModuleType, names: list[str],
               change: Callable[[], None]) -> None:
    """Call `change()` after each call of the functions `names` of `module` has answered;
    after a stream (an iterator) has been read to its end."""
    for name in names:
        query = getattr(module, name)

        def wrapped(*args: Any, _query: Callable[..., Any] = query, **kwargs: Any) -> Any:
            answer = _query(*args, **kwargs)
            if isinstance(answer, Iterator):
                return _then(answer, change)
            change()
            return answer

        monkeypatch.setattr(module, name, wrapped)


def _then(rows: Iterator[Any], change: Callable[[], None]) -> Iterator[Any]:
    yield from rows
    change()
