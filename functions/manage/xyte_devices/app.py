"""Operator API: the Xyte side of a device (``/manage/v1/xyte/devices/{id}``).

- ``GET``: the device as Get Device Info shows it to the device.
- ``GET|PUT /space``: its space info; a PUT bumps ``space_version`` and publishes the document at once
  to ``v1/device/{id}/space_info`` (QoS 1); ``published`` says whether the IoT data plane took it (if
  not, the device reads it on its next sync: telemetry answers the new ``space_data_version``).
- ``GET /incidents`` (``status`` open, the default, or closed; paged, newest first) and ``DELETE
  /incidents/{incidentId}`` (close one).
- ``GET /cloud-settings``: every cloud setting, defaults for those the device never set.
Errors are mapped once by ``fleetgate.dialects.manage`` (404: not a Xyte device).
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.contracts.xyte_registry import XyteSpaceRequest
from fleetgate.dialects import manage
from fleetgate.dialects.xyte import registry
from fleetgate.domain.xyte_registry import SpaceInfo
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte, xyte_registry, xyte_space

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)


@app.get("/manage/v1/xyte/devices/<device_id>")
def get_device(device_id: str) -> Response:
    return manage.envelope(registry.device_view(xyte_registry.info(device_id)))


@app.get("/manage/v1/xyte/devices/<device_id>/space")
def get_space(device_id: str) -> Response:
    record = xyte.record(device_id)
    view = registry.space_view(xyte_space.current(device_id), record)
    return manage.envelope({**view, "space_version": record.space_version})


@app.put("/manage/v1/xyte/devices/<device_id>/space")
def put_space(device_id: str) -> Response:
    body = manage.parse_body(app, XyteSpaceRequest)
    space = SpaceInfo(
        lat=body.location.coordinates.lat,
        lng=body.location.coordinates.lng,
        utc_offset=body.location.utc_offset,
        location_name=body.location.name,
        temperature_units=body.temperature_units,
        maintenance=body.maintenance,
        name=body.name,
    )
    record, published = xyte_space.set_space(device_id, space, registry.space_message)
    view = registry.space_view(space, record)
    return manage.envelope({**view, "space_version": record.space_version, "published": published})


@app.get("/manage/v1/xyte/devices/<device_id>/incidents")
def list_incidents(device_id: str) -> Response:
    status = app.current_event.get_query_string_value("status")
    page, next_token = xyte_registry.incident_page(device_id, status, *manage.page_query(app))
    return manage.page([registry.incident_view(i) for i in page], next_token)


@app.delete("/manage/v1/xyte/devices/<device_id>/incidents/<incident_id>")
def close_incident(device_id: str, incident_id: str) -> Response:
    xyte.record(device_id)
    return manage.envelope(
        registry.incident_view(xyte_registry.close_incident(device_id, incident_id, "operator"))
    )


@app.get("/manage/v1/xyte/devices/<device_id>/cloud-settings")
def get_cloud_settings(device_id: str) -> Response:
    xyte.record(device_id)
    return manage.envelope(xyte_registry.cloud_settings(device_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
