"""Xyte use cases every Xyte route shares: models, registration, and who a request comes from.

- ``create_model`` returns the model with its hardware key, shown that once.
- ``register`` creates a registry device named by its id, without wake-up queues (Xyte devices poll
  nothing long), with its ``XyteDevice`` record and identity claims in the same transaction: a Cloud ID
  or MAC + serial number already registered is a ``Conflict`` (Xyte answers 422), an unknown hardware
  key ``NotFound`` (404).
- ``authenticate`` resolves an access key (the device's token) to its registry identity and Xyte
  record: ``Unauthorized`` for an unknown key, ``Forbidden`` for a device that is not a Xyte device.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fleetgate import clock
from fleetgate.data import xyte as store
from fleetgate.data.xyte import XyteRepository
from fleetgate.domain import xyte
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.domain.paging import check_limit
from fleetgate.domain.xyte import Identity, XyteDevice, XyteModel
from fleetgate.errors import Forbidden, InvalidRequest, NotFound, Unauthorized
from fleetgate.services import devices
from fleetgate.settings import get_settings

MAX_PAGE = 100


def repository() -> XyteRepository:
    return XyteRepository(get_settings().require("devices_table"))


@dataclass(frozen=True)
class XyteCaller:
    """An authenticated Xyte device: its registry identity and its Xyte record."""

    identity: DeviceIdentity
    record: XyteDevice

    @property
    def device_id(self) -> str:
        return self.identity.id


# --------------------------------------------------------------------------- models
def create_model(
    name: str,
    api_version: str = xyte.LATEST_API_VERSION,
    *,
    hardware_key: str | None = None,
    vendor: str | None = None,
) -> tuple[XyteModel, str]:
    """A new model and its hardware key (generated unless the operator chose one)."""
    if not isinstance(name, str) or not xyte.MODEL_NAME_PATTERN.match(name):
        raise InvalidRequest("name must be 1-128 printable characters")
    api_version = xyte.check_api_version(api_version)
    if hardware_key is None:
        hardware_key = xyte.new_hardware_key()
    elif not isinstance(hardware_key, str) or not xyte.HARDWARE_KEY_PATTERN.match(hardware_key):
        raise InvalidRequest("A chosen hardware_key is 8-128 letters, digits or '.', '_', ':', '-'")
    model = XyteModel(
        id=str(uuid.uuid4()),
        name=name,
        api_version=api_version,
        hardware_key_hash=xyte.hash_key(hardware_key),
        created_at=clock.now_ms(),
        vendor=vendor,
    )
    repository().create_model(model)
    return model, hardware_key


def get_model(model_id: str) -> XyteModel:
    return repository().get_model(model_id)


def list_models(limit: int, next_token: str | None) -> tuple[list[XyteModel], str | None]:
    check_limit(limit, MAX_PAGE)
    return repository().list_models(limit, next_token)


def model_for_hardware_key(hardware_key: str) -> XyteModel:
    if not isinstance(hardware_key, str) or not 1 <= len(hardware_key) <= 128:
        raise InvalidRequest("hardware_key must be a string of 1-128 characters")
    model = repository().model_for_key(xyte.hash_key(hardware_key))
    if model is None:
        raise NotFound("No model has this hardware key")
    return model


# --------------------------------------------------------------------------- devices
@dataclass(frozen=True)
class Registration:
    """A validated registration request (the dialect parses the JSON)."""

    identity: Identity
    firmware_version: str
    name: str | None = None
    details: dict[str, object] | None = None
    sub_model: str | None = None
    parent_id: str | None = None


def register(model: XyteModel, registration: Registration) -> tuple[XyteDevice, str]:
    """A new Xyte device of ``model``; returns its record and its access key (shown once)."""
    device_id = str(uuid.uuid4())
    record = XyteDevice(
        device_id=device_id,
        model_id=model.id,
        api_version=model.api_version,
        identity=registration.identity,
        firmware_version=registration.firmware_version,
        name=registration.name,
        details=dict(registration.details or {}),
        sub_model=registration.sub_model,
        parent_id=registration.parent_id,
        registered_at=clock.now_ms(),
    )
    claims = store.claim_items(record)
    links = store.link_items(record)  # the model's device list, the parent's children
    taken = {1 + i: "This device is already registered" for i in range(len(claims))}
    taken |= {1 + len(claims) + i: message for i, (_, message) in enumerate(links) if message}
    _, access_key = devices.register(
        device_id,
        f"xyte:{model.name}"[:64],
        registration.name,
        device_id=device_id,
        queues=False,
        extra=[store.record_item(record), *claims, *(item for item, _ in links)],
        taken=taken,
    )
    return record, access_key


def mqtt_hub_url() -> str | None:
    """Where Xyte devices connect over MQTT: ``XYTE_MQTT_URL`` when the deployer gave one, else the
    stack's own MQTT endpoint (its domain configuration's host, port 8883), None when neither is known."""
    settings = get_settings()
    if settings.xyte_mqtt_url:
        return settings.xyte_mqtt_url
    if not settings.mqtt_domain_configuration:
        return None
    from fleetgate.data import iot  # noqa: PLC0415 - only registration answers it

    host = iot.domain_name(settings.mqtt_domain_configuration)
    return f"mqtts://{host}:8883" if host else None


def record(device_id: str) -> XyteDevice:
    found = repository().get(device_id)
    if found is None:
        raise NotFound(f"Device '{device_id}' is not a Xyte device")
    return found


def authenticate(access_key: object, device_id: str | None = None) -> XyteCaller:
    """The Xyte device ``access_key`` belongs to; with ``device_id`` (the path's), it must be that one
    (``Forbidden`` otherwise: a key opens its own device only). Anything but a known key's string, none
    included, is ``Unauthorized``."""
    if not isinstance(access_key, str):  # mass telemetry's access_token comes from JSON: any value
        raise Unauthorized()
    identity = devices.authenticate(access_key)
    if device_id is not None and device_id != identity.id:
        raise Forbidden("This access key belongs to another device")
    found = repository().get(identity.id)
    if found is None:
        raise Forbidden("This device is not a Xyte device")
    return XyteCaller(identity, found)
