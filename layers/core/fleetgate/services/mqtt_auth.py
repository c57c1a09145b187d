"""MQTT device sign-in: the use case behind the AWS IoT custom authorizer (``functions/iot/authorizer``).

IoT Core sends ``protocolData.mqtt.{username, password, clientId}``, the password base64-encoded and
``clientId`` only when the device sent one. The device is who it says when:

- the password, decoded, is an access token of the registry (looked up by its SHA-256 digest, one
  ``GetItem``), and that token's device has the username as its id (a username may carry AWS's
  ``?x-amz-customauthorizer-name=...`` suffix, which is left out);
- the client id, when given, is the device's id or its name (``fleetgate.domain.mqtt_policy``).

Invariant: ``authorize`` never raises. Whatever the event (malformed, no password, not base64, unknown
or another device's token, a failing registry) it returns a ``Decision``: the answer for IoT Core and
the reason, which names no secret.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from fleetgate.domain import mqtt_policy
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.errors import FleetgateError, Unauthorized
from fleetgate.services import devices
from fleetgate.settings import get_settings

GATEWAY_TYPE = "thingspro-gateway"  # the registry type of ThingsPro gateways (services.thingspro)
MAX_USERNAME = 1024  # longer than any id, so never a device; refused before any lookup


@dataclass(frozen=True)
class Decision:
    answer: dict[str, Any]  # what IoT Core gets
    reason: str  # "allowed", or why not; never a secret
    device_id: str | None = None  # the device allowed, or the id a refused connection claimed


def authorize(event: Any, function_arn: str) -> Decision:
    """IoT Core's CONNECT check for one device (see the module's invariant)."""
    claimed: str | None = None
    try:
        username, password, client_id = _credentials(event)
        claimed = username
        identity = _identity(_token(password))
        if identity.id != username:
            raise _Refused("the token is another device's")
        if client_id is not None and client_id not in (identity.id, identity.name):
            raise _Refused("the client id is neither the device's id nor its name")
        scope = mqtt_policy.ArnScope.of_function(function_arn)
        prefix = get_settings().command_topic_prefix
        gateway = identity.type == GATEWAY_TYPE
        answer = mqtt_policy.allowed(identity.id, identity.name, scope, prefix, gateway=gateway)
    except _Refused as refusal:
        return _refused(str(refusal), claimed)
    except FleetgateError as error:  # the registry failed (throttled, unavailable): the device retries
        return _refused(f"the registry could not be read: {error.code}", claimed)
    except Exception as error:  # noqa: BLE001 - IoT Core gets a denial, never an error
        return _refused(f"unexpected {type(error).__name__}", claimed)
    return Decision(answer, "allowed", identity.id)


def _identity(token: str) -> DeviceIdentity:
    try:
        return devices.authenticate(token)
    except Unauthorized:
        raise _Refused("unknown token") from None


class _Refused(Exception):
    pass


def _credentials(event: Any) -> tuple[str, str, str | None]:
    mqtt = event.get("protocolData", {}).get("mqtt") if isinstance(event, dict) else None
    if not isinstance(mqtt, dict):
        raise _Refused("no protocolData.mqtt")
    username, password, client_id = mqtt.get("username"), mqtt.get("password"), mqtt.get("clientId")
    if not isinstance(username, str) or not username or len(username) > MAX_USERNAME:
        raise _Refused("no username")
    if not isinstance(password, str) or not password:
        raise _Refused("no password")
    if client_id is not None and not isinstance(client_id, str):
        raise _Refused("clientId is not a string")
    return username.split("?", 1)[0], password, client_id or None


def _token(password: str) -> str:
    try:
        return base64.b64decode(password, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as error:  # UnicodeDecodeError is a ValueError
        raise _Refused("the password is not base64 of UTF-8 text") from error


def _refused(reason: str, claimed: str | None) -> Decision:
    return Decision(mqtt_policy.denied(), reason, None if claimed is None else claimed[:128])
