"""Who is asking: the App Service Authentication principal, a Vouch cookie, or in
local mode the body's email or the dev email (API.md, Identity and ownership); a user
seen for the first time is registered with its default folder.

It takes what it needs from a request (the headers, the body's email, the settings) and
reads the users' rows itself: the HTTP edge calls it, the services may, it calls neither."""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from uuid import UUID

from shared.db import connection
from shared.db.queries import folders, users
from shared.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from shared.folder_names import DEFAULT_FOLDER
from shared.settings import Settings

PRINCIPAL_HEADER = "x-ms-client-principal"
VOUCH_COOKIE = "jxVouchCookie"
_EMAIL_CLAIMS = ("email", "emails", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress")
_NAME_CLAIMS = ("name", "preferred_username", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
_MAX_TOKEN_BYTES = 64 * 1024
_EMAIL = re.compile(r"^[^@\s\"'<>(),;:\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Caller:
    """The user behind a request."""

    user_id: UUID
    email: str


def _is_email(value: str) -> bool:
    value = value.strip()
    # Printable only: no NUL or control character, and no lone surrogate, which the
    # database driver cannot encode (a 500 where a 401 or 400 is due).
    return len(value) <= 254 and value.isprintable() and _EMAIL.match(value) is not None


def valid_email(value: str, source: str) -> str:
    """`value` lower-cased, if it is an email address. Raises BadRequest naming `source`."""
    if not _is_email(value):
        raise BadRequest(f"{source} is not a valid email address")
    return value.strip().lower()


def _b64decode(text: str, *, urlsafe: bool) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded) if urlsafe else base64.b64decode(padded)


def _principal_email(header: str) -> str:
    try:
        principal = json.loads(_b64decode(header, urlsafe=False))
        entries = principal.get("claims", [])
        name_typ = principal.get("name_typ")
        if not isinstance(entries, list) or not isinstance(name_typ, str | None):
            raise ValueError("claims must be a list and name_typ a string")
        # Only string claim types and values count: anything else in this client-sent
        # JSON (lists, objects) would be unhashable or meaningless as a key.
        claims = {c["typ"]: c["val"] for c in entries
                  if isinstance(c, dict) and isinstance(c.get("typ"), str) and isinstance(c.get("val"), str)}
    except (ValueError, TypeError, binascii.Error, RecursionError, AttributeError):
        raise Unauthorized("the App Service principal header is malformed") from None
    # The first claim that holds an email: a name claim is often a display name.
    for typ in (*_EMAIL_CLAIMS, name_typ, *_NAME_CLAIMS):
        value = claims.get(typ) if typ else None
        if isinstance(value, str) and _is_email(value):
            return value.strip().lower()
    raise Unauthorized("the App Service principal has no email claim")


def _vouch_email(cookie: str, settings: Settings) -> str:
    import jwt  # PyJWT: only requests that carry a cookie pay for it

    if not settings.vouch_jwt_secret and not settings.local_mode:
        raise Unauthorized("Vouch cookies are not accepted: NACHET_VOUCH_JWT_SECRET is not set")
    try:
        # Capped: the cookie is decompressed before its signature can be checked, and a
        # small gzip bomb would otherwise expand to hundreds of MB for anyone who sends it.
        inflater = zlib.decompressobj(wbits=31)
        token = inflater.decompress(_b64decode(cookie, urlsafe=True), _MAX_TOKEN_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("truncated or too large")
        text = token.decode()
    except (ValueError, binascii.Error, zlib.error, UnicodeDecodeError):
        raise Unauthorized("the Vouch cookie is malformed") from None
    try:
        if settings.vouch_jwt_secret:
            claims = jwt.decode(
                text, settings.vouch_jwt_secret, algorithms=["HS256", "HS384", "HS512"],
                options={"verify_aud": False},
            )
        else:
            claims = jwt.decode(text, options={"verify_signature": False})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the Vouch cookie has expired") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("the Vouch cookie's signature is not valid") from None
    custom = claims.get("CustomClaims") or {}
    email = custom.get("email") if isinstance(custom, dict) else None
    if not isinstance(email, str) or not email:
        email = claims.get("username")
    if not isinstance(email, str) or not email:
        raise Unauthorized("the Vouch cookie names no email")
    return valid_email(email, "the Vouch cookie's email")


def _cookie(header: str | None, name: str) -> str | None:
    if not header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def caller_email(
    headers: Mapping[str, str], body_email: Callable[[], str | None], settings: Settings
) -> str:
    """The caller's email, from the first source that applies: `headers` (looked up by
    lower-case name), then in local mode `body_email()` (called only then: outside local
    mode the body is not looked at before the caller is known). Raises Unauthorized,
    BadRequest."""
    email = _claimed_email(headers, body_email, settings)
    if email == settings.archive_user_email:
        # It owns every archived picture: no identity may act as it, whatever vouches for it.
        raise Unauthorized("the archive user (NACHET_ARCHIVE_USER_EMAIL) cannot sign in")
    return email


def _claimed_email(
    headers: Mapping[str, str], body_email: Callable[[], str | None], settings: Settings
) -> str:
    principal = headers.get(PRINCIPAL_HEADER)
    if principal:
        if not settings.easy_auth_enabled:
            # Without App Service Authentication in front, anyone can send this header.
            raise Unauthorized("the App Service principal header is not trusted: authentication is off")
        return _principal_email(principal)
    cookie = _cookie(headers.get("cookie"), VOUCH_COOKIE)
    if cookie:
        return _vouch_email(cookie, settings)
    if settings.local_mode:
        email = body_email()
        if email:
            return valid_email(email, "email")
        return valid_email(settings.dev_user_email, "NACHET_DEV_USER_EMAIL")
    raise Unauthorized("no identity: sign in first")


def get_or_register(email: str) -> UUID:
    """The id of the user with `email`, registering it (with its default folder) if new.

    Raises DependencyUnavailable, Conflict.
    """
    with connection(keep=True) as conn:  # kept for the route's first block (db.request_scope)
        user_id = users.find_id_by_email(conn, email)
        if user_id is not None:
            return user_id
        user_id = users.insert(conn, email)
        if user_id is None:  # registered concurrently: that transaction has committed
            found = users.find_id_by_email(conn, email)
            if found is None:  # and a delete has committed since
                raise Conflict("this user was registered and removed at the same time; try again")
            return found
        folder_id = folders.insert(conn, user_id, DEFAULT_FOLDER)
        users.set_default_folder(conn, user_id, folder_id)
        return user_id


def resolve_caller(
    headers: Mapping[str, str], body_email: Callable[[], str | None], settings: Settings
) -> Caller:
    """The caller (see caller_email), registered on first sight. Raises Unauthorized,
    BadRequest, DependencyUnavailable."""
    email = caller_email(headers, body_email, settings)
    return Caller(get_or_register(email), email)


def acting_user(named: UUID, caller: Callable[[], Caller], settings: Settings) -> UUID:
    """`named`, the user a request says it acts for, if it may. Outside local mode it must
    be `caller()`'s own id (Forbidden otherwise); in local mode the named user is trusted
    but must exist (NotFound otherwise), and `caller` is not called."""
    if settings.local_mode:
        with connection(keep=True) as conn:  # kept for the route's first block (db.request_scope)
            if not users.exists(conn, named):
                raise NotFound("unknown user")
        return named
    if named != caller().user_id:
        raise Forbidden("you may only act as yourself")
    return named
