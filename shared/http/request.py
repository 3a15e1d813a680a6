"""Reading a request: its JSON object body with typed getters, data URLs, route
parameters and the caller, each computed once and only when asked for."""

from __future__ import annotations

import binascii
import datetime
import json
import re
import uuid
from typing import Any, Literal, overload

import azure.functions as func
import pybase64

from shared.errors import BadRequest, PayloadTooLarge, megabytes
from shared.identity import Caller, acting_user, resolve_caller
from shared.images import SentImage
from shared.settings import get_settings

_MISSING = object()
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*);base64,", re.I)


class Body:
    """A JSON object body with typed getters; each getter accepts the key's aliases
    (first present wins) and raises BadRequest naming the first key."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def _get(self, keys: tuple[str, ...]) -> Any:
        for key in keys:
            if key in self.data and self.data[key] is not None:
                return self.data[key]
        return _MISSING

    def has(self, *keys: str) -> bool:
        """Whether any of `keys` is present and not null."""
        return self._get(keys) is not _MISSING

    @overload
    def raw(self, *keys: str, required: Literal[True] = ...) -> Any: ...
    @overload
    def raw(self, *keys: str, required: Literal[False]) -> Any | None: ...
    @overload
    def raw(self, *keys: str, required: bool) -> Any | None: ...

    def raw(self, *keys: str, required: bool = True) -> Any | None:
        """The value as sent; None when absent and not required."""
        value = self._get(keys)
        if value is _MISSING:
            if required:
                raise BadRequest(f"{keys[0]} is missing")
            return None
        return value

    @overload
    def text(self, *keys: str, required: Literal[True] = ..., max_length: int = ...) -> str: ...
    @overload
    def text(self, *keys: str, required: Literal[False], max_length: int = ...) -> str | None: ...
    @overload
    def text(self, *keys: str, required: bool, max_length: int = ...) -> str | None: ...

    def text(self, *keys: str, required: bool = True, max_length: int = 10_000) -> str | None:
        """A string, stripped of surrounding white space."""
        value = self.raw(*keys, required=required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise BadRequest(f"{keys[0]} must be a string")
        if len(value) > max_length:
            raise BadRequest(f"{keys[0]} is longer than {max_length} characters")
        return storable_text(value, keys[0]).strip()

    @overload
    def id(self, *keys: str, required: Literal[True] = ...) -> uuid.UUID: ...
    @overload
    def id(self, *keys: str, required: Literal[False]) -> uuid.UUID | None: ...
    @overload
    def id(self, *keys: str, required: bool) -> uuid.UUID | None: ...

    def id(self, *keys: str, required: bool = True) -> uuid.UUID | None:
        """A UUID."""
        value = self.text(*keys, required=required, max_length=100)
        if value is None:
            return None
        return parse_uuid(value, keys[0])

    @overload
    def integer(self, *keys: str, required: Literal[True] = ..., minimum: int | None = ...) -> int: ...
    @overload
    def integer(self, *keys: str, required: Literal[False], minimum: int | None = ...) -> int | None: ...
    @overload
    def integer(self, *keys: str, required: bool, minimum: int | None = ...) -> int | None: ...

    def integer(self, *keys: str, required: bool = True, minimum: int | None = None) -> int | None:
        """A whole number (JSON integer; not a string, float or boolean)."""
        value = self.raw(*keys, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequest(f"{keys[0]} must be a whole number")
        if minimum is not None and value < minimum:
            raise BadRequest(f"{keys[0]} must be at least {minimum}")
        return value

    @overload
    def number(self, *keys: str, required: Literal[True] = ...) -> float: ...
    @overload
    def number(self, *keys: str, required: Literal[False]) -> float | None: ...
    @overload
    def number(self, *keys: str, required: bool) -> float | None: ...

    def number(self, *keys: str, required: bool = True) -> float | None:
        """A finite number (integer or float; not a string or boolean)."""
        value = self.raw(*keys, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise BadRequest(f"{keys[0]} must be a number")
        try:
            number = float(value)  # a JSON integer past 1e308 overflows here
        except OverflowError:
            number = float("inf")
        if number in (float("inf"), float("-inf")):
            raise BadRequest(f"{keys[0]} must be a finite number")
        return number

    def flag(self, *keys: str) -> bool:
        """A JSON boolean; False when absent."""
        value = self.raw(*keys, required=False)
        if value is not None and not isinstance(value, bool):
            raise BadRequest(f"{keys[0]} must be true or false")
        return bool(value)

    def day(self, *keys: str) -> datetime.date | None:
        """A calendar day, `YYYY-MM-DD`; None when absent."""
        value = self.text(*keys, required=False, max_length=20)
        if value is None:
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError(value)
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise BadRequest(f"{keys[0]} must be a day like 2024-06-30") from None

    @overload
    def items(self, *keys: str, required: Literal[True] = ...) -> list[Any]: ...
    @overload
    def items(self, *keys: str, required: Literal[False]) -> list[Any] | None: ...
    @overload
    def items(self, *keys: str, required: bool) -> list[Any] | None: ...

    def items(self, *keys: str, required: bool = True) -> list[Any] | None:
        """A JSON array."""
        value = self.raw(*keys, required=required)
        if value is None:
            return None
        if not isinstance(value, list):
            raise BadRequest(f"{keys[0]} must be a list")
        return value

    def texts(self, *keys: str, max_length: int = 10_000) -> list[str]:
        """A JSON array of strings, each as `text` takes it and not blank; [] when absent."""
        values = self.items(*keys, required=False) or []
        if not all(isinstance(value, str) and value.strip() for value in values):
            raise BadRequest(f"{keys[0]} must be a list of non-empty strings")
        if any(len(value) > max_length for value in values):
            raise BadRequest(f"{keys[0]} holds a string longer than {max_length} characters")
        return [storable_text(value, keys[0]).strip() for value in values]


def storable_text(value: str, name: str) -> str:
    """`value`, if PostgreSQL can store it: no NUL character, no lone surrogate (which
    JSON can carry but UTF-8 cannot). Raises BadRequest naming `name`."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{name} contains characters that are not allowed") from None
    if "\x00" in value:
        raise BadRequest(f"{name} contains characters that are not allowed")
    return value


