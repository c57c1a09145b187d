"""Client-side RPC (device → server): ``POST /api/v1/{token}/rpc`` with ``{"method", "params"}``.

Built-in methods are answered here. Every other method goes to the Lambda function the deployer named
in ``ClientRpcHandlerFunctionArn`` (``CLIENT_RPC_HANDLER_FUNCTION_ARN``), invoked synchronously with
``{"deviceId", "deviceName", "deviceType", "method", "params"}`` and a bounded timeout; its JSON result
is the answer. Without a handler an unknown method is answered at once with an error, never left to
hang as ThingsBoard does when no rule chain replies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetgate import clock
from fleetgate.data import functions
from fleetgate.domain.devices import DeviceIdentity
from fleetgate.errors import CallFailed
from fleetgate.settings import get_settings


def _current_time(device: DeviceIdentity, params: Any) -> Any:
    return {"time": clock.now_ms()}


BUILT_IN: dict[str, Callable[[DeviceIdentity, Any], Any]] = {
    "getCurrentTime": _current_time,
}


def call(device: DeviceIdentity, method: str, params: Any) -> Any:
    """The answer to ``method``: a built-in's, else the deployer's handler's."""
    built_in = BUILT_IN.get(method)
    if built_in is not None:
        return built_in(device, params)
    settings = get_settings()
    handler = settings.client_rpc_handler_function_arn
    if not handler:
        raise CallFailed(f"Unknown RPC method '{method}'", status=404)
    payload = {
        "deviceId": device.id,
        "deviceName": device.name,
        "deviceType": device.type,
        "method": method,
        "params": params,
    }
    return functions.invoke_json(handler, payload, timeout_s=settings.client_rpc_timeout_seconds)
