"""Operator API: ThingDatas commands to one device (``/manage/v1/devices/{id}/commands``).

- ``POST .../commands`` ``{"action", "params"?, "ttl"?, "executionId"?}`` (ttl: seconds, 1-86400, default
  30; executionId: a UUID of the operator's choosing, 409 if the device has it already): records
  an execution (SENT) and publishes it, QoS 1, to
  ``{COMMAND_TOPIC_PREFIX}/commands/things/{thingName}/executions/{executionId}/request``. 201 with the
  execution; 502 (with a ``Location`` where the FAILED execution stays readable) when the publish failed.
- ``GET .../commands``: newest first, ``limit`` (1-100, default 20) and ``nextToken``.
- ``GET .../commands/{executionId}``; ``POST .../commands/{executionId}/cancel``: SENT → CANCELED, 409
  once it ended. The device is not told of a cancel; its later answer is refused (409).

A SENT execution past its ``expiresAt`` reads as TIMED_OUT. Errors are mapped once by
``fleetgate.dialects.manage``.
"""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.clock import iso_utc, now_ms
from fleetgate.contracts.manage_requests import SendCommandRequest
from fleetgate.dialects import manage
from fleetgate.dialects.thingdatas import commands
from fleetgate.dialects.thingdatas import commands as rules
from fleetgate.dialects.thingdatas.commands import Execution
from fleetgate.observability import logger, metrics
from fleetgate.services import devices

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)
MAX_BODY_BYTES = 2 * rules.MAX_PARAMS_BYTES  # params themselves are limited as compact JSON


def render(execution: Execution, now: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "executionId": execution.execution_id,
        "commandId": execution.command_id,
        "deviceId": execution.device_id,
        "thingName": execution.thing_name,
        "action": execution.action,
        "params": execution.params,
        "ttl": execution.ttl,
        "status": execution.effective_status(now).value,
        "createdAt": iso_utc(execution.created_at, milliseconds=True),
        "expiresAt": iso_utc(execution.expires_at, milliseconds=True),
        "updatedAt": iso_utc(execution.updated_at, milliseconds=True),
    }
    if execution.result_json is not None:
        out["result"] = execution.result
    if execution.responded_at is not None:
        out["respondedAt"] = iso_utc(execution.responded_at, milliseconds=True)
    optional = {
        "deviceTimestamp": execution.device_timestamp,
        "clientToken": execution.client_token,
        "statusReason": execution.status_reason,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def _send_request() -> tuple[rules.CommandRequest, str | None]:
    body = manage.parse_body(app, SendCommandRequest, max_bytes=MAX_BODY_BYTES)
    return rules.command_request(action=body.action, params=body.params, ttl=body.ttl), body.executionId


@app.post("/manage/v1/devices/<device_id>/commands")
def send_command(device_id: str) -> Response:
    request, execution_id = _send_request()
    execution, failure = commands.send(devices.get(device_id), request, execution_id)
    if failure is not None:
        metrics.add_metric(name="CommandPublishFailures", unit=MetricUnit.Count, value=1)
        response = manage.error(
            502, f"The command could not be sent ({failure}); execution {execution.execution_id} is FAILED"
        )
        response.headers["Location"] = f"/manage/v1/devices/{device_id}/commands/{execution.execution_id}"
        return response
    metrics.add_metric(name="CommandsSent", unit=MetricUnit.Count, value=1)
    return manage.envelope(render(execution, now_ms()), status=201)


@app.get("/manage/v1/devices/<device_id>/commands")
def list_commands(device_id: str) -> Response:
    limit, token = manage.page_query(app)
    devices.get(device_id)
    page, next_token = commands.list_page(device_id, limit, token)
    now = now_ms()
    return manage.page([render(e, now) for e in page], next_token)


@app.get("/manage/v1/devices/<device_id>/commands/<execution_id>")
def get_command(device_id: str, execution_id: str) -> Response:
    devices.get(device_id)
    return manage.envelope(render(commands.get(device_id, execution_id), now_ms()))


@app.post("/manage/v1/devices/<device_id>/commands/<execution_id>/cancel")
def cancel_command(device_id: str, execution_id: str) -> Response:
    devices.get(device_id)
    return manage.envelope(render(commands.cancel(device_id, execution_id), now_ms()))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
