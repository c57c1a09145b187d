"""Invoking a Lambda function the deployer configured (the client-side RPC handler).

The call is synchronous (``RequestResponse``) and bounded: the read timeout is the caller's, and
botocore never retries it (a retry after a timeout would run the handler twice). Whatever goes wrong
becomes ``CallFailed``: 504 when the function did not answer in time, 502 otherwise.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from fleetgate.data.aws import client
from fleetgate.errors import CallFailed
from fleetgate.jsonutil import dumps
from fleetgate.observability import logger

CONNECT_TIMEOUT_S = 3


@cache
def _config(read_timeout_s: int) -> Config:
    """One ``Config`` object per timeout, so the client cache reuses the client."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": 1},
    )


def invoke_json(function_arn: str, payload: dict[str, Any], *, timeout_s: int) -> Any:
    """The JSON value ``function_arn`` returns for ``payload``."""
    try:
        result = client("lambda", _config(timeout_s)).invoke(
            FunctionName=function_arn, InvocationType="RequestResponse", Payload=dumps(payload).encode()
        )
        body = result["Payload"].read()
    except ReadTimeoutError as exc:
        logger.warning("Function did not answer in time", extra={"timeoutSeconds": timeout_s})
        raise CallFailed("timeout", status=504) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        logger.warning("Function could not be invoked", extra={"errorCode": code})
        raise CallFailed("The RPC handler could not be invoked") from exc
    except BotoCoreError as exc:
        logger.warning("Function could not be reached", extra={"errorType": type(exc).__name__})
        raise CallFailed("The RPC handler could not be reached") from exc
    if result.get("FunctionError"):
        logger.warning("Function failed", extra={"functionError": result["FunctionError"]})
        raise CallFailed("The RPC handler failed")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise CallFailed("The RPC handler returned invalid JSON") from exc
