"""Xyte ``GET /v1/devices/{device_id}/files`` (Get Files) and ``GET /v1/devices/{device_id}/files/{file_id}``
(Get File): the uploaded files of the device's model, each with a presigned S3 GET (valid 300 s, pinned
to the bytes that were uploaded). Two functions share this code, one per route.

Answers: 200 with the file (an array of files); 401 for an unknown access key, 403 for another
device's; 404 for a file of another model, a file whose bytes were never uploaded, or no such file."""

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.dialects import xyte
from fleetgate.dialects.xyte import files as wire
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_files
from fleetgate.services.xyte import XyteCaller


def get_files(request: HttpRequest, caller: XyteCaller) -> Result:
    found = xyte_files.device_files(caller)
    return xyte.ok([wire.file_view(f, url.url, caller.record) for f, url in found])


def get_file(request: HttpRequest, caller: XyteCaller) -> Result:
    f, url = xyte_files.device_file(caller, request.path_parameters.get("file_id", ""))
    return xyte.ok(wire.file_view(f, url.url, caller.record))


ROUTES = {
    "GET /v1/devices/{device_id}/files": get_files,
    "GET /v1/devices/{device_id}/files/{file_id}": get_file,
}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return xyte.handle(event, xyte.routed(ROUTES))
