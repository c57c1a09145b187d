"""Assigning packages to a device or a device profile, and a device's update progress."""

import ota_rendering as render
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from fleetgate.contracts.manage_requests import AssignRequest
from fleetgate.dialects import manage
from fleetgate.domain.ota import FIRMWARE, SOFTWARE, Assignment, progress_keys
from fleetgate.services import devices, ota

router = APIGatewayHttpRouter()


def _changes() -> dict[str, str | None]:
    body = manage.parse_body(router, AssignRequest)
    changes: dict[str, str | None] = {}
    if "firmwareId" in body.model_fields_set:
        changes[FIRMWARE] = body.firmwareId
    if "softwareId" in body.model_fields_set:
        changes[SOFTWARE] = body.softwareId
    return changes


def _status(device_id: str, statuses: list[ota.OtaStatus]) -> dict:
    out: dict = {"deviceId": device_id}
    for status in statuses:
        out[status.package_type.lower()] = {
            "assigned": render.assignment(status.assignment),
            "reported": {
                key: {"ts": status.reported[key].ts, "value": status.reported[key].value}
                for key in progress_keys(status.package_type)
                if key in status.reported
            },
            "upToDate": status.up_to_date,
        }
    return out


def _profile(profile_id: str, assignments: dict[str, Assignment]) -> dict:
    return {
        "profileId": profile_id,
        "firmware": render.assignment(assignments.get(FIRMWARE)),
        "software": render.assignment(assignments.get(SOFTWARE)),
    }


@router.get("/manage/v1/devices/<device_id>/ota")
def get_device_ota(device_id: str) -> Response:
    return manage.envelope(_status(device_id, ota.device_status(devices.get(device_id))))


@router.put("/manage/v1/devices/<device_id>/ota")
def put_device_ota(device_id: str) -> Response:
    changes = _changes()
    return manage.envelope(_status(device_id, ota.assign_to_device(device_id, changes)))


@router.get("/manage/v1/device-profiles/<profile_id>/ota")
def get_profile_ota(profile_id: str) -> Response:
    return manage.envelope(_profile(profile_id, ota.profile_assignments(profile_id)))


@router.put("/manage/v1/device-profiles/<profile_id>/ota")
def put_profile_ota(profile_id: str) -> Response:
    changes = _changes()
    assignments, checked = ota.assign_to_profile(profile_id, changes)
    return manage.envelope({**_profile(profile_id, assignments), "devicesChecked": checked})
