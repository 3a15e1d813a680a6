"""App settings: read from the environment once, validated together, typed.

Every setting the app reads is here, with its default. A missing or malformed
setting is reported with all the others in one ConfigurationError, raised by
`get_settings()`: the local host calls it at start-up and every function on its
first request, so a bad deployment fails loudly instead of mid-request.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

from shared.errors import ConfigurationError

# The Azurite account is public and well known; azure-storage-blob does not
# understand the `UseDevelopmentStorage=true` shorthand that Functions uses.
DEVELOPMENT_STORAGE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
    "KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)
STORAGE_SETTING = "NACHET_AZURE_STORAGE_CONNECTION_STRING"
APPINSIGHTS_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
DEFAULT_DEV_USER_EMAIL = "analyst@nachet.local"  # the one local analyst
DEFAULT_EXTENSIONS = ("jpeg", "jpg", "png", "gif", "bmp", "tiff", "webp")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
_BLOB_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_FERNET_KEY = re.compile(r"^[A-Za-z0-9_-]{43}=$")  # 32 bytes in url-safe base64
# The blob service root; a path-style account (an emulator, an IP address) has its name as the path.
_SERVICE_URI = re.compile(r"^https://[^/\s?#]+(/[a-z0-9]{3,24})?/?$")
_CLIENT_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class StorageIdentity:
    """An identity-based connection to the pictures' account, in the settings the Functions
    host reads for one (process_picture's `connection` names the same prefix):
    `<prefix>__blobServiceUri` (or its alias `__serviceUri`), `__credential`, `__clientId`."""

    blob_service_uri: str
    managed_identity: bool  # `__credential=managedidentity`; otherwise the developer's Azure sign-in
    client_id: str | None  # a user-assigned managed identity; None: the system-assigned one


@dataclass(frozen=True)
class Settings:
    """The validated app settings; see local.settings.json.template for each one."""

    db_url: str = field(repr=False)  # may hold a password
    schema: str
    storage_connection_string: str | None = field(repr=False)  # holds the account key
    storage_identity: StorageIdentity | None  # exactly one of the two is set
    pictures_container: str
    thumbnails_container: str
    exports_container: str
    max_content_bytes: int
    valid_extensions: frozenset[str]  # as listed, lower case; shared.images.check_accepted reads them
    max_width: int
    max_height: int
    max_image_pixels: int
    local_mode: bool
    easy_auth_enabled: bool
    vouch_jwt_secret: str | None = field(repr=False)
    frontend_origins: tuple[str, ...]  # the web client's; only the local host reads them (its CORS)
    dev_user_email: str
    archive_user_email: str
    blob_pipeline_container: str | None
    blob_pipeline_version: str | None
    blob_pipeline_decryption_key: str | None = field(repr=False)
    db_pool_max_size: int
    db_timeout_s: float
    model_connect_timeout_s: float
    model_read_timeout_s: float
    model_max_in_flight: int
    # Application Insights: tracing is on only when it is set (shared.telemetry).
    appinsights_connection_string: str | None = field(repr=False)


class _Reader:
    """Reads settings from a mapping and collects every problem instead of stopping at one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name, "").strip()
        return value or default

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            self.problems.append(f"{name} is not set")
            return ""
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not value >= minimum or value == float("inf"):
            self.problems.append(f"{name} must be a number >= {minimum:g}, not {raw!r}")
            return default
        return value

    def integer(self, name: str, default: int, *, minimum: int = 1) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        if not re.fullmatch(r"\d+", raw) or int(raw) < minimum:
            self.problems.append(f"{name} must be a whole number >= {minimum}, not {raw!r}")
            return default
        return int(raw)

    def flag(self, name: str) -> bool:
        raw = (self.text(name) or "false").lower()
        if raw not in ("true", "false", "1", "0"):
            self.problems.append(f"{name} must be true or false, not {raw!r}")
        return raw in ("true", "1")

    def json_value(self, name: str, default: object) -> object:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except ValueError:
            self.problems.append(f"{name} must be JSON, not {raw!r}")
            return default

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)


def _extensions(r: _Reader) -> frozenset[str]:
    value = r.json_value("NACHET_VALID_EXTENSION", list(DEFAULT_EXTENSIONS))
    if not (isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)):
        r.problems.append('NACHET_VALID_EXTENSION must be a JSON list of formats like ["png","jpeg"]')
        value = DEFAULT_EXTENSIONS
    # As listed: shared.images knows each format's other names (jpg for jpeg, tif for tiff).
    return frozenset(v.lower().lstrip(".") for v in value)


