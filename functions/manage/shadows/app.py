"""Operator API: a device's shadows (``/manage/v1/devices/{id}/shadow[s]``), AWS IoT Device Shadow's
REST API in the operator envelope: read the full document (state with delta, metadata, version), change
desired state (a device reports its own), delete, list named shadows, and read the history of reports.
``?name=<shadow>`` addresses a named shadow; without it, the classic one, whose desired state is also
the device's ThingsBoard shared attributes. Errors are mapped once by ``fleetgate.dialects.manage``."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.clock import iso_utc, now_s
from fleetgate.dialects import manage
from fleetgate.observability import logger, metrics
from fleetgate.services import devices, shadows
from fleetgate.services.shadows import HistoryEntry

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)


def addressed_shadow() -> str:
    return shadows.shadow_name(app.current_event.get_query_string_value("name"))


def render_entry(entry: HistoryEntry) -> dict:
    out: dict = {
        "version": entry.version,
        "timestamp": entry.timestamp,
        "reported": entry.reported,
        "source": entry.source,
    }
    if entry.client_token is not None:
        out["clientToken"] = entry.client_token
    return out


@app.get("/manage/v1/devices/<device_id>/shadow")
def get_shadow(device_id: str) -> Response:
    name = addressed_shadow()
    shadow = shadows.get(devices.get(device_id), name)
    return manage.envelope(shadow.get_document(now_s()))


@app.patch("/manage/v1/devices/<device_id>/shadow")
def update_shadow_desired(device_id: str) -> Response:
    name = addressed_shadow()
    request = shadows.parse_desired(manage.parse_json_object(app))
    return manage.envelope(shadows.update_desired(devices.get(device_id), name, request))


@app.delete("/manage/v1/devices/<device_id>/shadow")
def delete_shadow(device_id: str) -> Response:
    name = addressed_shadow()
    return manage.envelope(shadows.delete(devices.get(device_id), name))


@app.get("/manage/v1/devices/<device_id>/shadows")
def list_named_shadows(device_id: str) -> Response:
    limit, token = manage.page_query(app)
    devices.get(device_id)
    found, next_token = shadows.list_named(device_id, limit, token)
    data = [
        {"name": name, "version": shadow.version, "updatedAt": iso_utc(shadow.timestamp * 1000)}
        for name, shadow in found
    ]
    return manage.page(data, next_token)


@app.get("/manage/v1/devices/<device_id>/shadow/history")
def get_shadow_history(device_id: str) -> Response:
    name = addressed_shadow()
    limit, token = manage.page_query(app)
    devices.get(device_id)
    entries, next_token = shadows.history(device_id, name, limit, token)
    return manage.page([render_entry(e) for e in entries], next_token)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
