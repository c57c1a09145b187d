"""The Xyte device model: device models (a ``hardware_key`` names one), the Xyte side of a registry
device, and the model API versions that shape what a device reads.

- A model's ``hardware_key`` is its registration secret (firmware embeds it): random 32 hex digits, or
  chosen by the operator when migrating a fleet; shown once at creation, stored only as a SHA-256
  digest, which is also its lookup key (like devices' tokens).
- A Xyte device is an ordinary registry device (its id is Xyte's ``id``, its access token Xyte's
  ``access_key``; its registry name is its id, its Xyte ``name`` the label) plus a ``XyteDevice``
  record: what registration said (model, cloud id or MAC + serial number, firmware, details) and the
  versions the device compares (config, space, info) with the flags of what is waiting for it.
- A device registers once per Cloud ID, or once per MAC + serial number: ``identity_claims`` are the
  keys that make both unique.
- Model API versions 1.0.0-1.0.7 (Xyte's changelog): ``at_least(version, "1.0.5")`` decides a shape.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from fleetgate.errors import InvalidRequest

API_VERSIONS = ("1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6", "1.0.7")
LATEST_API_VERSION = API_VERSIONS[-1]
# What each version changed (Xyte's device-model versioning page).
COMMAND_UPDATE_NEEDS_ID = "1.0.1"
SN_REQUIRED_WITH_CLOUD_ID = "1.0.2"
SEMVER_FIRMWARE = "1.0.4"
SCOPED_CONFIG = "1.0.5"
STRICT_UPDATE_DEVICE = "1.0.6"
DEVICE_ID_IN_ANSWERS = "1.0.7"

HARDWARE_KEY_PATTERN = re.compile(r"[A-Za-z0-9._:-]{8,128}\Z")
MODEL_NAME_PATTERN = re.compile(r"[^\x00-\x1f\x7f]{1,128}\Z")
CLOUD_ID_PATTERN = re.compile(r"[!-~]{1,128}\Z")  # printable ASCII, no space
MAC_PATTERN = re.compile(r"[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}\Z")
SN_PATTERN = re.compile(r"[!-~]{1,128}\Z")
SEMVER_PATTERN = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?\Z"
)
FIRMWARE_PATTERN = re.compile(r"[^\x00-\x1f\x7f]{1,64}\Z")
MAX_NAME = 256


def at_least(version: str, minimum: str) -> bool:
    """``version`` is ``minimum`` or later (both from ``API_VERSIONS``)."""
    return API_VERSIONS.index(version) >= API_VERSIONS.index(minimum)


def check_api_version(value: Any) -> str:
    if value not in API_VERSIONS:
        raise InvalidRequest(f"api_version must be one of {', '.join(API_VERSIONS)}")
    return str(value)


def check_firmware(value: Any, api_version: str, name: str = "firmware_version") -> str:
    """A firmware version as the model's API version wants it: SemVer from 1.0.4, any label before."""
    if not isinstance(value, str) or not FIRMWARE_PATTERN.match(value):
        raise InvalidRequest(f"{name} must be a string of 1-64 printable characters")
    if at_least(api_version, SEMVER_FIRMWARE) and not SEMVER_PATTERN.match(value):
        raise InvalidRequest(f"{name} must be a SemVer version (MAJOR.MINOR.PATCH) for this model")
    return value


def semver_key(version: str) -> tuple[Any, ...] | None:
    """A sort key for a SemVer version (pre-releases before their release); None if not SemVer."""
    match = SEMVER_PATTERN.match(version)
    if not match:
        return None
    major, minor, patch, pre = int(match[1]), int(match[2]), int(match[3]), match[4]
    pre_key: tuple[Any, ...] = (1,) if pre is None else (0, *(_pre_part(p) for p in pre[1:].split(".")))
    return (major, minor, patch, pre_key)


def _pre_part(part: str) -> tuple[int, int | str]:
    return (0, int(part)) if part.isdigit() else (1, part)


def firmware_outdated(current: str | None, latest: str | None) -> bool:
    """The device should hear of ``latest``: it differs from ``current`` and is not older (by SemVer
    where both are SemVer)."""
    if not latest or current == latest:
        return False
    if current is None:
        return True
    a, b = semver_key(current), semver_key(latest)
    return a is None or b is None or b > a


def new_hardware_key() -> str:
    return secrets.token_hex(16)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def normalize_mac(mac: str) -> str:
    """``aa-bb-cc-dd-ee-ff``, ``AABBCCDDEEFF`` and ``aa:bb:cc:dd:ee:ff`` are one MAC: upper case, colons."""
    digits = re.sub(r"[:-]", "", mac).upper()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


@dataclass(frozen=True)
class XyteModel:
    id: str
    name: str
    api_version: str
    hardware_key_hash: str
    created_at: int  # epoch ms
    vendor: str | None = None
    latest_fw_version: str | None = None
    latest_fw_file_id: str | None = None

    def with_changes(self, **changes: Any) -> XyteModel:
        return replace(self, **changes)


@dataclass(frozen=True)
class Identity:
    """How a device names itself at registration: a Cloud ID, or a MAC + serial number."""

    cloud_id: str | None
    mac: str | None
    sn: str | None

    def claims(self) -> list[str]:
        """The registry keys that make the registration unique (one per way it can be named)."""
        keys = []
        if self.cloud_id is not None:
            keys.append(f"XYTECLOUD#{self.cloud_id}")
        if self.mac is not None and self.sn is not None:
            keys.append(f"XYTEMACSN#{self.mac}#{self.sn}")
        return keys


@dataclass(frozen=True)
class XyteDevice:
    """The Xyte side of registry device ``device_id``."""

    device_id: str
    model_id: str
    api_version: str  # the model's, copied at registration and when the model changes
    identity: Identity
    firmware_version: str
    name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    sub_model: str | None = None
    parent_id: str | None = None
    host_address: str | None = None
    registered_at: int = 0
    config_version: int = 0  # the server's current config version (0: none yet)
    space_version: int = 0
    info_version: int = 0
    new_licenses: bool = False  # a license change waits for the device
    command_pending: bool = False  # a command waits for the device
    update_calls: tuple[int, ...] = ()  # epoch ms of recent Update Device calls (rate limit)

    @property
    def sends_device_id(self) -> bool:
        return at_least(self.api_version, DEVICE_ID_IN_ANSWERS)

    def with_changes(self, **changes: Any) -> XyteDevice:
        return replace(self, **changes)


def stamped(body: dict[str, Any], device: XyteDevice) -> dict[str, Any]:
    """``body`` with ``device_id`` when the device's model API version answers with it (1.0.7+)."""
    return {**body, "device_id": device.device_id} if device.sends_device_id else body
