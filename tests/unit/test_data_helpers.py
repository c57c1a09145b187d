"""The data layer's shared helpers: a page token is taken back only in the shape and partition its
listing issues, and batch writes resend what DynamoDB leaves unprocessed, then say what is left."""

from __future__ import annotations

from typing import Any

import pytest

from fleetgate import retry
from fleetgate.data import aws
from fleetgate.data.aws import PageKey
from fleetgate.errors import Conflict, InvalidRequest, Retryable

EVENTS = PageKey({"deviceId": "S", "sk": "S"}, ("deviceId", "dev-1"))
JOBS = PageKey({"pk": "S", "sk": "S", "kind": "S", "createdAt": "N"}, ("kind", "job"))
MEMBERS = PageKey({"pk": "S", "sk": "S"}, ("pk", "GROUP#g"), ("sk", "THING#"))


@pytest.mark.parametrize(
    ("key", "cursor"),
    [
        (EVENTS, {"deviceId": {"S": "dev-1"}, "sk": {"S": "000001#e"}}),
        (JOBS, {"pk": {"S": "JOB#j"}, "sk": {"S": "JOB"}, "kind": {"S": "job"}, "createdAt": {"N": "17"}}),
        (MEMBERS, {"pk": {"S": "GROUP#g"}, "sk": {"S": "THING#t"}}),
    ],
)
def test_a_key_of_the_listing_is_taken_back_as_it_is(key: PageKey, cursor: dict[str, Any]) -> None:
    assert key.check(cursor) == cursor


@pytest.mark.parametrize(
    ("key", "cursor"),
    [
        pytest.param(EVENTS, {"deviceId": {"S": "dev-1"}}, id="missing-key"),
        pytest.param(EVENTS, {"deviceId": {"S": "dev-1"}, "sk": {"S": "x"}, "x": {"S": "y"}}, id="extra-key"),
        pytest.param(EVENTS, {"deviceId": {"S": "dev-2"}, "sk": {"S": "x"}}, id="other-partition"),
        pytest.param(EVENTS, {"deviceId": {"S": "dev-1"}, "sk": {"N": "1"}}, id="other-type"),
        pytest.param(EVENTS, {"deviceId": {"S": "dev-1"}, "sk": {"S": 1}}, id="number-as-text"),
        pytest.param(EVENTS, {"deviceId": {"S": "dev-1"}, "sk": "x"}, id="bare-value"),
        pytest.param(EVENTS, {"deviceId": {"S": "dev-1"}, "sk": {"S": "x", "N": "1"}}, id="two-types"),
        pytest.param(
            JOBS,
            {"pk": {"S": "JOB#j"}, "sk": {"S": "JOB"}, "kind": {"S": "job"}, "createdAt": {"N": "soon"}},
            id="not-a-number",
        ),
        pytest.param(
            JOBS,
            {"pk": {"S": "JOB#j"}, "sk": {"S": "JOB"}, "kind": {"S": "job"}, "createdAt": {"N": "NaN"}},
            id="nan",
        ),
        pytest.param(MEMBERS, {"pk": {"S": "GROUP#g"}, "sk": {"S": "JOB#j"}}, id="outside-the-prefix"),
    ],
)
def test_any_other_key_is_an_invalid_token(key: PageKey, cursor: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match="Invalid nextToken"):
        key.check(cursor)


class FakeDynamoDB:
    """Leaves the first request of a call unprocessed in its first ``unprocessed_rounds`` calls."""

    def __init__(self, unprocessed_rounds: int) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.unprocessed_rounds = unprocessed_rounds

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        (requests,) = RequestItems.values()
        self.calls.append(requests)
        if len(self.calls) <= self.unprocessed_rounds:
            return {"UnprocessedItems": {"t": requests[:1]}}
        return {"UnprocessedItems": {}}


@pytest.fixture
def naps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", slept.append)
    return slept


def requests(count: int) -> list[dict[str, Any]]:
    return [{"DeleteRequest": {"Key": {"pk": {"S": str(i)}}}} for i in range(count)]


def test_batches_are_25_requests_and_leftovers_are_resent(
    monkeypatch: pytest.MonkeyPatch, naps: list[float]
) -> None:
    fake = FakeDynamoDB(unprocessed_rounds=2)
    monkeypatch.setattr(aws, "client", lambda service: fake)

    left = aws.write_batches("t", requests(30))

    assert left == 0
    assert [len(call) for call in fake.calls] == [25, 1, 1, 5]
    assert len(naps) == 2


def test_what_is_still_unprocessed_after_the_rounds_is_counted(
    monkeypatch: pytest.MonkeyPatch, naps: list[float]
) -> None:
    fake = FakeDynamoDB(unprocessed_rounds=100)
    monkeypatch.setattr(aws, "client", lambda service: fake)

    left = aws.write_batches("t", requests(3), rounds=4)

    assert left == 1
    assert len(fake.calls) == 4
    assert len(naps) == 3  # no nap after the last round


# --------------------------------------------------------------------------- AWS errors
def client_error(code: str, status: int = 400, **extra: Any) -> Any:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}, "AnyCall"
    )


def cancelled(*reasons: str) -> Any:
    return client_error(
        "TransactionCanceledException", CancellationReasons=[{"Code": reason} for reason in reasons]
    )


@pytest.mark.parametrize(
    "exc",
    [
        cancelled("ConditionalCheckFailed", "None"),
        cancelled("None", "TransactionConflict"),
        cancelled("ThrottlingError", "ConditionalCheckFailed"),  # a failed condition wins: not retried
        client_error("ConditionalCheckFailedException"),
    ],
)
def test_failed_conditions_and_lost_races_are_conflicts(exc: Any) -> None:
    translated = aws.translate(exc)
    assert type(translated) is Conflict


@pytest.mark.parametrize(
    "exc",
    [
        cancelled("ThrottlingError", "None"),
        cancelled("None", "ProvisionedThroughputExceeded"),
        cancelled("RequestLimitExceeded"),
        client_error("ThrottlingException"),
        client_error("ProvisionedThroughputExceededException"),
        client_error("SlowDown", 503),
        client_error("InternalError", 500),
        client_error("SomethingNew", 502),  # any failure on the service's side
    ],
)
def test_throttling_and_service_failures_are_retryable(exc: Any) -> None:
    assert isinstance(aws.translate(exc), Retryable)


def test_a_refused_call_is_neither() -> None:
    translated = aws.translate(client_error("ValidationException"))
    assert not isinstance(translated, (Conflict, Retryable))
    assert translated.status == 500
