"""Operator API: ThingsPro gateways (``/manage/v1/thingspro/gateways``).

- ``POST``: register a gateway; its access key and the MQTT client body to post to the gateway's own
  ``/api/v1/mqtt`` appear only in this answer.
- ``GET /{id}``: its presence (the last lifecycle event), its open requests, the answers dropped.
- ``POST /{id}/requests``: any ThingsPro REST call (``{method, path, requestBody?, expiresIn?}``, the
  path without ``/api/v1``) through the remote API: 200 with the gateway's answer when it answers within
  the long-poll cap, else 202; secrets (by field name) are sealed in the store and masked in answers.
- ``GET /{id}/requests`` (newest first, paged), ``GET /{id}/requests/{requestId}``, ``DELETE`` (cancel one
  not sent yet; 409 otherwise).
Errors are mapped once by ``fleetgate.dialects.manage``.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from fleetgate import clock
from fleetgate.contracts.thingspro_manage import RegisterGatewayRequest, RemoteCallRequest
from fleetgate.dialects import manage
from fleetgate.dialects.thingspro import request_view
from fleetgate.domain import thingspro as tpe
from fleetgate.errors import InvalidRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import devices, longpoll
from fleetgate.services import thingspro as service

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)


def _gateway_view(gateway_id: str) -> dict:
    device, record = devices.get(gateway_id), service.gateway(gateway_id)
    presence = record.presence
    seen = None if presence is None else {"connected": presence.connected, "at": clock.iso_utc(presence.at)}
    return {
        "id": device.id,
        "name": device.name,
        "label": device.label,
        "registeredAt": clock.iso_utc(record.registered_at),
        "presence": seen,
        "droppedAnswers": record.dropped_answers,
        "openRequests": len(service.open_requests(gateway_id)),
    }


def _request_id(raw: str) -> int:
    if not raw.isdigit() or raw.startswith("0") or len(raw) > 18:
        raise InvalidRequest("requestId must be a positive integer")
    return int(raw)


@app.post("/manage/v1/thingspro/gateways")
def register() -> Response:
    body = manage.parse_body(app, RegisterGatewayRequest, optional=True)
    made = service.register(body.name, body.label)
    view = {
        **_gateway_view(made.device.id),
        "accessKey": made.access_key,
        "mqttConfiguration": made.configuration,
    }
    return manage.envelope(view, status=201)


@app.get("/manage/v1/thingspro/gateways/<gateway_id>")
def get_gateway(gateway_id: str) -> Response:
    return manage.envelope(_gateway_view(gateway_id))


@app.post("/manage/v1/thingspro/gateways/<gateway_id>/requests")
def send(gateway_id: str) -> Response:
    body = manage.parse_body(app, RemoteCallRequest)
    method, path = tpe.check_request(body.method, body.path)
    target, _, query = path.partition("?")
    pairs = {key: value for key, _, value in (p.partition("=") for p in query.split("&") if p)}
    request = tpe.RemoteRequest(method, target, body.requestBody, pairs)
    record = service.gateway(gateway_id)
    command = service.submit(
        gateway_id,
        request,
        secret_paths=tpe.secret_paths(body.requestBody),
        lifetime_ms=tpe.lifetime_ms(body.expiresIn),
        effects=service.Effects(touches=target if method != "GET" else None),
        record=record,
    )
    if record.online:
        command = service.wait(command, longpoll.wait_seconds(None))
    return manage.envelope(request_view(command), status=202 if command.open else 200)


@app.get("/manage/v1/thingspro/gateways/<gateway_id>/requests")
def list_requests(gateway_id: str) -> Response:
    page, next_token = service.requests_page(gateway_id, *manage.page_query(app))
    return manage.page([request_view(c) for c in page], next_token)


@app.get("/manage/v1/thingspro/gateways/<gateway_id>/requests/<request_id>")
def get_request(gateway_id: str, request_id: str) -> Response:
    return manage.envelope(request_view(service.request(gateway_id, _request_id(request_id))))


@app.delete("/manage/v1/thingspro/gateways/<gateway_id>/requests/<request_id>")
def cancel(gateway_id: str, request_id: str) -> Response:
    return manage.envelope(request_view(service.cancel(gateway_id, _request_id(request_id))))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
