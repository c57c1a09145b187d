"""ThingDatas command answers over MQTT: an AWS IoT topic rule on
``{CommandTopicPrefix}/commands/things/{thingName}/executions/{executionId}/response`` invokes this
function (asynchronously) with the message (``fleetgate.mqtt``'s SELECT).

The payload is the HTTPS route's body (``POST /api/v1/thing-datas/command/response``) without the need
to repeat what the topic says: ``{"status": SUCCEEDED|FAILED|REJECTED, "result"?, "timestamp"?,
"clientToken"?}``; ``thingName`` and ``executionId``, when given, must match the topic. It is recorded
by the same use case as that route, so a repeated answer is idempotent and a retried invocation
changes nothing.

- Accepted only from the thing the topic names (client id = thing name); any other sender is dropped
  and counted (``CommandResponsesDropped``), without a reply.
- With an MQTT 5 response topic, the device gets ``{"thingName", "executionId", "status"}`` there, or
  the HTTPS route's error body when the answer is refused (unknown execution, ended execution, bad
  payload). Bad input is never raised (AWS would retry it); only transient failures are.
"""

from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingdatas as td
from fleetgate.dialects.thingdatas import commands, mqtt
from fleetgate.dialects.thingdatas.commands import parse_response
from fleetgate.endpoint import Result, done
from fleetgate.errors import Forbidden, InvalidRequest
from fleetgate.mqtt import Message
from fleetgate.observability import logger, metrics
from fleetgate.services import devices


def on_command_response(message: Message) -> Result:
    thing_name, execution_id = mqtt.command_response_topic(message.topic)
    try:
        mqtt.check_sender(message, thing_name)
    except Forbidden:
        metrics.add_metric(name="CommandResponsesDropped", unit=MetricUnit.Count, value=1)
        raise
    body = message.json()
    if not isinstance(body, dict):
        raise InvalidRequest("The payload must be a JSON object")
    for name, expected in (("thingName", thing_name), ("executionId", execution_id)):
        if body.get(name, expected) != expected:
            raise InvalidRequest(f"{name} does not match the topic")
    answer = parse_response({**body, "executionId": execution_id}, td.client_token(body))
    thing = devices.thing_named(thing_name)
    execution = commands.respond(thing.id, answer)
    metrics.add_metric(name="CommandResponsesRecorded", unit=MetricUnit.Count, value=1)
    return done(
        {"thingName": thing.name, "executionId": execution.execution_id, "status": execution.status.value}
    )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle_message(event, on_command_response)
