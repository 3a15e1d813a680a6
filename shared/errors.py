"""The app's errors: each one is an HTTP status and a message for the client.

AppError
├── BadRequest            400
├── Unauthorized          401
├── Forbidden             403
├── NotFound              404
├── Conflict              409
├── PayloadTooLarge       413
├── UnsupportedMediaType  415
├── ModelEndpointFailed   502
├── DependencyUnavailable 503
└── ModelEndpointTimeout  504

ConfigurationError is not an AppError: a bad setting stops the app at start-up.
"""

from __future__ import annotations


def megabytes(size_bytes: int) -> str:
    """`size_bytes` in MB for a message naming a size limit: `16`, or `0.5` for a fractional one."""
    return f"{size_bytes / (1024 * 1024):g}"


class AppError(Exception):
    """Something went wrong."""

    status = 500

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "error").strip()
        super().__init__(self.message)


class BadRequest(AppError):
    """The request is not valid."""

    status = 400


class Unauthorized(AppError):
    """No identity: sign in first."""

    status = 401


class Forbidden(AppError):
    """This does not belong to you."""

    status = 403


class NotFound(AppError):
    """Not found."""

    status = 404


class Conflict(AppError):
    """This conflicts with what is stored."""

    status = 409


class PayloadTooLarge(AppError):
    """The request is too large."""

    status = 413


class UnsupportedMediaType(AppError):
    """The file is not a supported image."""

    status = 415


class ModelEndpointFailed(AppError):
    """A model endpoint failed."""

    status = 502


class DependencyUnavailable(AppError):
    """A service the app depends on is unavailable."""

    status = 503


class ModelEndpointTimeout(AppError):
    """A model endpoint timed out."""

    status = 504


class ConfigurationError(Exception):
    """One or more app settings are missing or malformed (all are named)."""
