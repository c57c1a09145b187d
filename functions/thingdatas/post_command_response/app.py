"""ThingDatas ``POST /api/v1/thing-datas/command/response``: a device answers a command it received over
MQTT: ``{"thingName", "executionId", "status": SUCCEEDED|FAILED|REJECTED, "result"?, "timestamp"?,
"clientToken"?}`` (rules in ``fleetgate.dialects.thingdatas.commands``).

- 200 ``{"thingName", "executionId", "status"}`` once recorded (Fleets documents no response body; this
  one confirms what was recorded). A retry of the answer that completed the execution (same
  ``clientToken``, or without one the same status and result) gets the same 200 again.
- 404 for an execution this thing does not have; 409 ``InvalidStateTransition`` with the current
  ``status`` when the execution has ended (TIMED_OUT when its ttl ran out before the answer).
"""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingdatas as td
from fleetgate.dialects.thingdatas import commands
from fleetgate.dialects.thingdatas.commands import parse_response
from fleetgate.domain.apikeys import ApiKey
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics


def post_command_response(request: HttpRequest, key: ApiKey) -> Result:
    body = td.json_object(request)
    thing = td.thing(key, body.get("thingName"))
    answer = parse_response(body, td.client_token(body))
    execution = commands.respond(thing.id, answer)
    metrics.add_metric(name="CommandResponsesRecorded", unit=MetricUnit.Count, value=1)
    return td.ok(
        {"thingName": thing.name, "executionId": execution.execution_id, "status": execution.status.value}
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return td.handle(event, post_command_response)
