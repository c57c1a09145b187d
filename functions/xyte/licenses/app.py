"""Xyte licenses over HTTPS: ``GET /v1/devices/{device_id}/license`` (the next pending change),
``GET …/licenses`` (every pending change) and ``POST …/licenses`` (the device's answer); rules in
``fleetgate.domain.xyte_sync``.

- GET license: ``{id, device_id, data, signature, action: add|update|remove, add, update, remove,
  expires_at, current_time}`` for the oldest change the device has not answered, or ``{}``.
- GET licenses: ``[{id, device_id, data, signature, add, update, remove, expires_at}]`` (``[]`` when
  nothing is pending; ``new_licenses`` is then cleared).
- POST licenses ``{id, state: inuse|removed|error, error?}``: 200 ``{id, state}``. A repeat is 200 and
  changes nothing; a different answer when nothing is pending is 422; an unknown id 404.
"""

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.clock import now_ms
from fleetgate.dialects import xyte as xy
from fleetgate.dialects.xyte.sync import parse_license_update
from fleetgate.domain.xyte_sync import license_body, license_item
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger
from fleetgate.services import xyte_sync
from fleetgate.services.xyte import XyteCaller


def licenses(request: HttpRequest, caller: XyteCaller) -> Result:
    record = caller.record
    if request.route_key.endswith("/license"):
        pending = xyte_sync.pending_licenses(record)
        return xy.ok(license_body(pending[0], now_ms()) if pending else {})
    if request.route_key.startswith("GET "):
        return xy.ok([license_item(found) for found in xyte_sync.pending_licenses(record)])
    license_id, state, error = parse_license_update(xy.json_body(request))
    answered = xyte_sync.acknowledge_license(record, license_id, state, error)
    return xy.ok({"id": answered.id, "state": answered.state})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: object) -> dict:
    return xy.handle(event, licenses)
