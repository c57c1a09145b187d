"""Xyte command answers over MQTT 5: ``v1/device/{id}/commands/update`` and ``v1/device/{id}/command/update``
(both spellings are in Xyte's documents; one rule each invokes this function).

The payload is ``{id?, status: in_progress|done|error, message?}`` and the correlation data is the
command id the server sent (``id``, when also given, must agree); ``error`` is HTTPS's ``failed``. Same
use case as ``POST /v1/devices/{device_id}/command``: a repeat changes nothing, an answer to an ended
command is refused, an unknown id is refused. With a response topic under the device's own topics, the
device gets ``{id, status}`` (or the error body) there. Refused and dropped messages are counted
(``MessagesRejected``, ``XyteMessagesDropped``) and never raised.
"""

from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects.xyte import mqtt
from fleetgate.dialects.xyte.sync import parse_command_message
from fleetgate.domain.xyte import stamped
from fleetgate.domain.xyte_sync import VOCABULARY
from fleetgate.endpoint import Result, done
from fleetgate.errors import InvalidRequest
from fleetgate.mqtt import Message
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_sync
from fleetgate.services.xyte import XyteCaller

TOPICS = frozenset({"commands/update", "command/update"})


def on_commands_update(message: Message, caller: XyteCaller) -> Result:
    if mqtt.device_topic(message.topic)[1] not in TOPICS:
        raise InvalidRequest("Not a commands/update topic")
    record = caller.record
    command_id, state, text = parse_command_message(message.json(), record, message.correlation_data)
    answered = xyte_sync.answer_command(record, command_id, state, text)
    metrics.add_metric(name="XyteCommandAnswers", unit=MetricUnit.Count, value=1)
    return done(stamped({"id": answered.uuid, "status": VOCABULARY.status(answered.state)}, record))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> None:
    mqtt.handle_message(event, on_commands_update)
