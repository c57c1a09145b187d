"""A function's execution environment, one process per warm Lambda instance.

Run as ``python -m fleetgate_local.worker --fd N --handler app.lambda_handler --function-arn ARN``
by ``fleetgate_local.workers``, with the function's environment, its CodeUri as working directory and
``PYTHONPATH`` = CodeUri, the layers' directories, then this package's root (which the worker removes
before importing the handler, so the handler sees Lambda's path). It imports the handler once, says
``{"ready": true}`` on the channel (file descriptor N), then serves invocations one at a time:
``{"event", "requestId", "deadlineMs"}`` in, ``{"result"}`` or ``{"error"}`` out. The handler's
stdout and stderr are plain pipes to the gateway, which prefixes and prints them.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetgate_local.channel import Channel, ChannelClosed

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The context object of Lambda's Python runtime."""

    def __init__(self, function_arn: str, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="the channel's file descriptor")
    parser.add_argument("--handler", required=True, help="module.function, as in the template")
    parser.add_argument("--function-arn", required=True)
    args = parser.parse_args(argv)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the gateway stops its workers itself
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    channel = Channel(socket.socket(fileno=args.fd))
    _forget_local_stack()
    try:
        handler = _load_handler(args.handler)
    except Exception as error:  # noqa: BLE001 (an init error is reported, as Lambda reports it)
        channel.send({"ready": False, "error": _report(error)})
        return 1
    channel.send({"ready": True})
    while True:
        try:
            request = channel.receive()
        except ChannelClosed:
            return 0
        reply = _invoke(handler, request, args.function_arn)
        try:
            channel.send(reply)
        except (TypeError, ValueError) as error:  # the result is not JSON: Lambda's Runtime.MarshalError
            channel.send({"error": _report(error, error_type="Runtime.MarshalError")})


def _forget_local_stack() -> None:
    """Drop this package's root from the import path: Lambda's path has only code and layers."""
    own_root = Path(__file__).resolve().parents[1]
    sys.path[:] = [entry for entry in sys.path if not entry or Path(entry).resolve() != own_root]
    entries = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    os.environ["PYTHONPATH"] = os.pathsep.join(e for e in entries if e and Path(e).resolve() != own_root)


def _load_handler(name: str) -> Handler:
    module_name, _, function_name = name.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler {name!r}: expected module.function")
    module = importlib.import_module(module_name.replace("/", "."))
    handler: Handler = getattr(module, function_name)
    return handler


def _invoke(handler: Handler, request: dict[str, Any], function_arn: str) -> dict[str, Any]:
    context = LambdaContext(function_arn, request["requestId"], request["deadlineMs"])
    try:
        result = handler(request["event"], context)
    except Exception as error:  # noqa: BLE001 (a handler's exception is the invocation's error)
        return {"error": _report(error)}
    return {"result": result}


def _report(error: BaseException, error_type: str | None = None) -> dict[str, str]:
    """Print the error as Lambda logs it and return Lambda's error payload."""
    kind = error_type or type(error).__name__
    print(f"[ERROR] {kind}: {error}", file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)
    return {"errorType": kind, "errorMessage": str(error)}


if __name__ == "__main__":
    sys.exit(main())
