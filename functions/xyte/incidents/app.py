"""Xyte incidents on the hub (the device's own key):

- ``GET /v1/devices/{device_id}/incidents``: the open incidents, oldest first;
- ``POST /v1/devices/{device_id}/incidents``: ``{title, issue?, priority?, description?}`` opens one
  (201); 422 ``IncidentsSuspended`` while the cloud setting ``incidents.suspend_creation`` is on, 422
  ``Conflict`` at 100 open incidents;
- ``DELETE /v1/devices/{device_id}/incidents``: closes every open one (the ones closed);
- ``DELETE /v1/devices/{device_id}/incidents/{incident_id}``: closes one (again: unchanged; unknown: 404).
"""

from collections.abc import Callable

from aws_lambda_powertools.logging import correlation_paths

from fleetgate.dialects import xyte
from fleetgate.dialects.xyte import registry
from fleetgate.endpoint import Result
from fleetgate.http import HttpRequest
from fleetgate.observability import logger, metrics
from fleetgate.services import xyte_registry
from fleetgate.services.xyte import XyteCaller


def list_incidents(request: HttpRequest, caller: XyteCaller) -> Result:
    return xyte.ok([registry.incident_view(i) for i in xyte_registry.open_incidents(caller.device_id)])


def post_incident(request: HttpRequest, caller: XyteCaller) -> Result:
    incident = xyte_registry.open_incident(caller.device_id, xyte.json_object(request))
    return xyte.ok(registry.incident_view(incident), 201)


def close_incidents(request: HttpRequest, caller: XyteCaller) -> Result:
    closed = xyte_registry.close_all_incidents(caller.device_id, "device")
    return xyte.ok([registry.incident_view(i) for i in closed])


def close_incident(request: HttpRequest, caller: XyteCaller) -> Result:
    incident_id = request.path_parameters.get("incident_id", "")
    return xyte.ok(
        registry.incident_view(xyte_registry.close_incident(caller.device_id, incident_id, "device"))
    )


ROUTES: dict[str, Callable[[HttpRequest, XyteCaller], Result]] = {
    "GET /v1/devices/{device_id}/incidents": list_incidents,
    "POST /v1/devices/{device_id}/incidents": post_incident,
    "DELETE /v1/devices/{device_id}/incidents": close_incidents,
    "DELETE /v1/devices/{device_id}/incidents/{incident_id}": close_incident,
}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return xyte.handle(event, ROUTES.get(event.get("routeKey", ""), list_incidents))
