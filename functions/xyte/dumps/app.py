"""Xyte ``POST /v1/devices/{device_id}/dumps/{mime_type}/{filename}`` (Send Dump) and
``PUT /v1/devices/{device_id}/dumps/{dump_id}`` (Append to Dump). Two functions share this code, one
per route. Send Dump's route is ``/dumps/{dump_path+}``: the URL-encoded MIME type (``text%2Ftxt``) is
one segment or two depending on who decodes it first, and the greedy variable takes both.

The body is the file (any content type) or a multipart/form-data body with the file in field ``data``.
Answers: 201 (Send) or 200 (Append) with ``{id, length}``; 400 for a path without a MIME type and a
safe file name, an empty body or a malformed multipart body; 401 for an unknown access key, 403 for
another device's; 404 for a dump id that is not one of the device's dumps; 413 for a part over 4 MiB or
a dump over 10 MiB or 1,000 parts (nothing is written)."""

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.dialects import xyte
from fleetgate.dialects.xyte import files as wire
from fleetgate.domain.xyte_files import MAX_PART_BYTES, dump_target
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_files
from fleetgate.services.xyte import XyteCaller


def send_dump(request: HttpRequest, caller: XyteCaller) -> Result:
    mime_type, filename = dump_target(request.path_parameters.get("dump_path", ""))
    dump = xyte_files.send_dump(caller, mime_type, filename, wire.dump_body(request))
    return xyte.ok(wire.dump_answer(dump), status=201)


def append_dump(request: HttpRequest, caller: XyteCaller) -> Result:
    dump_id = request.path_parameters.get("dump_id", "")
    return xyte.ok(wire.dump_answer(xyte_files.append_dump(caller, dump_id, wire.dump_body(request))))


ROUTES = {
    "POST /v1/devices/{device_id}/dumps/{dump_path+}": send_dump,
    "PUT /v1/devices/{device_id}/dumps/{dump_id}": append_dump,
}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return xyte.handle(event, xyte.routed(ROUTES), limit=MAX_PART_BYTES + wire.MULTIPART_SLACK)
