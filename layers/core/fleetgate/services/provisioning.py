"""ThingsBoard device provisioning (``POST /api/v1/provision``), as ``DeviceProvisionServiceImpl``
decides it. Every outcome is a ``ProvisionResult`` (SUCCESS, NOT_FOUND or FAILURE); only AWS failures
raise. A FAILURE writes nothing.

Where it differs from ThingsBoard, on purpose:
- a pre-provisioned device gets a fresh access token (its previous one stops working): tokens are
  stored only as digests, so the existing one cannot be returned;
- a pre-provisioned device that was already provisioned is a FAILURE (ThingsBoard's check is
  inverted and answers SUCCESS again, which here would let anyone holding the profile's secret
  take over the device's token);
- X.509 (and LwM2M) credentials are a FAILURE with a message saying so: an HTTP-only backend has no
  TLS client authentication to check them with;
- an MQTT_BASIC device also gets an access token for the HTTP API, never shown: the operator API
  regenerates it when the device needs one.
"""

from __future__ import annotations

import secrets

from fleetgate import clock
from fleetgate.data import wakeups
from fleetgate.data.devices import DeviceRepository
from fleetgate.data.profiles import MqttReservation, ProfileRepository, ProvisioningRepository
from fleetgate.domain import passwords
from fleetgate.domain.devices import Device
from fleetgate.domain.profiles import (
    FAILURE_MSG,
    UNSUPPORTED_MSG,
    CredentialsType,
    DeviceProfile,
    ProvisionRequest,
    ProvisionResult,
    Status,
    Strategy,
    random_device_name,
)
from fleetgate.errors import Conflict, InvalidRequest, NotFound
from fleetgate.services import devices, ota
from fleetgate.settings import get_settings

_JAVA_TRIM = "".join(chr(c) for c in range(33))  # String.trim(): every character up to ' '


def _table() -> str:
    return get_settings().require("devices_table")


def provision(request: ProvisionRequest) -> ProvisionResult:
    name = request.device_name
    if name:
        name = name.strip(_JAVA_TRIM)
        if not name:
            return ProvisionResult.failure()
    if not request.provision_key or not request.provision_secret:
        return ProvisionResult.not_found()
    profile = ProfileRepository(_table()).by_provision_key(request.provision_key)
    if (
        profile is None
        or profile.strategy == Strategy.DISABLED
        or not profile.secret_matches(request.provision_secret)
    ):
        return ProvisionResult.not_found()
    if profile.strategy == Strategy.ALLOW_CREATE_NEW_DEVICES:
        return _create_device(profile, request, name or random_device_name())
    return _provision_existing(profile, name)


# --------------------------------------------------------------------------- ALLOW_CREATE_NEW_DEVICES
def _create_device(profile: DeviceProfile, request: ProvisionRequest, name: str) -> ProvisionResult:
    kind = request.credentials_type if request.has_credentials else CredentialsType.ACCESS_TOKEN
    if kind in (CredentialsType.X509_CERTIFICATE, CredentialsType.LWM2M_CREDENTIALS):
        return ProvisionResult.failure(UNSUPPORTED_MSG.format(type=kind.value))
    if kind == CredentialsType.MQTT_BASIC:
        return _create_mqtt_device(profile, request, name)
    if request.has_credentials and not request.token:
        return ProvisionResult.failure(f"{FAILURE_MSG} ACCESS_TOKEN credentials need a token")
    registered = _register(profile, request, name, request.token or None)
    if isinstance(registered, ProvisionResult):
        return registered
    device, token = registered
    try:
        ProvisioningRepository(_table()).mark_provisioned(device.id, clock.now_ms())
    except Exception:
        _remove(device)
        raise
    ota.adopt_profile_packages(device)
    return ProvisionResult(Status.SUCCESS, CredentialsType.ACCESS_TOKEN, token, device_id=device.id)


def _create_mqtt_device(profile: DeviceProfile, request: ProvisionRequest, name: str) -> ProvisionResult:
    credentials = request.mqtt
    try:
        credentials.check()
    except InvalidRequest as exc:
        return ProvisionResult.failure(exc.message)
    repo = ProvisioningRepository(_table())
    try:
        reservation = repo.reserve_mqtt(credentials, secrets.token_hex(8), clock.now_ms())
    except Conflict:
        return ProvisionResult.failure()
    try:
        registered = _register(profile, request, name, None)
    except Exception:
        repo.release_mqtt(reservation)
        raise
    if isinstance(registered, ProvisionResult):
        repo.release_mqtt(reservation)
        return registered
    device, _ = registered  # its access token is never shown: the operator API regenerates one
    try:
        password_hash = passwords.hash_secret(credentials.password) if credentials.password else None
        repo.bind_mqtt(device.id, reservation, password_hash, clock.now_ms())
    except Exception:
        _remove(device, reservation)
        raise
    ota.adopt_profile_packages(device)
    value = {
        "clientId": credentials.client_id,
        "userName": credentials.user_name,
        "password": credentials.password,
    }
    return ProvisionResult(Status.SUCCESS, CredentialsType.MQTT_BASIC, value, device_id=device.id)


def _register(
    profile: DeviceProfile, request: ProvisionRequest, name: str, token: str | None
) -> tuple[Device, str] | ProvisionResult:
    """The device in ``profile``, typed by the profile's name; a FAILURE when the name or the chosen
    token is taken, or breaks our rules."""
    try:
        return devices.register(
            name, profile.name, None, token=token, profile_id=profile.id, gateway=request.gateway
        )
    except InvalidRequest as exc:
        return ProvisionResult.failure(f"{FAILURE_MSG} {exc.message}")
    except Conflict:
        return ProvisionResult.failure()


def _remove(device: Device, reservation: MqttReservation | None = None) -> None:
    """Undo a device created by a provisioning that could not be completed."""
    DeviceRepository(_table()).delete(device)
    wakeups.delete_queues(device.queues)
    if reservation is not None:
        ProvisioningRepository(_table()).release_mqtt(reservation)


# --------------------------------------------------------------------------- CHECK_PRE_PROVISIONED_DEVICES
def _provision_existing(profile: DeviceProfile, name: str) -> ProvisionResult:
    device = _pre_provisioned(profile, name)
    if device is None:
        return ProvisionResult.failure()
    repo = ProvisioningRepository(_table())
    try:
        repo.mark_provisioned(device.id, clock.now_ms())
    except Conflict:  # provisioned already, or by a concurrent request
        return ProvisionResult.failure()
    try:
        device, token = devices.regenerate_token(device.id)
    except (Conflict, NotFound):  # the operator changed or deleted the device meanwhile
        repo.unmark_provisioned(device.id)
        return ProvisionResult.failure()
    except Exception:
        repo.unmark_provisioned(device.id)
        raise
    return ProvisionResult(Status.SUCCESS, CredentialsType.ACCESS_TOKEN, token, device_id=device.id)


def _pre_provisioned(profile: DeviceProfile, name: str) -> Device | None:
    """The device of that name in ``profile``, or None."""
    device_id = DeviceRepository(_table()).id_for_name(name) if name else None
    if device_id is None:
        return None
    try:
        device = devices.get(device_id)
    except NotFound:  # deleted meanwhile
        return None
    return device if device.profile_id == profile.id else None
