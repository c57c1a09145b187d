"""Device profiles and ThingsBoard's device provisioning rules (``DeviceProvisionServiceImpl``).

A profile groups devices (a device created by provisioning takes the profile's name as its type) and
carries the provisioning settings: a provision key (public, names the profile), a provision secret
(random, shown once, stored as a SHA-256 digest and compared in constant time) and a strategy.

A provision request is parsed by the ThingsBoard dialect (``fleetgate.dialects.thingsboard.provisioning``).
Requested credentials apply only when one of ``token``, ``hash``, ``clientId``, ``username``
or ``password`` is non-empty; otherwise the device gets a generated access token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from fleetgate.domain.devices import TYPE_PATTERN
from fleetgate.errors import InvalidRequest


class Strategy(StrEnum):
    ALLOW_CREATE_NEW_DEVICES = "ALLOW_CREATE_NEW_DEVICES"
    CHECK_PRE_PROVISIONED_DEVICES = "CHECK_PRE_PROVISIONED_DEVICES"
    DISABLED = "DISABLED"


class CredentialsType(StrEnum):
    ACCESS_TOKEN = "ACCESS_TOKEN"  # noqa: S105 - a credentials type's name
    MQTT_BASIC = "MQTT_BASIC"
    X509_CERTIFICATE = "X509_CERTIFICATE"
    LWM2M_CREDENTIALS = "LWM2M_CREDENTIALS"


class Status(StrEnum):
    SUCCESS = "SUCCESS"
    NOT_FOUND = "NOT_FOUND"
    FAILURE = "FAILURE"


NOT_FOUND_MSG = "Provision data was not found!"
FAILURE_MSG = "Failed to provision device!"
UNSUPPORTED_MSG = (
    "Failed to provision device! {type} credentials are not supported by this server; "
    "use ACCESS_TOKEN or MQTT_BASIC"
)

KEY_PATTERN = re.compile(r"[!-~]{1,128}\Z")  # printable ASCII without spaces
MAX_NAME = 64
MAX_FIELD = 256  # longest clientId, username, password, token or device name we read
RANDOM_NAME_LENGTH = 20
_ALPHANUMERIC = string.ascii_letters + string.digits


@dataclass(frozen=True)
class DeviceProfile:
    id: str
    name: str
    strategy: Strategy
    provision_key: str
    secret_hash: str
    created_at: int  # epoch ms
    updated_at: int  # epoch ms
    version: int = 1

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(hash_secret(secret), self.secret_hash)

    def with_strategy(self, strategy: Strategy, now_ms: int) -> DeviceProfile:
        return replace(self, strategy=strategy, updated_at=now_ms, version=self.version + 1)

    def with_secret_hash(self, secret_hash: str, now_ms: int) -> DeviceProfile:
        return replace(self, secret_hash=secret_hash, updated_at=now_ms, version=self.version + 1)


def new_profile(
    name: str, strategy: str, provision_key: str | None, now_ms: int
) -> tuple[DeviceProfile, str]:
    """A validated profile and its provision secret in plain (to be shown once)."""
    check_name(name)
    key = new_secret() if provision_key is None else provision_key
    if not KEY_PATTERN.match(key):
        raise InvalidRequest("provisionDeviceKey must be 1-128 printable ASCII characters without spaces")
    secret = new_secret()
    profile = DeviceProfile(
        id=str(uuid.uuid4()),
        name=name,
        strategy=parse_strategy(strategy),
        provision_key=key,
        secret_hash=hash_secret(secret),
        created_at=now_ms,
        updated_at=now_ms,
    )
    return profile, secret


def check_name(name: str) -> None:
    """A profile's name becomes the type of the devices it provisions, so it follows the type's rules."""
    if not TYPE_PATTERN.match(name) or name.strip() != name:
        raise InvalidRequest(
            f"name must be 1-{MAX_NAME} printable characters without leading or trailing spaces"
        )


def parse_strategy(value: str) -> Strategy:
    try:
        return Strategy(value)
    except ValueError as exc:
        allowed = ", ".join(s.value for s in Strategy)
        raise InvalidRequest(f"provisionStrategy must be one of {allowed}") from exc


def new_secret() -> str:
    """20 URL-safe characters (120 bits), the length of ThingsBoard's generated keys and secrets."""
    return secrets.token_urlsafe(15)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def random_device_name() -> str:
    """ThingsBoard's name for a device provisioned without one: 20 random letters and digits."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(RANDOM_NAME_LENGTH))


# --------------------------------------------------------------------------- provision requests
@dataclass(frozen=True)
class MqttBasic:
    client_id: str
    user_name: str
    password: str

    def check(self) -> None:
        """ThingsBoard's rules for MQTT basic credentials."""
        if not self.client_id and not self.user_name:
            raise InvalidRequest("Failed to provision device! Both MQTT clientId and username are empty")
        if self.client_id and self.password and not self.user_name:
            raise InvalidRequest(
                "Failed to provision device! A password needs a username, not only a clientId"
            )


@dataclass(frozen=True)
class ProvisionRequest:
    device_name: str  # "" when absent
    provision_key: str
    provision_secret: str
    credentials_type: CredentialsType
    token: str = ""
    client_id: str = ""
    username: str = ""
    password: str = ""
    cert_hash: str = ""
    gateway: bool = False

    @property
    def has_credentials(self) -> bool:
        """ThingsBoard applies the requested credentials only when one of these is non-empty."""
        return any((self.token, self.cert_hash, self.username, self.password, self.client_id))

    @property
    def mqtt(self) -> MqttBasic:
        return MqttBasic(self.client_id, self.username, self.password)


@dataclass(frozen=True)
class ProvisionResult:
    status: Status
    credentials_type: CredentialsType | None = None
    credentials_value: str | dict[str, str] | None = None
    error_msg: str | None = None
    device_id: str | None = None

    @classmethod
    def not_found(cls) -> ProvisionResult:
        return cls(Status.NOT_FOUND, error_msg=NOT_FOUND_MSG)

    @classmethod
    def failure(cls, message: str = FAILURE_MSG) -> ProvisionResult:
        return cls(Status.FAILURE, error_msg=message)
