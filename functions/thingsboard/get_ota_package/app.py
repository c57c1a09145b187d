"""ThingsBoard ``GET /api/v1/{token}/firmware`` and ``/software`` (``?title=&version=&size=&chunk=``):
the bytes of the device's assigned package, whole (``size`` < 1) or chunk by chunk; a chunk past the
end is 200 with an empty body. Two functions share this code: ``OTA_PACKAGE_TYPE`` says which package
each one serves.

Answers: 200 with the bytes (base64 through API Gateway); 400 for a missing ``title``/``version``, a
``size``/``chunk`` that is not a non-negative integer (ThingsBoard: 500), or a title/version other than
the assigned package's; 401 for an unknown token; 404 when nothing is assigned; 413 when one answer
would carry more than 4 MiB (ask for smaller chunks)."""

import re

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingsboard as tb
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.endpoint import Result, content
from fleetgate.errors import InvalidRequest
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import ota
from fleetgate.settings import get_settings

_INT = re.compile(r"\d{1,10}\Z")
INT_MAX = 2**31 - 1  # ThingsBoard's parameters are Java ints


def required(request: HttpRequest, name: str) -> str:
    value = request.query.get(name)
    if not value:
        raise InvalidRequest(f"Required request parameter '{name}' is not present")
    return value


def optional_int(request: HttpRequest, name: str) -> int:
    raw = request.query.get(name) or "0"
    if not _INT.match(raw) or int(raw) > INT_MAX:
        raise InvalidRequest(f"{name} must be an integer from 0 to {INT_MAX}, got {raw!r}")
    return int(raw)


def get_ota_package(request: HttpRequest, device: DeviceIdentity) -> Result:
    package_type = get_settings().require("ota_package_type")
    title, version = required(request, "title"), required(request, "version")
    size, chunk = optional_int(request, "size"), optional_int(request, "chunk")
    package, data = ota.download(device, package_type, title, version, size=size, chunk=chunk)
    metrics.add_metric(name="OtaBytesServed", unit=MetricUnit.Bytes, value=len(data))
    return content(data, package.content_type, package.file_name)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return tb.handle(event, get_ota_package)
