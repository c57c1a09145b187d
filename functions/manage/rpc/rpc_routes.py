"""Server-side RPC to a device: send (and wait for a two-way reply), read, list, cancel.

- ``POST .../rpc`` ``{"method", "params"?, "oneway"?, "persistent"?, "timeout"?, "expirationTime"?,
  "retries"?, "additionalInfo"?}``: one-way and persistent RPCs are answered at once with the queued
  RPC; a two-way RPC waits for the device's reply (until the RPC expires, at most
  ``LONG_POLL_CAP_SECONDS``): 200 with ``status`` SUCCESSFUL and ``response``, else 504 with a
  ``Location`` where the RPC stays readable.
- ``GET .../rpc/{rpcId}``: status, timestamps, response. ``DELETE .../rpc/{rpcId}``: cancel a QUEUED
  RPC (409 once it was delivered or ended). ``GET .../rpc``: newest first, paged.
"""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from fleetgate.contracts.manage_requests import SendRpcRequest
from fleetgate.dialects import manage
from fleetgate.dialects.thingsboard import rpc
from fleetgate.dialects.thingsboard import rpc as rules
from fleetgate.dialects.thingsboard.rpc import Rpc, RpcStatus
from fleetgate.services import devices
from fleetgate.settings import get_settings

router = APIGatewayHttpRouter()
MAX_BODY_BYTES = 65_536  # as the device side's /rpc routes


def render(found: Rpc, now: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rpcId": found.rpc_id,
        "id": found.id,
        "deviceId": found.device_id,
        "method": found.method,
        "params": found.params,
        "oneway": found.oneway,
        "persistent": found.persistent,
        "status": found.effective_status(now).value,
        "createdTime": found.created_time,
        "expirationTime": found.expiration_time,
        "deliveries": found.deliveries,
    }
    optional = {
        "retries": found.retries,
        "additionalInfo": found.additional_info,
        "deliveredTime": found.delivered_time,
        "completedTime": found.completed_time,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    if found.status == RpcStatus.SUCCESSFUL and not found.oneway:
        out["response"] = found.response
    return out


def _send_request() -> rules.RpcRequest:
    body = manage.parse_body(router, SendRpcRequest, max_bytes=MAX_BODY_BYTES)
    return rules.rpc_request(
        method=body.method,
        params=body.params,
        oneway=body.oneway,
        persistent=body.persistent,
        timeout=body.timeout,
        expiration_time=body.expirationTime,
        retries=body.retries,
        additional_info=body.additionalInfo,
        now=rpc.now_ms(),
    )


@router.post("/manage/v1/devices/<device_id>/rpc")
def send_rpc(device_id: str) -> Response:
    request = _send_request()
    sent = rpc.send(devices.get(device_id), request)
    if sent.oneway or sent.persistent:
        return manage.envelope(render(sent, rpc.now_ms()))
    result = rpc.wait_for_result(sent, get_settings().long_poll_cap_seconds)
    if result.status == RpcStatus.SUCCESSFUL:
        return manage.envelope(render(result, rpc.now_ms()))
    status = result.effective_status(rpc.now_ms())
    timed_out = manage.error(
        504, f"The device did not reply in time: RPC {result.rpc_id} is {status}; read it again later"
    )
    timed_out.headers["Location"] = f"/manage/v1/devices/{device_id}/rpc/{result.rpc_id}"
    return timed_out


@router.get("/manage/v1/devices/<device_id>/rpc")
def list_rpcs(device_id: str) -> Response:
    limit, token = manage.page_query(router)
    devices.get(device_id)
    page, next_token = rpc.list_page(device_id, limit, token)
    now = rpc.now_ms()
    return manage.page([render(r, now) for r in page], next_token)


@router.get("/manage/v1/devices/<device_id>/rpc/<rpc_id>")
def get_rpc(device_id: str, rpc_id: str) -> Response:
    devices.get(device_id)
    return manage.envelope(render(rpc.get(device_id, rpc_id), rpc.now_ms()))


@router.delete("/manage/v1/devices/<device_id>/rpc/<rpc_id>")
def cancel_rpc(device_id: str, rpc_id: str) -> Response:
    devices.get(device_id)
    return manage.envelope(render(rpc.cancel(device_id, rpc_id), rpc.now_ms()))
