"""Xyte Get Config and Set Config: ``GET`` / ``POST /v1/devices/{device_id}/config`` (rules in
``fleetgate.domain.xyte_sync`` and ``fleetgate.dialects.xyte.sync``).

- GET: the server's config at its version. Before model API 1.0.5 flat ``{version, last_updated,
  ...fields}``, from 1.0.5 scoped ``{name, version, last_updated, config}``; ``device_id`` from 1.0.7.
  Version 0 with no fields before the operator (or the device) wrote one.
- POST: the device's own config, shaped like GET's. 422 when its ``version`` is older than the server's;
  otherwise 200 ``{version}``: the current version when the config is unchanged (the device's
  acknowledgement, nothing written), else the new version it was stored as.
"""

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.dialects import xyte as xy
from fleetgate.dialects.xyte.sync import parse_config
from fleetgate.domain.xyte import stamped
from fleetgate.domain.xyte_sync import config_body
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger
from fleetgate.services import xyte_sync
from fleetgate.services.xyte import XyteCaller


def config(request: HttpRequest, caller: XyteCaller) -> Result:
    record = caller.record
    if request.route_key.startswith("GET "):
        return xy.ok(config_body(xyte_sync.current_config(record), record))
    made = xyte_sync.device_config(record, parse_config(xy.json_body(request), record))
    return xy.ok(stamped({"version": made.version}, record))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: object) -> dict:
    return xy.handle(event, config)
