"""ThingsBoard's provision request as ThingsBoard's ``JsonConverter`` reads it: absent text fields are
"", a number or boolean is its text; ``provisionDeviceKey`` and ``provisionDeviceSecret`` must be
present. The result is the domain's ``ProvisionRequest`` (rules in ``fleetgate.domain.profiles``).

Invariant: anything ThingsBoard would answer with a 500 is an ``InvalidRequest`` here, before any I/O.
"""

from __future__ import annotations

from typing import Any

from fleetgate.domain.profiles import MAX_FIELD, CredentialsType, ProvisionRequest
from fleetgate.errors import InvalidRequest


def parse_provision_request(payload: Any) -> ProvisionRequest:
    """ThingsBoard's provision body. What ThingsBoard answers with 500 (not an object, a missing key
    or secret field, a field that is not text, an unknown credentials type) is an ``InvalidRequest``."""
    if not isinstance(payload, dict):
        raise InvalidRequest("The provision request must be a JSON object")
    for required in ("provisionDeviceKey", "provisionDeviceSecret"):
        if required not in payload:
            raise InvalidRequest(f"Failed to find the field {required} in the JSON body")
    raw_type = payload.get("credentialsType")
    if "credentialsType" in payload:
        text = _text(payload, "credentialsType")
        try:
            credentials_type = CredentialsType(text)
        except ValueError as exc:
            allowed = ", ".join(t.value for t in CredentialsType)
            raise InvalidRequest(f"credentialsType must be one of {allowed}, got {raw_type!r}") from exc
    else:
        credentials_type = CredentialsType.ACCESS_TOKEN
    return ProvisionRequest(
        device_name=_text(payload, "deviceName"),
        provision_key=_text(payload, "provisionDeviceKey"),
        provision_secret=_text(payload, "provisionDeviceSecret"),
        credentials_type=credentials_type,
        token=_text(payload, "token"),
        client_id=_text(payload, "clientId"),
        username=_text(payload, "username"),
        password=_text(payload, "password"),
        cert_hash=_text(payload, "hash", limit=None),
        gateway=_flag(payload, "gateway"),
    )


def _text(payload: dict[str, Any], name: str, limit: int | None = MAX_FIELD) -> str:
    """Gson's ``getAsString``: a string, or a number's or boolean's text; "" when absent."""
    if name not in payload:
        return ""
    value = payload[name]
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        raise InvalidRequest(f"{name} must be a string")
    if limit is not None and len(text) > limit:
        raise InvalidRequest(f"{name} must be at most {limit} characters")
    return text


def _flag(payload: dict[str, Any], name: str) -> bool:
    """Gson's ``getAsBoolean``: a boolean, or a string that reads "true" in any case."""
    if name not in payload:
        return False
    value = payload[name]
    if isinstance(value, bool):
        return value
    if isinstance(value, str | int | float):
        return str(value).lower() == "true"
    raise InvalidRequest(f"{name} must be a boolean")
