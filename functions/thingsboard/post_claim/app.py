"""ThingsBoard ``POST /api/v1/{token}/claim``: the device opens a claiming window, with an optional
``{"secretKey", "durationMs"}`` (an empty or absent body: no secret, the default 24 hours). 200 with an
empty body, also when the device already has an owner (ThingsBoard only logs that)."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingsboard as tb
from fleetgate.domain.claims import parse_device_claim
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.endpoint import Result, done
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import claims


def post_claim(request: HttpRequest, device: DeviceIdentity) -> Result:
    payload = tb.json_body(request) if request.body.strip() else {}
    if claims.request_claim(device.id, parse_device_claim(payload)):
        metrics.add_metric(name="ClaimWindowsOpened", unit=MetricUnit.Count, value=1)
    else:
        logger.info("Claim request ignored: the device already has an owner", extra={"deviceId": device.id})
    return done()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return tb.handle(event, post_claim)
