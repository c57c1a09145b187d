"""Xyte commands over HTTPS: ``GET`` / ``POST /v1/devices/{device_id}/command`` and
``GET /v1/devices/{device_id}/command/pending_commands`` (rules in ``fleetgate.domain.xyte_sync``).

- GET command: the oldest open command ``{id, status: pending|in_progress, name, parameters}``
  (``device_id`` from model API 1.0.7), or ``{}`` when there is none (200: nothing to do is not an error).
- POST command ``{id, status: in_progress|done|failed, message?}``: 200 ``{id, status}`` once recorded;
  without ``id`` (model API before 1.0.1) the oldest open command. A repeat of the recorded report is
  200 again and changes nothing; a report on an ended command (done, failed, timed_out, canceled) is
  422; an id the device does not have is 404.
- GET pending_commands: the open commands of the device and of its children, each with its
  ``device_id`` (always: the list mixes devices).
"""

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.clock import now_ms
from fleetgate.dialects import xyte as xy
from fleetgate.dialects.xyte.sync import parse_command_update
from fleetgate.domain.xyte import stamped
from fleetgate.domain.xyte_sync import VOCABULARY, command_body
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger
from fleetgate.services import xyte_sync
from fleetgate.services.xyte import XyteCaller


def command(request: HttpRequest, caller: XyteCaller) -> Result:
    record = caller.record
    if request.route_key.endswith("/pending_commands"):
        now = now_ms()
        found = xyte_sync.pending_commands(record)
        return xy.ok([{**command_body(c, record, now), "device_id": c.device_id} for c in found])
    if request.route_key.startswith("GET "):
        found = xyte_sync.next_command(record)
        return xy.ok({} if found is None else command_body(found, record, now_ms()))
    command_id, state, message = parse_command_update(xy.json_body(request), record)
    answered = xyte_sync.answer_command(record, command_id, state, message)
    return xy.ok(stamped({"id": answered.uuid, "status": VOCABULARY.status(answered.state)}, record))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: object) -> dict:
    return xy.handle(event, command)
