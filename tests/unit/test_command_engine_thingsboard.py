"""ThingsBoard server-side RPC on the command engine (``fleetgate.domain.commands`` with the vocabulary of
``fleetgate.dialects.thingsboard.rpc``): expiry, delivery, replies, cancel."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetgate.dialects.thingsboard.rpc import (
    MAX_LIFETIME_MS,
    MAX_METHOD,
    VOCABULARY,
    Rpc,
    RpcStatus,
    reply_answer,
    rpc_request,
)
from fleetgate.domain import commands as engine
from fleetgate.errors import Conflict, InvalidRequest
from fleetgate.jsonutil import dumps

NOW = 1_700_000_000_000
UUID = "5b0c2a9e-7d41-4c8e-9a3f-2e6d1b7c4a90"


def make(**changes: Any) -> Rpc:
    """A QUEUED two-way RPC expiring 10 s after NOW, with ``changes`` to the request applied."""
    request = rpc_request(method="setGpio", params={"pin": 7}, now=NOW, **changes)
    return Rpc(
        engine.new_command(request.spec(), device_id="dev", uuid=UUID, seq=1, retention_days=30, pushed=False)
    )


# --------------------------------------------------------------------- the old rules' names, on the engine
def deliver(rpc: Rpc, now: int) -> Rpc:
    return Rpc(engine.deliver(rpc.command, now))


def deliverable(rpc: Rpc, now: int) -> bool:
    return engine.deliverable(rpc.command, now)


def settle(rpc: Rpc, now: int) -> Rpc | None:
    ended = engine.settle(rpc.command, now)
    return None if ended is None else Rpc(ended)


def answer(rpc: Rpc, response: Any, now: int) -> Rpc | None:
    """The answered RPC, or None when ThingsBoard drops the reply (refused or a repeat)."""
    try:
        answered = engine.answer(rpc.command, reply_answer(dumps(response)), now, VOCABULARY)
    except Conflict:
        return None
    return None if answered is rpc.command else Rpc(answered)


def cancel(rpc: Rpc, now: int) -> Rpc:
    return Rpc(engine.cancel(rpc.command, now, VOCABULARY))


# --------------------------------------------------------------------------- expiry
@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (None, NOW + 10_000),  # ThingsBoard's default_timeout
        (0, NOW + 5_000),  # never below min_timeout
        (3_000, NOW + 5_000),
        (20_000, NOW + 20_000),
    ],
)
def test_expiration_is_now_plus_max_of_min_timeout_and_timeout(timeout: int | None, expected: int) -> None:
    assert make(timeout=timeout).expiration_time == expected


def test_explicit_expiration_time_wins_over_timeout() -> None:
    assert make(timeout=20_000, expiration_time=NOW + 1_000).expiration_time == NOW + 1_000


def test_record_is_retained_for_the_retention_days_after_its_expiration() -> None:
    rpc = make(expiration_time=NOW + 1_500)

    assert rpc.command.retain_until == (NOW + 2_000) // 1000 + 30 * 86_400


def test_new_rpc_is_queued_at_version_1_with_params_defaulting_to_an_empty_object() -> None:
    request = rpc_request(method="m", now=NOW)
    rpc = Rpc(
        engine.new_command(request.spec(), device_id="dev", uuid=UUID, seq=3, retention_days=1, pushed=False)
    )

    assert (rpc.status, rpc.command.version, rpc.params, rpc.deliveries, rpc.id) == (
        RpcStatus.QUEUED,
        1,
        {},
        0,
        3,
    )
    assert (rpc.created_time, rpc.expiration_time) == (NOW, NOW + 10_000)  # the timeout counts from creation
    assert rpc.to_device() == {"id": 3, "method": "m", "params": {}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": ""}, "method"),
        ({"method": "m" * (MAX_METHOD + 1)}, "method"),
        ({"method": 42}, "method"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": MAX_LIFETIME_MS + 1}, "timeout"),
        ({"expiration_time": NOW}, "expirationTime"),
        ({"expiration_time": NOW - 1}, "expirationTime"),
        ({"expiration_time": NOW + MAX_LIFETIME_MS + 1}, "expirationTime"),
        ({"retries": -1}, "retries"),
        ({"retries": 101}, "retries"),
    ],
)
def test_invalid_requests_are_rejected_with_the_field_named(changes: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"method": "m", "now": NOW} | changes

    with pytest.raises(InvalidRequest, match=message):
        rpc_request(**arguments)


# --------------------------------------------------------------------------- delivery
def test_one_way_rpc_is_successful_once_delivered_and_never_delivered_again() -> None:
    rpc = make(oneway=True)

    delivered = deliver(rpc, NOW + 1)

    assert delivered.status == RpcStatus.SUCCESSFUL
    assert (delivered.deliveries, delivered.delivered_time, delivered.completed_time) == (1, NOW + 1, NOW + 1)
    assert not deliverable(delivered, NOW + 2)
    with pytest.raises(Conflict):
        deliver(delivered, NOW + 2)


def test_two_way_rpc_is_delivered_again_until_answered_keeping_its_first_delivery_time() -> None:
    first = deliver(make(), NOW + 1)
    second = deliver(first, NOW + 2)

    assert (first.status, second.status) == (RpcStatus.DELIVERED, RpcStatus.DELIVERED)
    assert (second.deliveries, second.delivered_time, second.command.last_delivered_time) == (
        2,
        NOW + 1,
        NOW + 2,
    )
    assert second.command.version == first.command.version + 1 == 3


def test_expired_rpc_is_never_delivered() -> None:
    rpc = make(expiration_time=NOW + 100)

    assert not deliverable(rpc, NOW + 100)
    with pytest.raises(Conflict, match="EXPIRED"):
        deliver(rpc, NOW + 100)


def test_rpc_out_of_retries_is_not_delivered_again() -> None:
    once = deliver(make(retries=1), NOW + 1)
    twice = deliver(once, NOW + 2)

    assert deliverable(once, NOW + 3)
    assert not deliverable(twice, NOW + 3)


# --------------------------------------------------------------------------- settle
def test_settle_records_expired_for_a_never_delivered_rpc_and_timeout_for_an_unanswered_one() -> None:
    queued = make(expiration_time=NOW + 100)
    delivered = deliver(queued, NOW + 1)

    assert settle(queued, NOW + 99) is None
    assert settle(queued, NOW + 100).status == RpcStatus.EXPIRED  # type: ignore[union-attr]
    assert settle(delivered, NOW + 100).status == RpcStatus.TIMEOUT  # type: ignore[union-attr]
    assert settle(delivered, NOW + 100).completed_time == NOW + 100  # type: ignore[union-attr]


def test_settle_records_failed_when_retries_are_exhausted() -> None:
    exhausted = deliver(deliver(make(retries=1), NOW + 1), NOW + 2)

    assert settle(exhausted, NOW + 3).status == RpcStatus.FAILED  # type: ignore[union-attr]


def test_settle_leaves_finished_rpcs_alone() -> None:
    done = deliver(make(oneway=True, expiration_time=NOW + 100), NOW + 1)

    assert settle(done, NOW + 1_000) is None


def test_effective_status_shows_an_unrecorded_expiry() -> None:
    queued = make(expiration_time=NOW + 100)
    delivered = deliver(queued, NOW + 1)

    assert queued.effective_status(NOW + 99) == RpcStatus.QUEUED
    assert queued.effective_status(NOW + 100) == RpcStatus.EXPIRED
    assert delivered.effective_status(NOW + 100) == RpcStatus.TIMEOUT


# --------------------------------------------------------------------------- replies
def test_reply_to_a_delivered_two_way_rpc_makes_it_successful_with_the_response() -> None:
    answered = answer(deliver(make(), NOW + 1), {"ok": True}, NOW + 2)

    assert answered is not None
    assert (answered.status, answered.response, answered.completed_time) == (
        RpcStatus.SUCCESSFUL,
        {"ok": True},
        NOW + 2,
    )


@pytest.mark.parametrize(
    "case",
    ["queued", "oneway", "answered", "expired", "canceled"],
)
def test_replies_that_thingsboard_drops_are_ignored(case: str) -> None:
    delivered = deliver(make(expiration_time=NOW + 100), NOW + 1)
    rpc, at = {
        "queued": (make(), NOW + 1),
        "oneway": (deliver(make(oneway=True), NOW + 1), NOW + 2),
        "answered": (answer(delivered, 1, NOW + 2), NOW + 3),
        "expired": (delivered, NOW + 100),
        "canceled": (cancel(make(), NOW + 1), NOW + 2),
    }[case]

    assert rpc is not None
    assert answer(rpc, {"late": True}, at) is None


# --------------------------------------------------------------------------- cancel
def test_only_a_queued_rpc_can_be_canceled() -> None:
    canceled = cancel(make(), NOW + 1)
    delivered = deliver(make(), NOW + 1)

    assert canceled.status == RpcStatus.CANCELED
    assert not deliverable(canceled, NOW + 2)
    with pytest.raises(Conflict, match="DELIVERED"):
        cancel(delivered, NOW + 2)
    with pytest.raises(Conflict, match="EXPIRED"):
        cancel(make(expiration_time=NOW + 100), NOW + 100)


# --------------------------------------------------------------------------- properties
EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["poll", "reply", "cancel", "settle"]), st.integers(min_value=0, max_value=4_000)
    ),
    max_size=25,
)


@given(
    oneway=st.booleans(),
    retries=st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    events=EVENTS,
)
def test_lifecycle_invariants_hold_for_any_sequence_of_events(
    oneway: bool, retries: int | None, events: list[tuple[str, int]]
) -> None:
    rpc = make(oneway=oneway, retries=retries, expiration_time=NOW + 5_000)
    now = NOW
    for kind, elapsed in events:
        now += elapsed
        before = rpc
        if kind == "poll" and deliverable(rpc, now):
            rpc = deliver(rpc, now)
            assert now < rpc.expiration_time  # never delivered at or after its expiration
        elif kind == "reply":
            rpc = answer(rpc, {"n": 1}, now) or rpc
        elif kind == "cancel" and rpc.effective_status(now) == RpcStatus.QUEUED:
            rpc = cancel(rpc, now)
        elif kind == "settle":
            rpc = settle(rpc, now) or rpc
        if not before.open:
            assert rpc.command == before.command  # finished states are final
        assert rpc.command.version == before.command.version + (rpc.command is not before.command)
        if oneway:
            assert rpc.deliveries <= 1  # a one-way RPC is delivered once
            assert rpc.response is None
        if retries is not None:
            assert rpc.deliveries <= retries + 1
        if rpc.response is not None:
            assert rpc.status == RpcStatus.SUCCESSFUL
        assert (rpc.completed_time is None) == rpc.open
