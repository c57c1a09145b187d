"""Devices and their credentials. The access token appears only in the responses that create it."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from fleetgate.contracts.manage_requests import CreateDeviceRequest
from fleetgate.dialects import manage
from fleetgate.domain.devices import Device
from fleetgate.services import claims, devices, ota, profiles

router = APIGatewayHttpRouter()


def render(device: Device) -> dict:
    return manage.device(device)


@router.post("/manage/v1/devices")
def create_device() -> Response:
    body = manage.parse_body(router, CreateDeviceRequest)
    device_type = body.type
    if body.profileId is not None:  # pre-provisioned in a profile; typed by the profile's name by default
        profile = profiles.require(body.profileId)
        device_type = device_type or profile.name
    device, token = devices.register(body.name, device_type, body.label, profile_id=body.profileId)
    ota.adopt_profile_packages(device)
    return manage.envelope({**render(device), "credentials": {"accessToken": token}}, status=201)


@router.get("/manage/v1/devices")
def list_devices() -> Response:
    page, next_token = devices.list_page(*manage.page_query(router))
    return manage.page([render(d) for d in page], next_token)


@router.get("/manage/v1/devices/<device_id>")
def get_device(device_id: str) -> Response:
    device = render(devices.get(device_id))
    ownership = claims.owner_of(device_id)
    if ownership is not None:
        device["owner"] = ownership.owner
    return manage.envelope(device)


@router.delete("/manage/v1/devices/<device_id>")
def delete_device(device_id: str) -> Response:
    devices.delete(device_id)
    return Response(status_code=204, body="")


@router.post("/manage/v1/devices/<device_id>/credentials")
def regenerate_credentials(device_id: str) -> Response:
    device, token = devices.regenerate_token(device_id)
    return manage.envelope({**render(device), "credentials": {"accessToken": token}})
