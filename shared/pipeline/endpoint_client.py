"""The HTTP client of remote models: one keep-alive session per process, bounded retries,
timeouts from the settings, and failures turned into 502/504 errors naming the model."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import cookiejar
from typing import TYPE_CHECKING, Any, Self

from shared.errors import ModelEndpointFailed, ModelEndpointTimeout
from shared.settings import get_settings, on_reset
from shared.telemetry import dependency_span

if TYPE_CHECKING:
    import requests

    from shared.pipeline.types import ModelSpec

log = logging.getLogger(__name__)

ATTEMPTS = 3  # in all, first call included (MODELS.md)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_BACKOFF_FACTOR_S = 0.25  # urllib3 retries once at once, then waits 0.5 s
_RETRY_AFTER_MAX_S = 10  # a Retry-After longer than this is cut short: a user is waiting

_lock = threading.Lock()
_session: requests.Session | None = None
# Per model, the requests it may have in flight from this process (model_max_in_flight).
_gates: dict[str, threading.BoundedSemaphore] = {}
# Per thread, the retries of the call under way (urllib3 makes them in the caller's thread),
# which its span records.
_retries = threading.local()


class _NoCookies(cookiejar.DefaultCookiePolicy):
    """Model calls are stateless: a cookie from one endpoint is never sent back."""

    def set_ok(self, cookie: cookiejar.Cookie, request: Any) -> bool:
        return False


def _new_session() -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    class CountedRetry(Retry):
        def increment(self, *args: Any, **kwargs: Any) -> Self:
            retry = super().increment(*args, **kwargs)  # raises when no retry is left
            _retries.count += 1
            return retry

    retry = CountedRetry(
        total=ATTEMPTS - 1,
        connect=ATTEMPTS - 1,
        status=ATTEMPTS - 1,
        # A read timeout is not retried: the model got the request and may still be
        # working, and three full read timeouts would keep the user waiting minutes.
        read=False,
        other=0,
        redirect=0,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # every call is a POST, and scoring has no side effects
        backoff_factor=_BACKOFF_FACTOR_S,
        backoff_jitter=0.1,
        respect_retry_after_header=True,
        retry_after_max=_RETRY_AFTER_MAX_S,
        raise_on_status=False,  # the last answer comes back and is reported with its status
    )
    # urllib3's DEBUG lines name each endpoint's host, which rests encrypted: never log them.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    # Enough pooled connections for several inferences of this process side by side.
    pool_size = max(32, 4 * get_settings().model_max_in_flight)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=8, pool_maxsize=pool_size)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.cookies.set_policy(_NoCookies())
    return session


def _get_session() -> requests.Session:
    global _session
    with _lock:
        session = _session
    if session is not None:
        return session
    # Built outside the lock (it imports requests and urllib3): the in-flight gates of every
    # model call take the same lock. Threads racing here keep the first session made.
    built = _new_session()
    with _lock:
        if _session is None:
            _session = built
        session = _session
    if session is not built:
        built.close()
    return session


def _gate(model: ModelSpec) -> threading.BoundedSemaphore:
    with _lock:
        gate = _gates.get(model.name)
        if gate is None:
            gate = _gates[model.name] = threading.BoundedSemaphore(get_settings().model_max_in_flight)
        return gate


def _slot_wait_s() -> float:
    # A call holds its slot about one read timeout at most, unless its endpoint misbehaves
    # (retries, a trickling answer): waiting longer would queue every inference of this
    # instance behind a hung endpoint.
    return get_settings().model_read_timeout_s


@contextmanager
def _in_flight(model: ModelSpec) -> Iterator[None]:
    """Hold one of `model`'s in-flight slots. Raises ModelEndpointTimeout when none frees in time."""
    gate = _gate(model)
    if not gate.acquire(timeout=_slot_wait_s()):
        log.warning("model %s: no free slot of %d in flight", model.name, get_settings().model_max_in_flight)
        raise ModelEndpointTimeout(f"model {model.name} is busy: its calls in flight from this instance "
                                   "did not end in time")
    try:
        yield
    finally:
        gate.release()


@on_reset
def close_session() -> None:
    """Drop the session and the in-flight limits; the next call builds them from the settings."""
    global _session
    with _lock:
        session, _session = _session, None
        _gates.clear()
    if session is not None:
        session.close()


