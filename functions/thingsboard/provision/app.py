"""ThingsBoard ``POST /api/v1/provision``: a device registers itself with its profile's provision key
and secret (no access token). Always 200 with ``status`` SUCCESS (and the credentials), NOT_FOUND or
FAILURE, exactly as ThingsBoard answers; a body ThingsBoard cannot read (not JSON, not an object, no
key or secret field) is 400 with a plain-text message instead of ThingsBoard's 500."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingsboard as tb
from fleetgate.dialects.thingsboard.provisioning import parse_provision_request
from fleetgate.domain.profiles import ProvisionResult, Status
from fleetgate.endpoint import Result, done
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import provisioning


def render(result: ProvisionResult) -> Result:
    """ThingsBoard's body, keys in its order."""
    if result.status != Status.SUCCESS:
        return done({"errorMsg": result.error_msg, "status": result.status.value})
    credentials_type = result.credentials_type.value if result.credentials_type else None
    return done(
        {
            "credentialsValue": result.credentials_value,
            "credentialsType": credentials_type,
            "status": result.status.value,
        }
    )


def provision(request: HttpRequest) -> Result:
    result = provisioning.provision(parse_provision_request(tb.json_body(request)))
    if result.device_id:
        logger.info("Device provisioned", extra={"deviceId": result.device_id})
    metrics.add_metric(
        name=f"Provision{result.status.value.title().replace('_', '')}", unit=MetricUnit.Count, value=1
    )
    return render(result)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return tb.handle_open(event, provision)
