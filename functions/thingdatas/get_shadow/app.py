"""ThingDatas ``GET /api/v1/thing-datas/{thingName}/shadow[?name=<shadow>]``: what a device polls.

The Fleets shape, flattened from AWS's GET document: ``{"reported", "desired", "delta", "version",
"updatedAt"}``, each section ``{}`` when empty, ``updatedAt`` ISO-8601 UTC of the last change (null
before the first). A thing that has never reported gets that empty document with version 0, not a
404: a device starting for the first time must be able to read its desired state. A named shadow
that does not exist is AWS's 404.
"""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.clock import iso_utc
from fleetgate.dialects import thingdatas as td
from fleetgate.domain.apikeys import ApiKey
from fleetgate.domain.shadow import Shadow
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import shadows


def render(shadow: Shadow) -> dict:
    return {
        "reported": shadow.reported,
        "desired": shadow.desired,
        "delta": shadow.delta or {},
        "version": shadow.version,
        "updatedAt": iso_utc(shadow.timestamp * 1000) if shadow.timestamp else None,
    }


def get_shadow(request: HttpRequest, key: ApiKey) -> Result:
    name = shadows.shadow_name(request.query.get("name"))
    thing = td.thing(key, request.path_parameters.get("thingName"))
    shadow = shadows.current(thing.id, name)
    metrics.add_metric(name="ShadowReads", unit=MetricUnit.Count, value=1)
    return td.ok(render(shadow))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return td.handle(event, get_shadow)
