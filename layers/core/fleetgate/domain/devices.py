"""Devices and their credentials.

A device is one record whatever dialect it speaks. Its name is also its ThingDatas ``thingName``, so
names follow AWS IoT's thing-name rules. Access tokens are random, shown once, and stored only as a
SHA-256 digest: a token carries 120 bits of entropy, so a fast hash is enough and lets the digest
itself be the lookup key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass, field, replace

from fleetgate.errors import InvalidRequest

NAME_PATTERN = re.compile(r"[a-zA-Z0-9:_-]{1,128}\Z")
TYPE_PATTERN = re.compile(r"[^\x00-\x1f]{1,64}\Z")
MAX_LABEL = 256
MAX_TOKEN = 256
TOKEN_PATTERN = re.compile(r"[!-.0-~]{1,256}\Z")  # printable ASCII without space and '/' (a path segment)
DEFAULT_TYPE = "default"


@dataclass(frozen=True)
class DeviceIdentity:
    """What a credential resolves to: enough to serve a device request without reading the device."""

    id: str
    name: str
    type: str
    queues: dict[str, str] = field(default_factory=dict)  # long-poll channel → wake-up queue URL
    profile_id: str | None = None


@dataclass(frozen=True)
class Thing:
    """A device addressed by its name (ThingDatas' ``thingName``)."""

    id: str
    name: str


def check_thing_name(name: str) -> None:
    """A thing name the registry could hold (a device name), else ``InvalidRequest``."""
    if not NAME_PATTERN.match(name):
        raise InvalidRequest("A thing name is 1-128 characters of letters, digits, ':', '_' or '-'")


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    type: str
    label: str | None
    created_at: int  # epoch milliseconds
    token_hash: str
    queues: dict[str, str] = field(default_factory=dict)  # long-poll channel → wake-up queue URL
    profile_id: str | None = None  # device profile (provisioning, OTA by profile)
    gateway: bool = False  # ThingsBoard's additionalInfo.gateway

    @property
    def identity(self) -> DeviceIdentity:
        return DeviceIdentity(self.id, self.name, self.type, dict(self.queues), self.profile_id)

    def with_token_hash(self, token_hash: str) -> Device:
        return replace(self, token_hash=token_hash)

    def with_queues(self, queues: dict[str, str]) -> Device:
        return replace(self, queues=dict(queues))


def new_device(
    name: str,
    device_type: str | None,
    label: str | None,
    now_ms: int,
    *,
    token: str | None = None,
    profile_id: str | None = None,
    gateway: bool = False,
    device_id: str | None = None,
) -> tuple[Device, str]:
    """A validated device and its plain access token (to be shown once): ``token`` when the caller
    chose one (ThingsBoard provisioning allows it), else a new random one. Its id is a new UUID unless
    the caller made one (a Xyte device is named by its id)."""
    if not NAME_PATTERN.match(name):
        raise InvalidRequest("name must be 1-128 characters of letters, digits, ':', '_' or '-'")
    device_type = DEFAULT_TYPE if device_type is None else device_type
    if not TYPE_PATTERN.match(device_type):
        raise InvalidRequest("type must be 1-64 printable characters")
    if label is not None and len(label) > MAX_LABEL:
        raise InvalidRequest(f"label must be at most {MAX_LABEL} characters")
    if token is None:
        token = new_token()
    elif not TOKEN_PATTERN.match(token):
        raise InvalidRequest(f"A chosen token must be 1-{MAX_TOKEN} printable characters without '/'")
    device = Device(
        id=device_id or str(uuid.uuid4()),
        name=name,
        type=device_type,
        label=label,
        created_at=now_ms,
        token_hash=hash_token(token),
        profile_id=profile_id,
        gateway=gateway,
    )
    return device, token


def new_token() -> str:
    """A 20-character URL-safe access token (the length ThingsBoard's tokens have)."""
    return secrets.token_urlsafe(15)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
