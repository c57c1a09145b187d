"""A device's attributes: client (reported by the device) and shared (set here, desired state)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from fleetgate.dialects import manage
from fleetgate.domain.shadow import Shadow
from fleetgate.errors import InvalidRequest
from fleetgate.services import attributes, devices

router = APIGatewayHttpRouter()


def render(shadow: Shadow) -> dict:
    return {"client": shadow.reported, "shared": shadow.desired, "version": shadow.version}


@router.get("/manage/v1/devices/<device_id>/attributes")
def get_attributes(device_id: str) -> Response:
    devices.get(device_id)
    return manage.envelope(render(attributes.read(device_id)))


@router.put("/manage/v1/devices/<device_id>/attributes/shared")
def put_shared_attributes(device_id: str) -> Response:
    values = manage.parse_json_object(router)
    if not values:
        raise InvalidRequest("The body must set at least one attribute")
    device = devices.get(device_id)
    return manage.envelope(render(attributes.set_shared(device, values)))


@router.delete("/manage/v1/devices/<device_id>/attributes/shared")
def delete_shared_attributes(device_id: str) -> Response:
    raw = router.current_event.get_query_string_value("keys") or ""
    keys = [k for k in raw.split(",") if k]
    if not keys:
        raise InvalidRequest("keys is required: a comma-separated list of attribute names")
    device = devices.get(device_id)
    return manage.envelope(render(attributes.delete_shared(device, keys)))