def _origins(r: _Reader) -> tuple[str, ...]:
    listed = [o.strip() for o in (r.text("NACHET_FRONTEND_PUBLIC_URL") or "").split(",") if o.strip()]
    r.check(
        all(re.match(r"^https?://[^/\s]+/?$", o) for o in listed),
        "NACHET_FRONTEND_PUBLIC_URL must be comma-separated origins like https://nachet.example.org",
    )
    return tuple(dict.fromkeys(o.rstrip("/") for o in listed))


def _dimension(r: _Reader) -> tuple[int, int]:
    value = r.json_value("NACHET_VALID_DIMENSION", {"width": 1920, "height": 1080})
    if isinstance(value, dict) and all(
        isinstance(value.get(k), int) and value[k] > 0 for k in ("width", "height")
    ):
        return (value["width"], value["height"])
    r.problems.append('NACHET_VALID_DIMENSION must be JSON like {"width": 1920, "height": 1080}')
    return (1920, 1080)


def is_development_storage(value: str) -> bool:
    """Whether a connection string is the Functions shorthand for the local emulator."""
    return value.replace(" ", "").lower() == "usedevelopmentstorage=true"


def _storage(r: _Reader) -> tuple[str | None, StorageIdentity | None]:
    """The connection string, or else the identity-based connection; the exact setting wins,
    as in the Functions host."""
    value = r.text(STORAGE_SETTING)
    if value is not None:
        if is_development_storage(value):
            return DEVELOPMENT_STORAGE, None
        r.check("AccountName=" in value or "BlobEndpoint=" in value,
                f"{STORAGE_SETTING} is not a storage connection string")
        return value, None
    uri = r.text(f"{STORAGE_SETTING}__blobServiceUri") or r.text(f"{STORAGE_SETTING}__serviceUri")
    if uri is None:
        r.problems.append(f"{STORAGE_SETTING} is not set (nor {STORAGE_SETTING}__blobServiceUri "
                          "for an identity-based connection)")
        return None, None
    r.check(bool(_SERVICE_URI.match(uri)),
            f"{STORAGE_SETTING}__blobServiceUri must be a blob service URL like "
            f"https://account.blob.core.windows.net, not {uri!r}")
    credential = (r.text(f"{STORAGE_SETTING}__credential") or "").lower()
    r.check(credential in ("", "managedidentity"),
            f"{STORAGE_SETTING}__credential must be managedidentity (or unset: the developer's "
            f"Azure sign-in), not {credential!r}")
    client_id = r.text(f"{STORAGE_SETTING}__clientId")
    r.check(client_id is None or bool(_CLIENT_ID.match(client_id)),
            f"{STORAGE_SETTING}__clientId must be a managed identity's client id (a GUID), "
            f"not {client_id!r}")
    return None, StorageIdentity(uri, credential == "managedidentity", client_id)


def _container(r: _Reader, name: str, default: str) -> str:
    value = r.text(name, default) or default
    r.check(bool(_CONTAINER.match(value)), f"{name} is not a valid container name: {value!r}")
    return value


def _blob_pipeline(r: _Reader) -> tuple[str | None, str | None, str | None]:
    """NACHET_BLOB_PIPELINE_NAME, _VERSION and _DECRYPTION_KEY: optional, checked when set."""
    container = r.text("NACHET_BLOB_PIPELINE_NAME")
    r.check(container is None or bool(_CONTAINER.match(container)),
            f"NACHET_BLOB_PIPELINE_NAME is not a valid container name: {container!r}")
    version = r.text("NACHET_BLOB_PIPELINE_VERSION")
    r.check(version is None or bool(_BLOB_VERSION.match(version)),
            f"NACHET_BLOB_PIPELINE_VERSION must be a version like 0.1.3, not {version!r}")
    key = r.text("NACHET_BLOB_PIPELINE_DECRYPTION_KEY")
    # A secret: the problem never quotes it.
    r.check(key is None or bool(_FERNET_KEY.match(key)),
            "NACHET_BLOB_PIPELINE_DECRYPTION_KEY is not a Fernet key (32 bytes in url-safe "
            "base64: 44 characters ending in =)")
    return container, version, key


def _appinsights(r: _Reader) -> str | None:
    """Application Insights' connection string (the Functions host reads it too)."""
    value = r.text(APPINSIGHTS_SETTING)
    # The problem does not quote it: the key in it lets anyone send telemetry there.
    r.check(value is None or "instrumentationkey=" in value.lower(),
            f"{APPINSIGHTS_SETTING} is not an Application Insights connection string "
            "(InstrumentationKey=…;IngestionEndpoint=…)")
    return value


