"""Claiming: the signed-in operator becomes a device's owner by naming it and giving the secret the
device sent with its claim request, within the claiming window; the owner can release it."""

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from fleetgate.contracts.manage_requests import ClaimDeviceRequest
from fleetgate.dialects import manage
from fleetgate.domain.claims import Ownership
from fleetgate.services import claims

router = APIGatewayHttpRouter()


def _operator() -> tuple[str, str | None]:
    """The signed-in operator: the JWT's ``sub`` (and ``username``, for display)."""
    jwt_claims = router.current_event.request_context.authorizer.jwt_claim
    return str(jwt_claims.get("sub") or ""), jwt_claims.get("username") or jwt_claims.get("cognito:username")


def render(ownership: Ownership) -> dict:
    out = {
        "deviceId": ownership.device_id,
        "owner": ownership.owner,
        "claimedAt": datetime.fromtimestamp(ownership.claimed_at / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
    }
    if ownership.owner_name:
        out["ownerName"] = ownership.owner_name
    return out


@router.post("/manage/v1/devices/claim")
def claim_device() -> Response:
    body = manage.parse_body(router, ClaimDeviceRequest)
    operator, operator_name = _operator()
    return manage.envelope(render(claims.claim(body.deviceName, body.secretKey, operator, operator_name)))


@router.delete("/manage/v1/devices/<device_id>/claim")
def release_device(device_id: str) -> Response:
    operator, _ = _operator()
    claims.release(device_id, operator)
    return Response(status_code=204, body="")
