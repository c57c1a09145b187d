"""A device's telemetry: history by key and time range, and the latest value of each key."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from fleetgate import clock
from fleetgate.dialects import manage
from fleetgate.services import devices, telemetry

router = APIGatewayHttpRouter()
DEFAULT_LIMIT = 100


def _keys() -> list[str] | None:
    raw = router.current_event.get_query_string_value("keys") or ""
    return [k for k in raw.split(",") if k] or None


@router.get("/manage/v1/devices/<device_id>/telemetry")
def get_telemetry(device_id: str) -> Response:
    start = manage.query_int(router, "startTs", 0)
    end = manage.query_int(router, "endTs", clock.now_ms())
    limit = manage.query_int(router, "limit", DEFAULT_LIMIT)
    devices.get(device_id)
    found = telemetry.history(device_id, _keys(), start, end, limit)
    return manage.envelope({k: [{"ts": v.ts, "value": v.value} for v in vs] for k, vs in found.items()})


@router.get("/manage/v1/devices/<device_id>/telemetry/latest")
def get_latest_telemetry(device_id: str) -> Response:
    devices.get(device_id)
    found = telemetry.latest(device_id, _keys())
    return manage.envelope({k: {"ts": v.ts, "value": v.value} for k, v in found.items()})