def _api_key(model: ModelSpec) -> str:
    if model.api_key_encrypted is not None:
        return _decrypted(model, model.api_key_encrypted, "key")
    if model.api_key_setting is None:
        raise ModelEndpointFailed(f"model {model.name} has no api_key_setting naming its key")
    key = os.environ.get(model.api_key_setting, "").strip()
    if not key:
        raise ModelEndpointFailed(
            f"model {model.name}: the app setting {model.api_key_setting} that holds its key is not set")
    return key


def _decrypted(model: ModelSpec, token: str, what: str) -> str:
    # Decrypted for each call and never kept: the endpoint and the key rest only as tokens.
    from shared.pipeline.encryption import TokenError, decrypt

    key = get_settings().blob_pipeline_decryption_key
    if key is None:
        raise ModelEndpointFailed(
            f"model {model.name}: its {what} is encrypted and NACHET_BLOB_PIPELINE_DECRYPTION_KEY is not set")
    try:
        return decrypt(token, key).strip()
    except TokenError as exc:
        log.warning("model %s: its encrypted %s %s", model.name, what, exc)
        raise ModelEndpointFailed(f"model {model.name}: its encrypted {what} {exc}") from exc


def post(model: ModelSpec, body: bytes) -> Any:
    """POST `body` to `model`'s endpoint (as `model.content_type`, with its key and
    deployment; both decrypted for this call only) and return the JSON answer; waits while the model has
    `model_max_in_flight` requests in flight from this process, at most the read timeout.
    Traced as a span naming the model, with the answer's status and the retries (never the
    endpoint, key or body).

    Raises ModelEndpointTimeout (504) when the endpoint takes longer than the read timeout
    or cannot be connected to in time, or no slot frees in time, and ModelEndpointFailed (502)
    when it cannot be reached, answers an error status after the retries, or answers
    anything but JSON.
    """
    # Not HTTP's attributes: Application Insights would name the dependency by the URL's path.
    attributes = {"peer.service": model.name, "nachet.model.name": model.name}
    with dependency_span(f"model {model.name}", attributes) as span:
        _retries.count = 0
        try:
            response = _send(model, body)
        finally:
            span.set("nachet.model.retries", _retries.count)
        span.set("nachet.model.status", response.status_code)
        if not 200 <= response.status_code < 300:
            log.warning("model %s answered HTTP %d", model.name, response.status_code)
            raise ModelEndpointFailed(f"model {model.name} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            log.warning("model %s answered something that is not JSON", model.name)
            raise ModelEndpointFailed(f"model {model.name} answered something that is not JSON") from exc


def _send(model: ModelSpec, body: bytes) -> requests.Response:
    """The endpoint's last answer, after the retries. Raises ModelEndpointTimeout and
    ModelEndpointFailed (as post)."""
    import requests
    from urllib3.exceptions import ReadTimeoutError

    if not model.endpoint_encrypted:
        raise ModelEndpointFailed(f"model {model.name} has no endpoint")
    endpoint = _decrypted(model, model.endpoint_encrypted, "endpoint")
    settings = get_settings()
    headers = {
        "Content-Type": model.content_type or "application/octet-stream",
        "Authorization": f"Bearer {_api_key(model)}",
        "Accept": "application/json",
    }
    if model.deployment:
        headers[model.deployment_header] = model.deployment
    try:
        with _in_flight(model):
            return _get_session().post(
                endpoint, data=body, headers=headers, allow_redirects=False,
                timeout=(settings.model_connect_timeout_s, settings.model_read_timeout_s),
            )
    except requests.Timeout as exc:
        log.warning("model %s timed out: %s", model.name, type(exc).__name__)
        raise ModelEndpointTimeout(f"model {model.name} did not answer in time") from exc
    except requests.RequestException as exc:
        # A timeout while reading the body comes wrapped in a ConnectionError.
        if exc.args and isinstance(exc.args[0], ReadTimeoutError):
            log.warning("model %s timed out reading its answer", model.name)
            raise ModelEndpointTimeout(f"model {model.name} did not answer in time") from exc
        log.warning("model %s could not be reached: %s", model.name, type(exc).__name__)
        raise ModelEndpointFailed(f"model {model.name} could not be reached") from exc
