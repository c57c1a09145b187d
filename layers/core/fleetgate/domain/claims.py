"""Claiming, as ThingsBoard's ``ClaimDevicesServiceImpl`` does it.

A device opens a claiming window (``POST /api/v1/{token}/claim``): a secret and a duration. Within it,
an operator who names the device and gives the same secret becomes its owner; the window is then
used up. Like ThingsBoard, a wrong secret or an expired window also uses the window up, so a short
secret cannot be guessed at leisure: the device has to open a new window. A device that already has
an owner opens no window (ThingsBoard only logs that), and the owner can release it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from fleetgate.domain import passwords
from fleetgate.errors import InvalidRequest
from fleetgate.jsonutil import NumberLiteral

DEFAULT_DURATION_MS = 86_400_000  # ThingsBoard's security.claim.duration
MAX_DURATION_MS = 365 * DEFAULT_DURATION_MS
_LONG_STRING = re.compile(r"[+-]?[0-9]+\Z")  # what Java's Long.parseLong reads (Gson's getAsLong of a string)
MAX_SECRET = 1024


@dataclass(frozen=True)
class ClaimRequest:
    """What a device asks for: its secret ("" when none) and how long the window stays open."""

    secret_key: str = ""
    duration_ms: int = DEFAULT_DURATION_MS


@dataclass(frozen=True)
class ClaimWindow:
    device_id: str
    window_id: str  # tells this window from a later one, so a stale writer never removes a new one
    secret_hash: str
    created_at: int  # epoch ms
    expires_at: int  # epoch ms

    def expired(self, now_ms: int) -> bool:
        return now_ms > self.expires_at

    def matches(self, secret_key: str) -> bool:
        return passwords.verify_secret(secret_key, self.secret_hash)


@dataclass(frozen=True)
class Ownership:
    device_id: str
    owner: str  # the operator's JWT ``sub``
    owner_name: str | None
    claimed_at: int  # epoch ms


def open_window(device_id: str, request: ClaimRequest, now_ms: int) -> ClaimWindow:
    return ClaimWindow(
        device_id=device_id,
        window_id=secrets.token_hex(8),
        secret_hash=passwords.hash_secret(request.secret_key),
        created_at=now_ms,
        expires_at=now_ms + request.duration_ms,
    )


def parse_device_claim(payload: Any) -> ClaimRequest:
    """A device's claim body, already parsed (``{}`` when it was empty or absent): a JSON object with
    optional ``secretKey`` and ``durationMs``. Values are read as ThingsBoard's Gson reads them (a
    number or boolean secret is its text; a digit string is a duration); ``durationMs`` of 0 or less
    means the default."""
    if not isinstance(payload, dict):
        raise InvalidRequest('The claim body must be a JSON object: {"secretKey": ..., "durationMs": ...}')
    secret_key = ""
    if "secretKey" in payload:
        secret_key = _text(payload["secretKey"], "secretKey")
        if len(secret_key) > MAX_SECRET:
            raise InvalidRequest(f"secretKey must be at most {MAX_SECRET} characters")
    duration = DEFAULT_DURATION_MS
    if "durationMs" in payload:
        requested = _long(payload["durationMs"])
        if requested > MAX_DURATION_MS:
            raise InvalidRequest(f"durationMs must be at most {MAX_DURATION_MS} (one year)")
        if requested > 0:
            duration = requested
    return ClaimRequest(secret_key, duration)


def _text(value: Any, name: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidRequest(f"{name} must be a string")


def _long(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidRequest("durationMs must be an integer number of milliseconds")
    if isinstance(value, str) and not isinstance(value, NumberLiteral) and not _LONG_STRING.match(value):
        raise InvalidRequest("durationMs must be an integer number of milliseconds")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise InvalidRequest("durationMs must be an integer number of milliseconds") from exc
    if not number.is_finite() or number != number.to_integral_value() or abs(number) >= 2**63:
        raise InvalidRequest("durationMs must be an integer number of milliseconds")
    return int(number)
