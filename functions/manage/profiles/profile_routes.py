"""Device profiles. The provision secret appears only in the responses that create it (profile
creation and secret rotation); the provision key, which names the profile, is always shown."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from fleetgate.clock import iso_utc
from fleetgate.contracts.manage_requests import CreateProfileRequest, UpdateProfileRequest
from fleetgate.dialects import manage
from fleetgate.domain.devices import Device
from fleetgate.domain.profiles import DeviceProfile
from fleetgate.services import profiles

router = APIGatewayHttpRouter()


def render(profile: DeviceProfile) -> dict:
    return {
        "id": profile.id,
        "name": profile.name,
        "provisionStrategy": profile.strategy.value,
        "provisionDeviceKey": profile.provision_key,
        "createdAt": iso_utc(profile.created_at, milliseconds=True),
        "updatedAt": iso_utc(profile.updated_at, milliseconds=True),
    }


def render_device(device: Device) -> dict:
    return manage.device(device, with_profile=False)


@router.post("/manage/v1/device-profiles")
def create_profile() -> Response:
    body = manage.parse_body(router, CreateProfileRequest)
    profile, secret = profiles.create(body.name, body.provisionStrategy, body.provisionDeviceKey)
    return manage.envelope({**render(profile), "provisionDeviceSecret": secret}, status=201)


@router.get("/manage/v1/device-profiles")
def list_profiles() -> Response:
    page, next_token = profiles.list_page(*manage.page_query(router))
    return manage.page([render(p) for p in page], next_token)


@router.get("/manage/v1/device-profiles/<profile_id>")
def get_profile(profile_id: str) -> Response:
    return manage.envelope(render(profiles.get(profile_id)))


@router.patch("/manage/v1/device-profiles/<profile_id>")
def update_profile(profile_id: str) -> Response:
    body = manage.parse_body(router, UpdateProfileRequest)
    return manage.envelope(render(profiles.set_strategy(profile_id, body.provisionStrategy)))


@router.post("/manage/v1/device-profiles/<profile_id>/provision-secret")
def rotate_provision_secret(profile_id: str) -> Response:
    profile, secret = profiles.rotate_secret(profile_id)
    return manage.envelope({**render(profile), "provisionDeviceSecret": secret})


@router.delete("/manage/v1/device-profiles/<profile_id>")
def delete_profile(profile_id: str) -> Response:
    profiles.delete(profile_id)
    return Response(status_code=204, body="")


@router.get("/manage/v1/device-profiles/<profile_id>/devices")
def list_profile_devices(profile_id: str) -> Response:
    limit, token = manage.page_query(router)
    page, next_token = profiles.devices_page(profile_id, limit, token)
    return manage.page([render_device(d) for d in page], next_token)
