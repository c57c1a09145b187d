"""AWS clients and the translation of AWS errors into domain errors.

Clients are created on first use and cached per execution environment (``functools.cache``), never at
import time, so cold starts stay small and tests can swap the backend with ``reset_clients()``.
``AWS_ENDPOINT_URL`` (set by the local stack) points every client at moto.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError

from fleetgate.errors import Conflict, FleetgateError, InvalidRequest, Retryable

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)

_RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


# S3: SigV4 presigned URLs on the bucket's regional virtual-hosted endpoint (botocore falls back to
# path-style for an IP endpoint such as the local stack's moto).
_SERVICE_CONFIG = {"s3": Config(signature_version="s3v4", s3={"addressing_style": "virtual"})}


@cache
def client(service: str, overrides: Config | None = None, endpoint_url: str | None = None) -> Any:
    """A cached client; ``overrides`` (e.g. a shorter read timeout) are merged over the defaults. Pass
    the same ``Config`` object each time (build it once), since the cache keys on it. ``endpoint_url``
    is for services with per-account endpoints (the IoT data plane); None is boto3's default."""
    config = _CONFIG.merge(_SERVICE_CONFIG[service]) if service in _SERVICE_CONFIG else _CONFIG
    return boto3.client(
        service, config=config.merge(overrides) if overrides else config, endpoint_url=endpoint_url
    )


def reset_clients() -> None:
    """Forget cached clients (tests that switch AWS backends call this)."""
    client.cache_clear()


@contextmanager
def translated_errors(conflict: str = "The resource was changed concurrently") -> Iterator[None]:
    """Turn ``ClientError`` into a domain error; ``conflict`` is the message for failed conditions."""
    try:
        yield
    except ClientError as exc:
        raise translate(exc, conflict) from exc
    except HTTPClientError as exc:  # read timeout, connection reset or refused: the service is not answering
        raise Retryable("The service did not answer; retry the request") from exc


def translate(exc: ClientError, conflict: str = "The resource was changed concurrently") -> FleetgateError:
    code = exc.response.get("Error", {}).get("Code", "")
    if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
        return Conflict(conflict)
    if code in _RETRYABLE:
        return Retryable("The service is busy; retry the request")
    return FleetgateError(f"AWS call failed: {code}")


def cancellation_codes(exc: BaseException) -> list[str]:
    """The per-item reasons of a cancelled DynamoDB transaction (empty when not one)."""
    cause = exc.__cause__
    if not isinstance(cause, ClientError):
        return []
    return [reason.get("Code", "None") for reason in cause.response.get("CancellationReasons", [])]


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    """An opaque pagination token for a DynamoDB ``LastEvaluatedKey``."""
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error) as exc:
        raise InvalidRequest("Invalid nextToken") from exc
    if not isinstance(key, dict):
        raise InvalidRequest("Invalid nextToken")
    return key


def query_page(params: dict[str, Any], next_token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a DynamoDB Query, resumed from (and returning) an opaque ``nextToken``."""
    start = decode_cursor(next_token)
    if start:
        params = {**params, "ExclusiveStartKey": start}
    with translated_errors():
        page = client("dynamodb").query(**params)
    return page.get("Items", []), encode_cursor(page.get("LastEvaluatedKey"))


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int) -> dict[str, str]:
    return {"N": str(value)}
