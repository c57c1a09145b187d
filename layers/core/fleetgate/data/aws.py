"""AWS clients and the translation of AWS errors into domain errors.

Clients are created on first use and cached per execution environment (``functools.cache``), never at
import time, so cold starts stay small and tests can swap the backend with ``reset_clients()``.
``AWS_ENDPOINT_URL`` (set by the local stack) points every client at moto.

The DynamoDB idioms every repository shares live here, once:
- ``query_page``: a page of a Query and its opaque ``nextToken``. A token comes back only in the shape
  its listing issues (``PageKey``: the key attributes and their types, the partition, a sort prefix),
  so a forged or foreign token is a 400 and never reaches DynamoDB.
- ``create_all``: a record and the claims that keep its name unique, written in one transaction, each
  only where its key is free; a taken claim is a ``Conflict`` that names it.
- ``write_batches``: BatchWriteItem in calls of 25, resending what DynamoDB leaves unprocessed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError

from fleetgate.errors import Conflict, FleetgateError, InvalidRequest, Retryable
from fleetgate.retry import backoff

BATCH_WRITE_ITEMS = 25  # BatchWriteItem's limit
BATCH_ROUNDS = 8  # tries of one batch before its unprocessed rest is given back to the caller

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)

# The per-item reasons of a cancelled transaction that a retry of the whole request may clear.
_RETRYABLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})

_RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "SlowDown",  # S3's throttling
        "InternalError",  # S3's own failure
        "RequestTimeout",
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
    if code == "TransactionCanceledException":
        reasons = {reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])}
        if "ConditionalCheckFailed" not in reasons and reasons & _RETRYABLE_REASONS:
            return Retryable("The service is busy; retry the request")
        return Conflict(conflict)  # a failed condition, or a lost race (TransactionConflict)
    if code == "ConditionalCheckFailedException":
        return Conflict(conflict)
    if code in _RETRYABLE or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
        return Retryable("The service is busy; retry the request")  # throttled, or failing on its side
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
    """The JSON object a token holds (None for no token); not yet checked against any listing."""
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error) as exc:
        raise InvalidRequest("Invalid nextToken") from exc
    if not isinstance(key, dict):
        raise InvalidRequest("Invalid nextToken")
    return key


@dataclass(frozen=True)
class PageKey:
    """The ``LastEvaluatedKey`` one listing issues: its attributes and their types (``"S"`` or ``"N"``:
    the table's key plus the index's), the partition it lists (``scope``: attribute and value), and
    optionally a prefix every sort value of the listing has (``prefix``: attribute and prefix)."""

    types: Mapping[str, str]
    scope: tuple[str, str]
    prefix: tuple[str, str] | None = None

    def check(self, key: dict[str, Any]) -> dict[str, Any]:
        """``key`` if this listing could have issued it, else ``InvalidRequest``: a token of another
        listing, partition or shape never reaches DynamoDB."""
        if set(key) != set(self.types) or not all(
            _typed(key[name], kind) for name, kind in self.types.items()
        ):
            raise InvalidRequest("Invalid nextToken")
        scope, value = self.scope
        if key[scope] != {"S": value}:
            raise InvalidRequest("Invalid nextToken")
        if self.prefix is not None:
            name, start = self.prefix
            if not key[name]["S"].startswith(start):
                raise InvalidRequest("Invalid nextToken")
        return key


def _typed(value: Any, kind: str) -> bool:
    if not isinstance(value, dict) or set(value) != {kind} or not isinstance(value[kind], str):
        return False
    if kind == "N":
        try:
            number = Decimal(value[kind])
        except ArithmeticError:
            return False
        return number.is_finite() and _storable(number)
    return kind == "S" and value[kind] != ""  # DynamoDB refuses an empty key string


def _storable(number: Decimal) -> bool:
    """Whether DynamoDB can hold ``number``: 38 significant digits, magnitude 1E-130 to below 1E+126."""
    if number.is_zero():
        return True
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")  # exact, unlike normalize()
    return len(significant) <= 38 and Decimal("1e-130") <= abs(number) < Decimal("1e126")


def query_page(
    params: dict[str, Any], next_token: str | None, key: PageKey
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a DynamoDB Query, resumed from (and returning) an opaque ``nextToken``; a token is
    accepted only in the shape and partition ``key`` describes (``InvalidRequest`` otherwise)."""
    start = decode_cursor(next_token)
    if start is not None:
        params = {**params, "ExclusiveStartKey": key.check(start)}
    with translated_errors():
        page = client("dynamodb").query(**params)
    return page.get("Items", []), encode_cursor(page.get("LastEvaluatedKey"))


def create_all(table: str, items: Sequence[dict[str, Any]], taken: Mapping[int, str]) -> None:
    """Write ``items`` in one transaction, each only where its key is free: a record together with the
    claims that keep a name (or title, or key) unique. When the claim at index ``i`` is already held,
    the ``Conflict`` says ``taken[i]`` (the first such index in ``taken``'s order); any other failure
    passes through."""
    absent = "attribute_not_exists(pk)"
    try:
        with translated_errors():
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": item, "ConditionExpression": absent}}
                    for item in items
                ]
            )
    except Conflict as exc:
        codes = cancellation_codes(exc)
        for index, message in taken.items():
            if len(codes) > index and codes[index] == "ConditionalCheckFailed":
                raise Conflict(message) from exc
        raise


def write_batches(table: str, requests: Sequence[dict[str, Any]], *, rounds: int = BATCH_ROUNDS) -> int:
    """Send ``PutRequest``/``DeleteRequest`` elements to ``table`` in BatchWriteItem calls of 25, each
    call resending what DynamoDB left unprocessed (with jitter) for up to ``rounds`` tries. Returns how
    many requests were still unprocessed at the end: the caller decides whether that is an error."""
    ddb = client("dynamodb")
    left_over = 0
    for first in range(0, len(requests), BATCH_WRITE_ITEMS):
        pending: list[dict[str, Any]] = list(requests[first : first + BATCH_WRITE_ITEMS])
        for attempt in range(rounds):
            with translated_errors():
                unprocessed = ddb.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems")
            pending = (unprocessed or {}).get(table, [])
            if not pending:
                break
            if attempt + 1 < rounds:
                backoff(attempt)
        left_over += len(pending)
    return left_over


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int) -> dict[str, str]:
    return {"N": str(value)}
