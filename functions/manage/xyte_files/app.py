"""Operator API: a Xyte model's files (``/manage/v1/xyte/models/{modelId}/files``: create with a
presigned upload URL, list, read, delete, make the latest firmware) and a Xyte device's dumps
(``/manage/v1/xyte/devices/{id}/dumps``: list, read with a presigned URL per part). Errors are mapped
once by ``fleetgate.dialects.manage``."""

import xyte_files_rendering as render
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.contracts.xyte_files import CreateXyteFileRequest
from fleetgate.dialects import manage
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_files

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)


@app.post("/manage/v1/xyte/models/<model_id>/files")
def create_file(model_id: str) -> Response:
    body = manage.parse_body(app, CreateXyteFileRequest)
    created, upload = xyte_files.create_file(
        model_id,
        name=body.name,
        file_type=body.file_type,
        version=body.version,
        desc=body.desc,
        checksum=body.checksum,
        signature=body.signature,
        public_notes=body.public_notes,
    )
    return manage.envelope(render.file(created, upload), status=201)


@app.get("/manage/v1/xyte/models/<model_id>/files")
def list_files(model_id: str) -> Response:
    limit, token = manage.page_query(app)
    found, next_token = xyte_files.list_files(model_id, limit, token)
    return manage.page([render.file(f) for f in found], next_token)


@app.get("/manage/v1/xyte/models/<model_id>/files/<file_id>")
def get_file(model_id: str, file_id: str) -> Response:
    found = xyte_files.get_file(model_id, file_id)
    return manage.envelope(render.file(found, xyte_files.upload_url(found)))


@app.delete("/manage/v1/xyte/models/<model_id>/files/<file_id>")
def delete_file(model_id: str, file_id: str) -> Response:
    xyte_files.delete_file(model_id, file_id)
    return Response(status_code=204, body="")


@app.post("/manage/v1/xyte/models/<model_id>/files/<file_id>/latest")
def make_latest(model_id: str, file_id: str) -> Response:
    saved, _ = xyte_files.make_latest(model_id, file_id)
    return manage.envelope(render.latest_firmware(saved))


@app.get("/manage/v1/xyte/devices/<device_id>/dumps")
def list_dumps(device_id: str) -> Response:
    limit, token = manage.page_query(app)
    found, next_token = xyte_files.list_dumps(device_id, limit, token)
    return manage.page([render.dump(d) for d in found], next_token)


@app.get("/manage/v1/xyte/devices/<device_id>/dumps/<dump_id>")
def get_dump(device_id: str, dump_id: str) -> Response:
    found, urls = xyte_files.get_dump(device_id, dump_id)
    return manage.envelope(render.dump(found, urls))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
