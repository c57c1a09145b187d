"""Xyte device info and settings on the hub (the device's own access key):

- ``GET /v1/devices/{device_id}``: Get Device Info (``dialects.xyte.registry.device_view``);
- ``PUT /v1/devices/{device_id}``: Update Device (10 calls an hour, then 429; unknown keys 400 from
  model API 1.0.6); answers ``{success, info_version}``;
- ``GET /v1/devices/{device_id}/children``: the device's children;
- ``GET /v1/devices/{device_id}/space``: its space info;
- ``PUT /v1/devices/{device_id}/cloud_settings``: ``{property, value}`` of a known property (400
  otherwise); answers every property.
"""

from collections.abc import Callable

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.dialects import xyte
from fleetgate.dialects.xyte import registry
from fleetgate.domain.xyte import stamped
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_registry, xyte_space
from fleetgate.services.xyte import XyteCaller


def get_device(request: HttpRequest, caller: XyteCaller) -> Result:
    return xyte.ok(registry.device_view(xyte_registry.info(caller.device_id, caller.record)))


def put_device(request: HttpRequest, caller: XyteCaller) -> Result:
    record = xyte_registry.update_device(caller.device_id, xyte.json_object(request))
    return xyte.ok(registry.updated(record))


def get_children(request: HttpRequest, caller: XyteCaller) -> Result:
    return xyte.ok([registry.child_view(r) for r in xyte_registry.children(caller.device_id)])


def get_space(request: HttpRequest, caller: XyteCaller) -> Result:
    return xyte.ok(registry.space_view(xyte_space.current(caller.device_id), caller.record))


def put_cloud_settings(request: HttpRequest, caller: XyteCaller) -> Result:
    settings = xyte_registry.set_cloud_setting(caller.device_id, xyte.json_object(request))
    return xyte.ok(stamped({"settings": settings, "success": True}, caller.record))


ROUTES: dict[str, Callable[[HttpRequest, XyteCaller], Result]] = {
    "GET /v1/devices/{device_id}": get_device,
    "PUT /v1/devices/{device_id}": put_device,
    "GET /v1/devices/{device_id}/children": get_children,
    "GET /v1/devices/{device_id}/space": get_space,
    "PUT /v1/devices/{device_id}/cloud_settings": put_cloud_settings,
}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return xyte.handle(event, ROUTES.get(event.get("routeKey", ""), get_device))
