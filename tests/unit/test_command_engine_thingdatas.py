"""ThingDatas commands on the command engine (``fleetgate.domain.commands`` with the vocabulary of
``fleetgate.dialects.thingdatas.commands``): every allowed and forbidden transition, TTL expiry at its
exact boundary, and the idempotent retry of a device's answer."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from fleetgate.dialects.thingdatas.commands import (
    DEFAULT_TTL_S,
    VOCABULARY,
    CommandResponse,
    CommandStatus,
    Execution,
    command_request,
    command_spec,
    parse_response,
    request_topic,
    response_topic,
)
from fleetgate.domain import commands as engine
from fleetgate.errors import InvalidRequest, InvalidStateTransition, PayloadTooLarge


# --------------------------------------------------------------------- the old rules' names, on the engine
def new_execution(
    request: Any, *, device_id: str, thing_name: str, execution_id: str, now: int, retention_days: int
) -> Execution:
    spec = command_spec(request, thing_name=thing_name, now=now, execution_id=execution_id)
    return Execution(
        engine.new_command(
            spec, device_id=device_id, uuid=execution_id, seq=None, retention_days=retention_days, pushed=True
        )
    )


def _same_or_new(execution: Execution, command: engine.Command) -> Execution:
    return execution if command is execution.command else Execution(command)


def respond(execution: Execution, response: CommandResponse, now: int) -> Execution:
    return _same_or_new(execution, engine.answer(execution.command, response.answer(), now, VOCABULARY))


def is_repeat(execution: Execution, response: CommandResponse) -> bool:
    return engine.is_repeat(execution.command, response.answer())


def cancel(execution: Execution, now: int) -> Execution:
    return Execution(engine.cancel(execution.command, now, VOCABULARY))


def time_out(execution: Execution, now: int) -> Execution | None:
    ended = engine.settle(execution.command, now)
    return None if ended is None else Execution(ended)


def publish_failed(execution: Execution, reason: str, now: int) -> Execution:
    return Execution(engine.delivery_failed(execution.command, f"Publish failed: {reason}", now, VOCABULARY))


NOW = 1_748_390_400_123
EXECUTION_ID = "8d88790c-9171-4526-8637-e6d6168bce22"
S = CommandStatus


def sent(ttl: int = 30, params: Any = None) -> Execution:
    request = command_request(
        action="setTemperature", params={"value": 24} if params is None else params, ttl=ttl
    )
    return new_execution(
        request,
        device_id="dev",
        thing_name="thermostat-001",
        execution_id=EXECUTION_ID,
        now=NOW,
        retention_days=90,
    )


def answer(status: str = "SUCCEEDED", result: Any = None, token: str | None = None) -> CommandResponse:
    body: dict[str, Any] = {"executionId": EXECUTION_ID, "status": status}
    if result is not None:
        body["result"] = result
    return parse_response(body, token)


LIVE = NOW + 1_000
LATE = NOW + 30_000  # exactly expiresAt


def in_state(state: str) -> Execution:
    """An execution in ``state``: SENT, one answered by the device, or ended by the service/operator."""
    execution = sent()
    if state == "SENT":
        return execution
    if state in ("SUCCEEDED", "FAILED", "REJECTED"):
        return respond(execution, answer(state, {"r": 1}, "tok"), LIVE)
    if state == "FAILED_TO_PUBLISH":
        return publish_failed(execution, "iot-data Publish failed: ThrottlingException", NOW)
    if state == "CANCELED":
        return cancel(execution, LIVE)
    if state == "TIMED_OUT":
        timed_out = time_out(execution, LATE)
        assert timed_out is not None
        return timed_out
    raise AssertionError(state)


TERMINAL_STATES = ["SUCCEEDED", "FAILED", "REJECTED", "FAILED_TO_PUBLISH", "CANCELED", "TIMED_OUT"]


# --------------------------------------------------------------------------- creation
def test_a_new_execution_is_sent_and_expires_ttl_seconds_after_creation() -> None:
    execution = sent(ttl=45)

    assert execution.status == S.SENT
    assert execution.created_at == execution.updated_at == NOW
    assert execution.expires_at == NOW + 45_000
    assert execution.command.retain_until == -(-(NOW + 45_000) // 1000) + 90 * 86_400
    assert execution.responded_at is None and execution.result is None


def test_defaults_are_an_empty_params_object_and_fleets_30_seconds() -> None:
    request = command_request(action="reboot")

    assert json.loads(request.params_json) == {}
    assert request.ttl == DEFAULT_TTL_S == 30


def test_the_device_payload_is_fleets_with_command_id_equal_to_execution_id_and_seconds() -> None:
    assert sent().request_payload() == {
        "commandId": EXECUTION_ID,
        "executionId": EXECUTION_ID,
        "action": "setTemperature",
        "params": {"value": 24},
        "timestamp": NOW // 1000,
        "ttl": 30,
    }


def test_topics() -> None:
    assert request_topic("fleetgate", "t-1", EXECUTION_ID) == (
        f"fleetgate/commands/things/t-1/executions/{EXECUTION_ID}/request"
    )
    assert (
        response_topic("$emqx", "t-1", EXECUTION_ID)
        == f"$emqx/commands/things/t-1/executions/{EXECUTION_ID}/response"
    )


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"action": ""}, InvalidRequest),
        ({"action": "x" * 129}, InvalidRequest),
        ({"action": None}, InvalidRequest),
        ({"action": "a", "ttl": 0}, InvalidRequest),
        ({"action": "a", "ttl": 86_401}, InvalidRequest),
        ({"action": "a", "ttl": True}, InvalidRequest),
        ({"action": "a", "ttl": 2.0}, InvalidRequest),
        ({"action": "a", "params": {"x": "y" * 65_536}}, PayloadTooLarge),
    ],
)
def test_bad_command_requests(fields: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        command_request(**fields)


def test_ttl_bounds_are_inclusive() -> None:
    assert command_request(action="a", ttl=1).ttl == 1
    assert command_request(action="a", ttl=86_400).ttl == 86_400
    assert command_request(action="x" * 128).action == "x" * 128


# --------------------------------------------------------------------------- TTL expiry
def test_expiry_boundary() -> None:
    execution = sent()

    assert execution.effective_status(LATE - 1) == S.SENT
    assert execution.effective_status(LATE) == S.TIMED_OUT
    assert time_out(execution, LATE - 1) is None
    timed_out = time_out(execution, LATE)
    assert timed_out is not None
    assert (timed_out.status, timed_out.updated_at) == (S.TIMED_OUT, LATE)


@pytest.mark.parametrize("state", TERMINAL_STATES)
def test_a_terminal_execution_never_times_out(state: str) -> None:
    execution = in_state(state)

    assert execution.effective_status(LATE + 10**9) == execution.status
    assert time_out(execution, LATE + 10**9) is None


# --------------------------------------------------------------------------- the transition table
@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "REJECTED"])
def test_sent_to_each_device_status_before_the_deadline(status: str) -> None:
    done = respond(sent(), answer(status, {"t": 24}, "tok-1"), LATE - 1)

    assert done.status == S(status)
    assert (done.responded_at, done.updated_at) == (LATE - 1, LATE - 1)
    assert done.result == {"t": 24}
    assert done.client_token == "tok-1"


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "REJECTED"])
def test_an_answer_at_the_deadline_is_refused_as_timed_out(status: str) -> None:
    with pytest.raises(InvalidStateTransition) as caught:
        respond(sent(), answer(status), LATE)

    assert caught.value.details == {"status": "TIMED_OUT"}


def test_sent_to_canceled_before_the_deadline_only() -> None:
    assert cancel(sent(), LATE - 1).status == S.CANCELED
    with pytest.raises(InvalidStateTransition) as caught:
        cancel(sent(), LATE)
    assert caught.value.details == {"status": "TIMED_OUT"}


def test_sent_to_failed_when_the_publish_fails_even_at_once() -> None:
    failed = publish_failed(sent(), "iot-data Publish failed: X", NOW)

    assert failed.status == S.FAILED
    assert failed.status_reason == "Publish failed: iot-data Publish failed: X"
    assert failed.responded_at is None


@pytest.mark.parametrize("state", TERMINAL_STATES)
@pytest.mark.parametrize(
    "action",
    [
        lambda e: respond(e, answer("SUCCEEDED", {"other": True}, "other-token"), LIVE),
        lambda e: respond(e, answer("REJECTED"), LIVE),
        lambda e: cancel(e, LIVE),
        lambda e: publish_failed(e, "x", LIVE),
    ],
    ids=["answer", "different-answer", "cancel", "publish-failed"],
)
def test_every_terminal_state_refuses_every_change_with_its_status(state: str, action: Any) -> None:
    execution = in_state(state)

    with pytest.raises(InvalidStateTransition) as caught:
        action(execution)

    assert caught.value.details == {"status": execution.status.value}
    assert caught.value.status == 409


# --------------------------------------------------------------------------- idempotent retries
def test_a_retry_with_the_same_token_returns_the_execution_itself() -> None:
    done = respond(sent(), answer("SUCCEEDED", {"t": 24}, "tok-1"), LIVE)

    assert respond(done, answer("SUCCEEDED", {"t": 24}, "tok-1"), LATE + 5) is done  # even after the deadline
    assert respond(done, answer("FAILED", None, "tok-1"), LIVE) is done  # the token names the answer


def test_a_retry_without_token_must_repeat_status_and_result() -> None:
    done = respond(sent(), answer("FAILED", {"a": 1, "b": [1, 2]}), LIVE)

    assert respond(done, answer("FAILED", {"b": [1, 2], "a": 1}), LIVE) is done
    for different in (
        answer("FAILED", {"a": 1.0, "b": [1, 2]}),
        answer("FAILED"),
        answer("REJECTED", {"a": 1, "b": [1, 2]}),
    ):
        with pytest.raises(InvalidStateTransition):
            respond(done, different, LIVE)


def test_an_answer_with_token_may_be_retried_without_one_but_not_with_another() -> None:
    done = respond(sent(), answer("SUCCEEDED", None, "tok-1"), LIVE)

    assert is_repeat(done, answer("SUCCEEDED"))
    assert not is_repeat(done, answer("SUCCEEDED", None, "tok-2"))


def test_an_answer_without_token_is_not_repeated_by_one_with_a_token() -> None:
    done = respond(sent(), answer("SUCCEEDED"), LIVE)

    assert not is_repeat(done, answer("SUCCEEDED", None, "tok-1"))


@pytest.mark.parametrize("state", ["FAILED_TO_PUBLISH", "CANCELED", "TIMED_OUT"])
def test_nothing_repeats_an_end_the_device_did_not_answer(state: str) -> None:
    execution = in_state(state)

    assert not is_repeat(execution, answer("FAILED"))
    assert not is_repeat(execution, answer("SUCCEEDED"))
    assert not is_repeat(
        Execution(replace(execution.command, client_token="tok")), answer("FAILED", None, "tok")
    )


def test_a_null_result_is_no_result() -> None:
    assert (
        parse_response({"executionId": EXECUTION_ID, "status": "SUCCEEDED", "result": None}, None).result_json
        is None
    )


# --------------------------------------------------------------------------- parsing a device's answer
def test_execution_ids_are_canonical_uuids() -> None:
    upper = EXECUTION_ID.upper()

    assert parse_response({"executionId": upper, "status": "SUCCEEDED"}, None).execution_id == EXECUTION_ID


def test_a_timestamp_written_with_a_zero_fraction_is_that_integer() -> None:
    answer = parse_response({"executionId": EXECUTION_ID, "status": "SUCCEEDED", "timestamp": 7.0}, None)

    assert answer.device_timestamp == 7
    assert type(answer.device_timestamp) is int


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"status": "SUCCEEDED"}, InvalidRequest),
        ({"executionId": "nope", "status": "SUCCEEDED"}, InvalidRequest),
        ({"executionId": EXECUTION_ID}, InvalidRequest),
        ({"executionId": EXECUTION_ID, "status": "SENT"}, InvalidRequest),
        ({"executionId": EXECUTION_ID, "status": {"s": 1}}, InvalidRequest),
        ({"executionId": EXECUTION_ID, "status": "SUCCEEDED", "timestamp": 1.5}, InvalidRequest),
        ({"executionId": EXECUTION_ID, "status": "SUCCEEDED", "timestamp": False}, InvalidRequest),
        ({"executionId": EXECUTION_ID, "status": "SUCCEEDED", "timestamp": 10**15}, InvalidRequest),
        ({"executionId": EXECUTION_ID, "status": "SUCCEEDED", "extra": 1}, InvalidRequest),
        ({"executionId": EXECUTION_ID, "status": "SUCCEEDED", "result": "x" * 65_536}, PayloadTooLarge),
    ],
)
def test_bad_answers(body: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_response(body, None)
