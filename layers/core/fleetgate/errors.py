"""Domain errors. Data-access modules raise these instead of botocore errors; each dialect maps them
to its own status codes and bodies in exactly one place."""

from __future__ import annotations


class FleetgateError(Exception):
    """Base class; ``status`` is the HTTP status a dialect uses unless it says otherwise. ``details``
    are extra fields a dialect may add to its error body (e.g. a job execution's current state)."""

    status = 500
    code = "InternalFailure"

    def __init__(self, message: str = "", *, details: dict[str, object] | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or self.code
        self.details: dict[str, object] = dict(details or {})


class InvalidRequest(FleetgateError):
    """The request is malformed or breaks a rule."""

    status = 400
    code = "InvalidRequest"


class Unauthorized(FleetgateError):
    """Missing or wrong credentials."""

    status = 401
    code = "Unauthorized"


class Forbidden(FleetgateError):
    """Authenticated, but not allowed."""

    status = 403
    code = "Forbidden"


class NotFound(FleetgateError):
    """The addressed resource does not exist."""

    status = 404
    code = "NotFound"


class Conflict(FleetgateError):
    """The request conflicts with the current state (duplicate name, concurrent change)."""

    status = 409
    code = "Conflict"


class VersionConflict(Conflict):
    """An expected version did not match the stored one."""

    code = "VersionConflict"

    def __init__(self, message: str = "Version conflict", *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class InvalidStateTransition(Conflict):
    """The resource's current state does not allow the requested change (e.g. updating a job execution
    that already ended)."""

    code = "InvalidStateTransition"


class VersionMismatch(Conflict):
    """An ``expectedVersion`` did not match a job execution's ``versionNumber``."""

    code = "VersionMismatch"


class PayloadTooLarge(FleetgateError):
    """A body or stored document exceeds its limit."""

    status = 413
    code = "PayloadTooLarge"


class CallFailed(FleetgateError):
    """A call made for the caller (an RPC method, a function the deployer configured) produced no
    answer; ``message`` is what the caller is told, ``status`` why: 404 no such method, 502 the
    callee failed, 504 it did not answer in time."""

    status = 502
    code = "CallFailed"

    def __init__(self, message: str, *, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


class TooManyRequests(FleetgateError):
    """A per-device rate limit was reached (Xyte's Update Device: 10 calls an hour)."""

    status = 429
    code = "TooManyRequests"


class Retryable(FleetgateError):
    """A transient failure (throttling, contention) that a retry may clear. Dialects answer 503 with
    ``Retry-After: retry_after_s`` where their format allows a header."""

    status = 503
    code = "ServiceUnavailable"
    retry_after_s = 1


def retry_headers(exc: FleetgateError) -> dict[str, str]:
    """The ``Retry-After`` header a 503 for ``exc`` carries (none for other errors)."""
    return {"retry-after": str(exc.retry_after_s)} if isinstance(exc, Retryable) else {}
