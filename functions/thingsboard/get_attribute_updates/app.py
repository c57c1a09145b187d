"""ThingsBoard ``GET /api/v1/{token}/attributes/updates?timeout=<ms>``: long-poll for shared-attribute
changes. 200 with the changed keys (or ``{"deleted": [...]}``), 408 with an empty body when nothing
changed in time. Unlike ThingsBoard, changes made while the device was not polling are not lost."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from fleetgate.dialects import thingsboard as tb
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.endpoint import Result, done, nothing_yet
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import attributes, longpoll


def get_attribute_updates(request: HttpRequest, device: DeviceIdentity) -> Result:
    seconds = longpoll.wait_seconds(tb.timeout_ms(request))
    update = longpoll.poll(
        lambda: attributes.next_update(device.id), device.queues.get("attributes"), seconds
    )
    if update is None:
        return nothing_yet()
    metrics.add_metric(name="AttributeUpdatesDelivered", unit=MetricUnit.Count, value=1)
    return done(update)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return tb.handle(event, get_attribute_updates)
