"""Xyte registration (the entry server): ``POST /v1/devices``, ``POST /v1/devices/bulk_create`` (the
model's ``hardware_key`` in the body) and ``POST /v1/devices/{device_id}/children`` (the parent's
access key).

- A device answers 201 ``{id, access_key, hub_url, hub_url_static_cert, mqtt_hub_url}`` (+ ``device_id``
  from model API 1.0.7); the access key is shown only here. Already registered: 422; unknown hardware
  key or ``model_id``: 404.
- A bulk registration (1-25 objects) answers 201 with one entry per object, in order: the
  registration's answer, or ``{error, code, status}`` for an object that was refused (nothing of it
  written); the others are registered all the same.
"""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import xyte
from fleetgate.dialects.xyte import registry
from fleetgate.domain.xyte import XyteModel
from fleetgate.domain.xyte_registry import bulk_items
from fleetgate.endpoint import Result
from fleetgate.errors import FleetgateError, InvalidRequest
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_registry
from fleetgate.services.xyte import XyteCaller

CHILDREN = "POST /v1/devices/{device_id}/children"
BULK = "POST /v1/devices/bulk_create"


def post_device(request: HttpRequest) -> Result:
    record, access_key = xyte_registry.register_body(xyte.json_object(request))
    metrics.add_metric(name="XyteDevicesRegistered", unit=MetricUnit.Count, value=1)
    return xyte.ok(registry.registered(record, access_key, request), 201)


def post_bulk(request: HttpRequest) -> Result:
    models: dict[str, XyteModel] = {}
    answers = []
    for item in bulk_items(xyte.json_body(request)):
        try:
            if not isinstance(item, dict):
                raise InvalidRequest("Each registration must be a JSON object")
            record, access_key = xyte_registry.register_body(item, models)
            answers.append(registry.registered(record, access_key, request))
        except FleetgateError as exc:
            answers.append(registry.failed(exc))
    created = sum("access_key" in a for a in answers)
    metrics.add_metric(name="XyteDevicesRegistered", unit=MetricUnit.Count, value=created)
    return xyte.ok(answers, 201)


def post_child(request: HttpRequest, parent: XyteCaller) -> Result:
    record, access_key = xyte_registry.register_child(parent, xyte.json_object(request))
    metrics.add_metric(name="XyteDevicesRegistered", unit=MetricUnit.Count, value=1)
    return xyte.ok(registry.registered(record, access_key, request), 201)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    route = event.get("routeKey")
    if route == CHILDREN:
        return xyte.handle(event, post_child)
    return xyte.handle_open(event, post_bulk if route == BULK else post_device)