def load_settings(env: Mapping[str, str]) -> Settings:
    """Return the settings in `env`; raise ConfigurationError naming every bad one."""
    r = _Reader(env)
    db_url = r.required("NACHET_DB_URL")
    r.check(
        not db_url or db_url.startswith(("postgresql://", "postgres://")) or "=" in db_url,
        "NACHET_DB_URL must be a PostgreSQL URL (postgresql://…)",
    )
    schema = r.text("NACHET_SCHEMA", "nachet") or "nachet"
    r.check(bool(_IDENTIFIER.match(schema)), f"NACHET_SCHEMA is not a plain lower-case name: {schema!r}")
    max_width, max_height = _dimension(r)
    blob_pipeline_container, blob_pipeline_version, blob_pipeline_key = _blob_pipeline(r)
    nachet_env = (r.text("NACHET_ENV", "production") or "").lower()
    storage_connection_string, storage_identity = _storage(r)
    settings = Settings(
        db_url=db_url,
        schema=schema,
        storage_connection_string=storage_connection_string,
        storage_identity=storage_identity,
        pictures_container=_container(r, "NACHET_PICTURES_CONTAINER", "nachet-pictures"),
        thumbnails_container=_container(r, "NACHET_THUMBNAILS_CONTAINER", "nachet-thumbnails"),
        exports_container=_container(r, "NACHET_EXPORTS_CONTAINER", "nachet-exports"),
        max_content_bytes=int(r.number("NACHET_MAX_CONTENT_LENGTH", 64, minimum=0.001) * 1024 * 1024),
        valid_extensions=_extensions(r),
        max_width=max_width,
        max_height=max_height,
        max_image_pixels=r.integer("NACHET_MAX_IMAGE_PIXELS", 40_000_000),
        local_mode=nachet_env == "local",
        easy_auth_enabled=r.flag("WEBSITE_AUTH_ENABLED"),
        vouch_jwt_secret=r.text("NACHET_VOUCH_JWT_SECRET"),
        frontend_origins=_origins(r),
        # Local mode needs no configuration: the web client sends an empty email.
        dev_user_email=r.text("NACHET_DEV_USER_EMAIL") or DEFAULT_DEV_USER_EMAIL,
        archive_user_email=(r.text("NACHET_ARCHIVE_USER_EMAIL", "archive@nachet.local") or "").lower(),
        blob_pipeline_container=blob_pipeline_container,
        blob_pipeline_version=blob_pipeline_version,
        blob_pipeline_decryption_key=blob_pipeline_key,
        db_pool_max_size=r.integer("NACHET_DB_POOL_MAX_SIZE", 4),
        db_timeout_s=r.number("NACHET_DB_TIMEOUT_S", 5.0, minimum=0.1),
        model_connect_timeout_s=r.number("NACHET_MODEL_CONNECT_TIMEOUT_S", 5.0, minimum=0.01),
        model_read_timeout_s=r.number("NACHET_MODEL_READ_TIMEOUT_S", 60.0, minimum=0.01),
        model_max_in_flight=r.integer("NACHET_MODEL_MAX_IN_FLIGHT", 8),
        appinsights_connection_string=_appinsights(r),
    )
    # The blob trigger writes thumbnails: into the container it watches, it would trigger itself.
    r.check(
        settings.pictures_container != settings.thumbnails_container,
        "NACHET_PICTURES_CONTAINER and NACHET_THUMBNAILS_CONTAINER must differ",
    )
    # Nor may it see dataset exports, which are no pictures.
    r.check(
        settings.pictures_container != settings.exports_container,
        "NACHET_PICTURES_CONTAINER and NACHET_EXPORTS_CONTAINER must differ",
    )
    r.check(
        settings.dev_user_email.lower() != settings.archive_user_email,
        "NACHET_DEV_USER_EMAIL must not be NACHET_ARCHIVE_USER_EMAIL: the archive user cannot sign in",
    )
    r.check(
        nachet_env in ("local", "production"),
        f"NACHET_ENV must be local or production, not {nachet_env!r}",
    )
    if r.problems:
        raise ConfigurationError("Invalid app settings: " + "; ".join(r.problems))
    return settings


@cache
def get_settings() -> Settings:
    """The process's settings, read on first use. Raises ConfigurationError."""
    return load_settings(os.environ)


_reset_hooks: list[Callable[[], None]] = []


def on_reset(hook: Callable[[], None]) -> Callable[[], None]:
    """Register `hook` to drop a client built from the settings when they are reloaded."""
    _reset_hooks.append(hook)
    return hook


def reset() -> None:
    """Forget the settings and every client built from them (tests switch databases)."""
    for hook in _reset_hooks:
        hook()
    get_settings.cache_clear()