def parse_uuid(value: str, name: str) -> uuid.UUID:
    """`value` as a UUID. Raises BadRequest naming `name`."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadRequest(f"{name} is not a valid id") from None


def decode_data_url(value: object, name: str = "image") -> SentImage:
    """Decode `data:<type>;base64,<payload>`: the bytes, and the type its header claims.
    Raises BadRequest, PayloadTooLarge."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must be a data URL (data:image/…;base64,…)")
    match = _DATA_URL.match(value[:200])
    if not match:
        raise BadRequest(f"{name} must be a data URL (data:image/…;base64,…)")
    payload = value[match.end():]
    limit = get_settings().max_content_bytes
    if len(payload) * 3 // 4 > limit:
        raise PayloadTooLarge(f"{name} is larger than {megabytes(limit)} MB")
    try:
        # A picture's payload is megabytes: the stdlib takes 11 ms for 4 MB, pybase64 0.3.
        data = pybase64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{name} is not valid base64") from None
    if not data:
        raise BadRequest(f"{name} is empty")
    claimed = match.group("type")
    return SentImage(data, claimed.lower() if claimed else None)


class Request:
    """One HTTP request as the parse functions see it: body, route parameters and caller."""

    def __init__(self, http: func.HttpRequest) -> None:
        self.http = http
        # Who the request acts for, once known: logged with the response.
        self.known_user_id: uuid.UUID | None = None
        # Computed on first use. Not functools.cached_property: on Python 3.11 it holds one
        # lock for every instance of the class, so one caller lookup waiting on the
        # database would hold up every other request's.
        self._body: Body | None = None
        self._caller: Caller | None = None

    @property
    def body(self) -> Body:
        """The JSON object body (its size was checked by handle()). Raises BadRequest."""
        if self._body is None:
            self._body = self._parse_body()
        return self._body

    def _parse_body(self) -> Body:
        raw = self.http.get_body() or b""
        if not raw.strip():
            return Body({})
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise BadRequest("the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("the request body must be a JSON object")
        return Body(data)

    def route(self, name: str) -> str:
        """A route parameter, e.g. {seed_name}. Raises BadRequest (text that cannot be stored)."""
        return storable_text(self.http.route_params.get(name, ""), name)

    @property
    def caller(self) -> Caller:
        """Who is asking (registered on first sight). Raises Unauthorized, BadRequest."""
        if self._caller is None:
            self._caller = resolve_caller(self.http.headers, self._body_email, get_settings())
            self.known_user_id = self._caller.user_id
        return self._caller

    def _body_email(self) -> str | None:
        return self.body.text("email", required=False)

    def user_id(self, *keys: str) -> uuid.UUID:
        """The user that the body names under `keys` (all spellings must agree), if the
        caller may act for it (identity.acting_user). Raises BadRequest, Unauthorized,
        Forbidden, NotFound."""
        named = {self.body.id(key) for key in keys if self.body.has(key)}
        if not named:
            raise BadRequest(f"{keys[0]} is missing")
        if len(named) > 1:
            raise BadRequest(f"{' and '.join(keys)} name different users")
        self.known_user_id = acting_user(named.pop(), lambda: self.caller, get_settings())
        return self.known_user_id


def no_input(request: Request) -> None:
    """The parse of a route that takes no input: it looks at nothing."""
    return None
