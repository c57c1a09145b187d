"""Operator API: Xyte device models (``/manage/v1/xyte/models``).

- ``POST``: a model; its ``hardware_key`` (generated, or the operator's) appears only in this answer.
- ``GET`` (paged, by name), ``GET /{id}``.
- ``PATCH /{id}``: ``api_version``, ``latest_fw_version``, ``latest_fw_file_id`` (null clears). A
  named ``api_version`` is copied to every device record of the model (devices shape their answers by
  it); the answer counts the records written (``devicesUpdated``); repeating the PATCH finishes one
  that failed part-way.
- ``DELETE /{id}``: 409 while devices of the model exist.
Errors are mapped once by ``fleetgate.dialects.manage``.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.contracts.xyte_registry import CreateXyteModelRequest, UpdateXyteModelRequest
from fleetgate.dialects import manage
from fleetgate.dialects.xyte.registry import model_view
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte, xyte_registry

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)


@app.post("/manage/v1/xyte/models")
def create_model() -> Response:
    body = manage.parse_body(app, CreateXyteModelRequest)
    model, hardware_key = xyte.create_model(
        body.name, body.api_version, hardware_key=body.hardware_key, vendor=body.vendor
    )
    return manage.envelope({**model_view(model), "hardware_key": hardware_key}, status=201)


@app.get("/manage/v1/xyte/models")
def list_models() -> Response:
    page, next_token = xyte.list_models(*manage.page_query(app))
    return manage.page([model_view(m) for m in page], next_token)


@app.get("/manage/v1/xyte/models/<model_id>")
def get_model(model_id: str) -> Response:
    return manage.envelope(model_view(xyte.get_model(model_id)))


@app.patch("/manage/v1/xyte/models/<model_id>")
def update_model(model_id: str) -> Response:
    body = manage.parse_body(app, UpdateXyteModelRequest)
    firmware = {
        name: getattr(body, name)
        for name in ("latest_fw_version", "latest_fw_file_id")
        if name in body.model_fields_set
    }
    model, written = xyte_registry.update_model(model_id, api_version=body.api_version, firmware=firmware)
    return manage.envelope({**model_view(model), "devicesUpdated": written})


@app.delete("/manage/v1/xyte/models/<model_id>")
def delete_model(model_id: str) -> Response:
    xyte_registry.delete_model(model_id)
    return Response(status_code=204, body="")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
