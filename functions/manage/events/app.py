"""Operator API: a device's ThingDatas events (``GET /manage/v1/devices/{id}/events``).

Query parameters, all optional:

- ``startTs``, ``endTs``: Unix milliseconds, inclusive, on the event's own ``timestamp``;
- ``eventType``, ``severity``: exact matches;
- ``order``: ``desc`` (newest first, the default) or ``asc``;
- ``limit`` (1-100, default 20) and ``nextToken`` (from the previous page).

The time range is the table's key; type and severity are filters DynamoDB applies after reading
``limit`` events, so a filtered page may hold fewer than ``limit`` events (even none) while
``nextToken`` is present. Read on until ``nextToken`` is absent. Errors are mapped once by
``fleetgate.dialects.manage``: 404 for an unknown device, 400 for a bad parameter.
"""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.clock import iso_utc
from fleetgate.dialects import manage
from fleetgate.domain.events import Event, event_query
from fleetgate.observability import logger, metrics
from fleetgate.services import devices, events

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)


def render(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {
        "eventId": event.event_id,
        "eventType": event.event_type,
        "severity": event.severity,
        "timestamp": event.timestamp,
        "data": event.data,
        "receivedAt": iso_utc(event.received_at, milliseconds=True),
    }
    if event.app_id is not None:
        out["appId"] = event.app_id
    return out


@app.get("/manage/v1/devices/<device_id>/events")
def list_events(device_id: str) -> Response:
    param = app.current_event.get_query_string_value
    query = event_query(
        start_ts=param("startTs"),
        end_ts=param("endTs"),
        event_type=param("eventType"),
        severity=param("severity"),
        order=param("order"),
    )
    limit, token = manage.page_query(app)
    device = devices.get(device_id)
    page, next_token = events.list_page(device.id, query, limit, token)
    return manage.page([render(e) for e in page], next_token)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
