"""ThingDatas ``POST /api/v1/thing-datas/events``: a device reports an event
``{"thingName", "eventType", "severity"?, "timestamp", "data"?, "appId"?}`` (rules in
``fleetgate.domain.events``).

The answer is ``200 {"eventId", "thingName", "timestamp"}``. Fleets documents no response body for this
endpoint; this one gives the device the stored event's id and echoes what identifies it.
"""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingdatas as td
from fleetgate.domain.apikeys import ApiKey
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import events


def post_event(request: HttpRequest, key: ApiKey) -> Result:
    body = td.json_object(request)
    thing = td.thing(key, body.get("thingName"))
    event = events.record(thing.id, body)
    metrics.add_metric(name="EventsRecorded", unit=MetricUnit.Count, value=1)
    return td.ok({"eventId": event.event_id, "thingName": thing.name, "timestamp": event.timestamp})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return td.handle(event, post_event)
