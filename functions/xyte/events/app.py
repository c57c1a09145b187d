"""Xyte ``POST /v1/devices/{device_id}/events``: ``{name, category?, int_key_1?, int_key_2?,
string_key_1?, string_key_2?, ..., timestamp?}`` lands in the one events store, so the operator's
``GET /manage/v1/devices/{id}/events`` lists it: ``name`` is its ``eventType``, ``category`` its
severity when it names one, the other fields its ``data``. Answers ``{id, success}``."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import xyte
from fleetgate.domain.xyte import stamped
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_registry
from fleetgate.services.xyte import XyteCaller


def post_event(request: HttpRequest, caller: XyteCaller) -> Result:
    event_id = xyte_registry.record_event(caller.device_id, xyte.json_object(request))
    metrics.add_metric(name="EventsRecorded", unit=MetricUnit.Count, value=1)
    return xyte.ok(stamped({"id": event_id, "success": True}, caller.record), 201)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return xyte.handle(event, post_event)
