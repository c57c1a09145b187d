"""The jobs engine's pure rules (``fleetgate.domain.jobs``): AWS IoT Jobs semantics, no AWS.

Rules under test: docs/thingdatas.md, "The job rules" (transitions, versions, statusDetails limits,
timers, abort criteria, rollout) and the ThingDatas decisions in the module's docstring."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from fleetgate.dialects.thingdatas import jobs as wire
from fleetgate.domain import jobs as rules
from fleetgate.domain.devices import Thing
from fleetgate.domain.jobs import (
    DEVICE_STATUSES,
    TERMINAL,
    AbortCriterion,
    Execution,
    ExecutionStatus,
    FailureType,
    Job,
    JobStatus,
    StartNextRequest,
    Target,
    UpdateRequest,
)
from fleetgate.errors import (
    InvalidRequest,
    InvalidStateTransition,
    NotFound,
    PayloadTooLarge,
    VersionMismatch,
)

T0 = 1_795_341_600_000  # epoch ms
MIN = 60_000
THING = Thing("device-1", "thermostat-001")
Q = ExecutionStatus.QUEUED
IP = ExecutionStatus.IN_PROGRESS


def a_job(**spec: Any) -> Job:
    fields: dict[str, Any] = {"job_id": "job-1", "document": {"v": 1}, "thing_names": ["thermostat-001"]}
    return rules.new_job(rules.job_spec(**(fields | spec)), T0)


def queued(job: Job | None = None, *, at: int = T0, **changes: Any) -> Execution:
    execution = rules.queue((job or a_job()).ref, Target(THING, True), at)
    return replace(execution, **changes)


def in_progress(job: Job | None = None, *, at: int = T0, step: int | None = None) -> Execution:
    return rules.start(queued(job), StartNextRequest(step_timeout=step), at)


def with_status(status: ExecutionStatus) -> Execution:
    """An execution that reached ``status`` the way the service gets there."""
    if status is Q:
        return queued()
    if status is IP:
        return in_progress()
    if status in DEVICE_STATUSES:
        return rules.update(in_progress(), UpdateRequest(status), T0 + 1000)
    if status is ExecutionStatus.TIMED_OUT:
        started = in_progress(a_job(in_progress_timeout_minutes=1))
        settled = rules.settle(started, T0 + MIN)
        assert settled is not None
        return settled
    if status is ExecutionStatus.CANCELED:
        canceled = rules.cancel(queued(), T0, force=False)
        assert canceled is not None
        return canceled
    removed = rules.left(queued(direct=False, groups=frozenset({"g"})), "g", T0)
    assert removed is not None
    return removed


# --------------------------------------------------------------------------- transitions
ALLOWED = {(source, target) for source in (Q, IP) for target in DEVICE_STATUSES}


@pytest.mark.parametrize("source", list(ExecutionStatus))
@pytest.mark.parametrize("target", list(ExecutionStatus))
def test_every_device_transition_is_allowed_or_refused_as_aws_does(
    source: ExecutionStatus, target: ExecutionStatus
) -> None:
    execution = with_status(source)
    assert execution.status is source
    body = {"status": target.value}

    if target not in DEVICE_STATUSES:
        with pytest.raises(InvalidRequest, match="may not set status"):
            wire.parse_update(body, None)
        return
    request = wire.parse_update(body, None)
    if (source, target) in ALLOWED:
        changed = rules.update(execution, request, T0 + 5000)
        assert changed.status is target
        assert changed.version == execution.version + 1
        assert changed.last_updated_at == T0 + 5000
    else:
        assert source in TERMINAL
        with pytest.raises(InvalidStateTransition) as refused:
            rules.update(execution, request, T0 + 5000)
        assert refused.value.details["executionState"] == execution  # rendered by the dialect


def test_the_device_statuses_are_exactly_the_four_aws_allows() -> None:
    assert {s.value for s in DEVICE_STATUSES} == {"IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"}
    assert {s.value for s in TERMINAL} == {
        "SUCCEEDED",
        "FAILED",
        "TIMED_OUT",
        "REJECTED",
        "REMOVED",
        "CANCELED",
    }


def test_an_unknown_or_missing_status_is_invalid() -> None:
    with pytest.raises(InvalidRequest, match="status is required"):
        wire.parse_update({}, None)
    for bad in ("DONE", "succeeded", 1, True, ["SUCCEEDED"]):
        with pytest.raises(InvalidRequest, match="status must be"):
            wire.parse_update({"status": bad}, None)


def test_queued_to_in_progress_sets_started_at_and_the_in_progress_timer() -> None:
    job = a_job(in_progress_timeout_minutes=10)
    started = rules.update(queued(job), UpdateRequest(IP), T0 + 7000)

    assert started.started_at == T0 + 7000
    assert started.in_progress_deadline == T0 + 7000 + 10 * MIN
    again = rules.update(started, UpdateRequest(IP), T0 + 9000)
    assert again.started_at == T0 + 7000  # a progress update does not restart anything
    assert again.in_progress_deadline == started.in_progress_deadline


def test_a_direct_finish_from_queued_never_starts() -> None:
    done = rules.update(queued(), UpdateRequest(ExecutionStatus.SUCCEEDED), T0 + 1000)
    assert done.started_at is None
    assert done.status is ExecutionStatus.SUCCEEDED


# --------------------------------------------------------------------------- versions
def test_version_starts_at_one_and_grows_with_every_change() -> None:
    execution = queued()
    assert execution.version == 1
    execution = rules.start(execution, StartNextRequest(), T0)
    assert execution.version == 2
    for expected in (3, 4, 5):
        execution = rules.update(execution, UpdateRequest(IP), T0)
        assert execution.version == expected
    timed_out = rules.settle(replace(execution, step_deadline=T0), T0)
    assert timed_out is not None and timed_out.version == 6


def test_expected_version_must_match() -> None:
    execution = in_progress()  # version 2
    assert rules.update(execution, UpdateRequest(IP, expected_version=2), T0).version == 3
    with pytest.raises(VersionMismatch) as mismatch:
        rules.update(execution, UpdateRequest(IP, expected_version=1), T0)
    assert wire.execution_state(mismatch.value.details["executionState"]) == {
        "status": "IN_PROGRESS",
        "versionNumber": 2,
    }


def test_a_terminal_execution_refuses_even_with_the_right_version() -> None:
    done = with_status(ExecutionStatus.SUCCEEDED)
    with pytest.raises(InvalidStateTransition):
        rules.update(done, UpdateRequest(IP, expected_version=done.version), T0)


def test_another_execution_number_is_not_found() -> None:
    with pytest.raises(NotFound):
        rules.update(queued(), UpdateRequest(IP, execution_number=2), T0)
    assert rules.update(queued(), UpdateRequest(IP, execution_number=1), T0).status is IP


# --------------------------------------------------------------------------- statusDetails
def test_status_details_replace_when_given_and_stay_when_omitted() -> None:
    execution = rules.update(queued(), UpdateRequest(IP, status_details={"a": "1", "b": "2"}), T0)
    kept = rules.update(execution, UpdateRequest(IP), T0)
    assert kept.status_details == {"a": "1", "b": "2"}
    replaced = rules.update(kept, UpdateRequest(IP, status_details={"c": "3"}), T0)
    assert replaced.status_details == {"c": "3"}


@pytest.mark.parametrize(
    "details",
    [
        {f"k{i}": "v" for i in range(10)},
        {"a" * 128: "v"},
        {"x:y_z-0": "v" * 1024},
        {"k": "ünïcødé ✓ spaces and / punctuation"},
        {},
    ],
)
def test_status_details_within_the_limits_are_accepted(details: dict[str, str]) -> None:
    assert wire.parse_status_details(details) == details


@pytest.mark.parametrize(
    ("details", "match"),
    [
        ({f"k{i}": "v" for i in range(11)}, "at most 10"),
        ({"a" * 129: "v"}, "name"),
        ({"": "v"}, "name"),
        ({"bad key": "v"}, "name"),
        ({"bad.key": "v"}, "name"),
        ({"k": ""}, "value"),
        ({"k": "v" * 1025}, "value"),
        ({"k": "line\nbreak"}, "value"),
        ({"k": "nul\x00"}, "value"),
        ({"k": "zero\u200bwidth"}, "value"),  # Cf: a format character is \p{C} too
        ({"k": 1}, "value"),
        ({"k": None}, "value"),
        ({"k": {"nested": "v"}}, "value"),
        ("text", "object"),
        (["k", "v"], "object"),
    ],
)
def test_status_details_beyond_the_limits_are_invalid(details: Any, match: str) -> None:
    with pytest.raises(InvalidRequest, match=match):
        wire.parse_status_details(details)


# --------------------------------------------------------------------------- timers
def test_the_step_timer_runs_from_when_it_is_set() -> None:
    started = in_progress(at=T0, step=5)
    assert started.deadline == T0 + 5 * MIN
    assert rules.settle(started, T0 + 5 * MIN - 1) is None
    timed_out = rules.settle(started, T0 + 5 * MIN)
    assert timed_out is not None
    assert timed_out.status is ExecutionStatus.TIMED_OUT
    assert timed_out.last_updated_at == T0 + 5 * MIN  # when it timed out, not when it was noticed
    assert rules.settle(started, T0 + 60 * MIN).last_updated_at == T0 + 5 * MIN  # type: ignore[union-attr]


def test_a_new_step_timeout_replaces_the_old_one_and_minus_one_clears_it() -> None:
    started = in_progress(at=T0, step=5)
    reset = rules.update(started, UpdateRequest(IP, step_timeout=10), T0 + 4 * MIN)
    assert reset.deadline == T0 + 14 * MIN
    kept = rules.update(reset, UpdateRequest(IP), T0 + 5 * MIN)
    assert kept.deadline == T0 + 14 * MIN  # omitted: unchanged
    cleared = rules.update(kept, UpdateRequest(IP, step_timeout=-1), T0 + 6 * MIN)
    assert cleared.deadline is None
    assert rules.settle(cleared, T0 + 10_000 * MIN) is None


def test_the_step_timer_never_reaches_past_the_in_progress_timer() -> None:
    job = a_job(in_progress_timeout_minutes=10)
    started = in_progress(job, at=T0, step=60)
    assert started.deadline == T0 + 10 * MIN
    later = rules.update(started, UpdateRequest(IP, step_timeout=60), T0 + 9 * MIN)
    assert later.deadline == T0 + 10 * MIN  # the in-progress timer still runs from startedAt
    assert rules.settle(later, T0 + 10 * MIN) is not None


def test_a_shorter_step_timer_wins_over_the_in_progress_timer() -> None:
    started = in_progress(a_job(in_progress_timeout_minutes=10), at=T0, step=3)
    assert started.deadline == T0 + 3 * MIN


def test_clearing_the_step_timer_leaves_the_in_progress_timer() -> None:
    started = in_progress(a_job(in_progress_timeout_minutes=10), at=T0, step=3)
    cleared = rules.update(started, UpdateRequest(IP, step_timeout=-1), T0 + MIN)
    assert cleared.deadline == T0 + 10 * MIN


def test_only_in_progress_executions_time_out() -> None:
    job = a_job(in_progress_timeout_minutes=1)
    assert rules.settle(queued(job), T0 + 10_000 * MIN) is None
    done = rules.update(in_progress(job, at=T0), UpdateRequest(ExecutionStatus.SUCCEEDED), T0 + 1)
    assert rules.settle(done, T0 + 10_000 * MIN) is None
    assert done.deadline is None


def test_a_timed_out_execution_forgets_the_last_client_token() -> None:
    updated = rules.update(in_progress(at=T0, step=1), UpdateRequest(IP, client_token="t1"), T0 + 1)
    timed_out = rules.settle(updated, T0 + 2 * MIN)
    assert timed_out is not None
    assert not rules.replays(timed_out, UpdateRequest(IP, client_token="t1"))


@pytest.mark.parametrize("value", [0, 10_081, -2, 1.5, "5", True])
def test_step_timeouts_out_of_range_are_invalid(value: Any) -> None:
    with pytest.raises(InvalidRequest, match="stepTimeoutInMinutes"):
        wire.parse_step_timeout(value, allow_clear=True)


def test_minus_one_clears_only_on_update() -> None:
    assert wire.parse_step_timeout(-1, allow_clear=True) == -1
    with pytest.raises(InvalidRequest):
        wire.parse_start_next({"stepTimeoutInMinutes": -1}, None)
    assert wire.parse_step_timeout(1, allow_clear=False) == 1
    assert wire.parse_step_timeout(10_080, allow_clear=False) == 10_080


def test_approximate_seconds_before_timed_out_rounds_up() -> None:
    started = in_progress(at=T0, step=1)
    body = wire.device_execution(started, T0 + 500, None)
    assert body["approximateSecondsBeforeTimedOut"] == 60
    assert "approximateSecondsBeforeTimedOut" not in wire.device_execution(queued(), T0, None)


# --------------------------------------------------------------------------- ordering and rollout
def test_devices_take_in_progress_first_then_queue_order() -> None:
    first = queued(a_job(job_id="a"), at=T0 + 3000)
    second = queued(a_job(job_id="b"), at=T0 + 1000)
    third = queued(a_job(job_id="c"), at=T0 + 2000)
    running = rules.start(queued(a_job(job_id="z"), at=T0 + 9000), StartNextRequest(), T0 + 9500)

    assert rules.next_pending([first, second, third], T0 + 10_000) == second
    assert rules.next_pending([first, second, running, third], T0 + 10_000) == running
    ordered = sorted([first, second, running, third], key=lambda e: e.order_key)
    assert [e.job_id for e in ordered] == ["z", "b", "c", "a"]


def test_not_rolled_out_and_timed_out_executions_are_not_taken() -> None:
    later = queued(a_job(job_id="later"), at=T0 + MIN)
    stale = in_progress(a_job(job_id="stale"), at=T0, step=1)
    assert rules.next_pending([later, stale], T0 + MIN - 1) == stale
    assert rules.next_pending([later, stale], T0 + MIN) == later
    assert rules.next_pending([later], T0 + MIN - 1) is None


def test_the_visibility_bound_admits_exactly_what_is_rolled_out() -> None:
    bound = rules.visible_until_key(T0)
    assert queued(at=T0).order_key <= bound
    assert queued(at=T0 + 1).order_key > bound
    assert in_progress(at=T0 + 10 * MIN).order_key <= bound  # in progress: always visible
    assert queued(a_job(job_id="z" * 64), at=T0).order_key <= bound


def test_rollout_releases_maximum_per_minute_per_minute_in_target_order() -> None:
    job = a_job(maximum_per_minute=2)
    targets = [Target(Thing(f"d{i}", f"t{i}"), True) for i in range(5)]
    planned = rules.plan(job, targets)

    assert [(e.queued_at - T0) // MIN for e in planned] == [0, 0, 1, 1, 2]
    assert [e.visible(T0 + MIN - 1) for e in planned] == [True, True, False, False, False]
    assert [e.visible(T0 + MIN) for e in planned] == [True, True, True, True, False]
    assert all(e.status is Q and e.version == 1 and e.execution_number == 1 for e in planned)


def test_without_a_rollout_rate_everything_is_queued_at_once() -> None:
    planned = rules.plan(a_job(), [Target(Thing(f"d{i}", f"t{i}"), True) for i in range(1500)])
    assert {e.queued_at for e in planned} == {T0}


def test_targets_are_deduplicated_and_remember_every_route() -> None:
    a, b, c = Thing("1", "a"), Thing("2", "b"), Thing("3", "c")
    targets = rules.merge_targets([a, a], {"g1": [b, a], "g2": [c, b]})

    assert [(t.thing.name, t.direct, sorted(t.groups)) for t in targets] == [
        ("a", True, ["g1"]),
        ("b", False, ["g1", "g2"]),
        ("c", False, ["g2"]),
    ]


# --------------------------------------------------------------------------- abort criteria
def counts(**by_status: int) -> dict[ExecutionStatus, int]:
    return {ExecutionStatus[k]: v for k, v in by_status.items()}


@pytest.mark.parametrize(
    ("failure_type", "threshold", "minimum", "tally", "fires"),
    [
        ("FAILED", "50", 2, counts(FAILED=1), False),  # too few executed
        ("FAILED", "50", 2, counts(FAILED=1, SUCCEEDED=1), True),  # exactly at the threshold
        ("FAILED", "50.01", 2, counts(FAILED=1, SUCCEEDED=1), False),
        ("FAILED", "50", 2, counts(FAILED=1, SUCCEEDED=2), False),
        ("FAILED", "50", 3, counts(FAILED=1, REJECTED=2), False),  # REJECTED is not FAILED
        ("REJECTED", "50", 2, counts(FAILED=1, REJECTED=1), True),
        ("TIMED_OUT", "100", 1, counts(TIMED_OUT=1), True),
        ("ALL", "75", 4, counts(FAILED=1, REJECTED=1, TIMED_OUT=1, SUCCEEDED=1), True),
        ("ALL", "75.01", 4, counts(FAILED=1, REJECTED=1, TIMED_OUT=1, SUCCEEDED=1), False),
        ("ALL", "10", 1, counts(CANCELED=5, REMOVED=5, QUEUED=9, IN_PROGRESS=9), False),  # none executed
        ("FAILED", "33.33", 3, counts(FAILED=1, SUCCEEDED=2), True),  # 33.333…% ≥ 33.33%
        ("FAILED", "33.34", 3, counts(FAILED=1, SUCCEEDED=2), False),
    ],
)
def test_abort_criteria_fire_at_the_threshold_of_executed_things(
    failure_type: str, threshold: str, minimum: int, tally: dict[ExecutionStatus, int], fires: bool
) -> None:
    criterion = AbortCriterion(FailureType(failure_type), Decimal(threshold), minimum)
    assert criterion.fires(tally) is fires
    job = replace(a_job(), spec=replace(a_job().spec, abort_criteria=(criterion,)), counts=tally)
    assert (rules.abort_reason(job) is not None) is fires


def test_a_job_that_no_longer_runs_is_never_aborted() -> None:
    criterion = AbortCriterion(FailureType.FAILED, Decimal(1), 1)
    job = replace(a_job(), spec=replace(a_job().spec, abort_criteria=(criterion,)), counts=counts(FAILED=5))
    assert rules.abort_reason(job) is not None
    assert rules.abort_reason(replace(job, status=JobStatus.CANCELED)) is None


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"failure_type": "CANCELED"}, "failureType"),
        ({"action": "STOP"}, "action"),
        ({"threshold_percentage": 0}, "greater than 0"),
        ({"threshold_percentage": 100.01}, "at most 100"),
        ({"threshold_percentage": 10.999}, "two digits"),
        ({"threshold_percentage": True}, "number"),
        ({"threshold_percentage": "50"}, "number"),
        ({"threshold_percentage": float("nan")}, "greater than 0"),
        ({"min_executed_things": 0}, "at least 1"),
    ],
)
def test_invalid_abort_criteria_are_refused(fields: dict[str, Any], match: str) -> None:
    base: dict[str, Any] = {
        "failure_type": "FAILED",
        "action": "CANCEL",
        "threshold_percentage": 50,
        "min_executed_things": 1,
    }
    with pytest.raises(InvalidRequest, match=match):
        rules.abort_criterion(**(base | fields))


def test_abort_thresholds_keep_two_decimals() -> None:
    criterion = rules.abort_criterion(
        failure_type="ALL", action="CANCEL", threshold_percentage=10.99, min_executed_things=3
    )
    assert criterion.threshold_percentage == Decimal("10.99")
    assert rules.abort_criterion(
        failure_type="ALL", action="CANCEL", threshold_percentage=100, min_executed_things=1
    ).threshold_percentage == Decimal(100)


# --------------------------------------------------------------------------- job lifecycle
def test_a_snapshot_job_is_complete_once_nothing_is_pending() -> None:
    job = a_job()
    assert replace(job, counts=counts(SUCCEEDED=3, FAILED=1)).complete
    assert not replace(job, counts=counts(SUCCEEDED=3, QUEUED=1)).complete
    assert not replace(job, counts=counts(SUCCEEDED=3, IN_PROGRESS=1)).complete
    assert not replace(job, counts=counts(SUCCEEDED=3), creating=True).complete


def test_a_continuous_job_never_completes() -> None:
    job = a_job(target_selection="CONTINUOUS", thing_names=None, group_names=["g"])
    assert not replace(job, counts=counts(SUCCEEDED=3)).complete


def test_cancel_takes_queued_always_and_in_progress_only_with_force() -> None:
    canceled = rules.cancel(queued(), T0 + 1, force=False)
    assert canceled is not None and canceled.status is ExecutionStatus.CANCELED and canceled.version == 2
    assert rules.cancel(in_progress(), T0, force=False) is None
    forced = rules.cancel(in_progress(), T0, force=True)
    assert forced is not None and forced.status is ExecutionStatus.CANCELED
    for status in TERMINAL:
        assert rules.cancel(with_status(status), T0, force=True) is None


# --------------------------------------------------------------------------- continuous jobs and groups
def test_leaving_the_only_group_removes_a_queued_execution() -> None:
    execution = queued(direct=False, groups=frozenset({"g"}))
    removed = rules.left(execution, "g", T0 + 1)
    assert removed is not None and removed.status is ExecutionStatus.REMOVED
    assert removed.version == 2 and removed.groups == frozenset()


def test_leaving_one_of_several_routes_keeps_the_execution() -> None:
    by_two = queued(direct=False, groups=frozenset({"g", "h"}))
    kept = rules.left(by_two, "g", T0)
    assert kept is not None and kept.status is Q and kept.groups == {"h"} and kept.version == 1
    direct = queued(direct=True, groups=frozenset({"g"}))
    assert rules.left(direct, "g", T0).status is Q  # type: ignore[union-attr]


def test_leaving_does_not_stop_a_running_execution() -> None:
    running = replace(in_progress(), direct=False, groups=frozenset({"g"}))
    kept = rules.left(running, "g", T0)
    assert kept is not None and kept.status is IP


def test_leaving_a_group_that_was_not_a_route_changes_nothing() -> None:
    assert rules.left(queued(direct=False, groups=frozenset({"g"})), "other", T0) is None


def test_joining_again_after_removal_queues_a_new_execution() -> None:
    removed = rules.left(queued(direct=False, groups=frozenset({"g"})), "g", T0)
    assert removed is not None
    again = rules.joined(removed, "g", T0 + MIN)
    assert again is not None
    assert (again.status, again.version, again.execution_number, again.queued_at) == (Q, 1, 2, T0 + MIN)
    assert again.revision > removed.revision  # stored writes stay conditional on a growing revision


def test_joining_only_records_the_route_of_a_live_or_finished_execution() -> None:
    done = with_status(ExecutionStatus.SUCCEEDED)
    known = rules.joined(done, "g", T0)
    assert known is not None and known.status is ExecutionStatus.SUCCEEDED and "g" in known.groups
    assert known.version == done.version  # bookkeeping is not an update the device sees
    assert rules.joined(known, "g", T0) is None


def test_a_deleted_things_pending_executions_are_removed() -> None:
    for status in (Q, IP):
        removed = rules.forget(with_status(status), T0)
        assert removed is not None and removed.status is ExecutionStatus.REMOVED
    for status in TERMINAL:
        assert rules.forget(with_status(status), T0) is None


# --------------------------------------------------------------------------- idempotent retries
def test_a_retry_of_the_update_that_produced_the_state_replays() -> None:
    request = wire.parse_update(
        {"status": "SUCCEEDED", "statusDetails": {"v": "2"}, "expectedVersion": 1}, "req-3"
    )
    done = rules.update(queued(), request, T0)

    assert rules.replays(done, request)
    assert rules.replays(done, replace(request, include_state=True, include_document=True))
    assert not rules.replays(done, replace(request, client_token="req-4"))
    assert not rules.replays(done, replace(request, client_token=None))
    assert not rules.replays(done, replace(request, status=ExecutionStatus.FAILED))
    assert not rules.replays(done, replace(request, status_details={"v": "3"}))
    assert not rules.replays(done, replace(request, expected_version=2))


def test_updates_without_a_client_token_never_replay() -> None:
    request = UpdateRequest(IP)
    assert not rules.replays(rules.update(queued(), request, T0), request)


# --------------------------------------------------------------------------- job validation
def test_a_job_id_defaults_to_a_uuid() -> None:
    spec = rules.job_spec(job_id=None, document={}, thing_names=["t"])
    assert len(spec.job_id) == 36 and rules.JOB_ID_PATTERN.match(spec.job_id)


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"job_id": ""}, InvalidRequest, "jobId"),
        ({"job_id": "a" * 65}, InvalidRequest, "jobId"),
        ({"job_id": "has space"}, InvalidRequest, "jobId"),
        ({"job_id": "$next"}, InvalidRequest, "jobId"),
        ({"description": "d" * 2029}, InvalidRequest, "description"),
        ({"document": [1, 2]}, InvalidRequest, "document"),
        ({"document": None}, InvalidRequest, "document"),
        ({"document": {"x": "y" * 32_800}}, PayloadTooLarge, "32768"),
        ({"thing_names": [], "group_names": []}, InvalidRequest, "at least one"),
        ({"thing_names": [f"t{i}" for i in range(101)]}, InvalidRequest, "at most 100"),
        ({"group_names": [f"g{i}" for i in range(26)]}, InvalidRequest, "at most 25"),
        ({"thing_names": ["bad name"]}, InvalidRequest, "thingNames"),
        ({"group_names": ["bad/name"]}, InvalidRequest, "thingGroupNames"),
        ({"target_selection": "ONCE"}, InvalidRequest, "targetSelection"),
        ({"maximum_per_minute": 0}, InvalidRequest, "maximumPerMinute"),
        ({"maximum_per_minute": 1001}, InvalidRequest, "maximumPerMinute"),
        ({"in_progress_timeout_minutes": 0}, InvalidRequest, "inProgressTimeoutInMinutes"),
        ({"in_progress_timeout_minutes": 10_081}, InvalidRequest, "inProgressTimeoutInMinutes"),
        ({"abort_criteria": []}, InvalidRequest, "at least one"),
    ],
)
def test_invalid_jobs_are_refused(fields: dict[str, Any], error: type[Exception], match: str) -> None:
    base: dict[str, Any] = {"job_id": "job-1", "document": {"v": 1}, "thing_names": ["t"]}
    with pytest.raises(error, match=match):
        rules.job_spec(**(base | fields))


def test_the_limits_themselves_are_accepted() -> None:
    document = {"x": "y" * (32_768 - len('{"x":""}'))}
    spec = rules.job_spec(
        job_id="a" * 64,
        document=document,
        thing_names=[f"t{i}" for i in range(100)] + ["t0"],
        group_names=[f"g{i}" for i in range(25)],
        description="d" * 2028,
        maximum_per_minute=1000,
        in_progress_timeout_minutes=10_080,
    )
    assert len(spec.thing_names) == 100  # duplicates collapse before counting


def test_one_criterion_per_failure_type() -> None:
    criterion = AbortCriterion(FailureType.FAILED, Decimal(10), 1)
    with pytest.raises(InvalidRequest, match="one criterion per failureType"):
        rules.job_spec(job_id="j", document={}, thing_names=["t"], abort_criteria=[criterion, criterion])


@pytest.mark.parametrize(
    ("reason_code", "comment"),
    [("lower", None), ("", None), ("A" * 129, None), (None, ""), (None, "c" * 2029), (None, "bell\x07")],
)
def test_invalid_cancel_reasons_are_refused(reason_code: str | None, comment: str | None) -> None:
    with pytest.raises(InvalidRequest):
        rules.cancel_reason(reason_code, comment)


def test_device_request_fields_are_typed() -> None:
    for body in (
        {"status": "IN_PROGRESS", "expectedVersion": 0},
        {"status": "IN_PROGRESS", "expectedVersion": "1"},
        {"status": "IN_PROGRESS", "expectedVersion": True},
        {"status": "IN_PROGRESS", "expectedVersion": 1.5},
        {"status": "IN_PROGRESS", "executionNumber": -1},
        {"status": "IN_PROGRESS", "includeJobExecutionState": "yes"},
        {"status": "IN_PROGRESS", "includeJobDocument": 1},
    ):
        with pytest.raises(InvalidRequest):
            wire.parse_update(body, None)
    with pytest.raises(InvalidRequest):
        wire.parse_describe({"includeJobDocument": "false"}, None)
    assert wire.parse_describe({}, None).include_document is True
    update = wire.parse_update({"status": "FAILED"}, None)
    assert (update.include_state, update.include_document) == (False, False)


def test_integers_written_with_a_zero_fraction_are_integers() -> None:
    # JSON (and JSON Schema's "integer") makes 3.0 the integer 3; 3.5 is no integer
    update = wire.parse_update(
        {
            "status": "IN_PROGRESS",
            "expectedVersion": 2.0,
            "executionNumber": 3.0,
            "stepTimeoutInMinutes": 5.0,
        },
        None,
    )
    assert (update.expected_version, update.execution_number, update.step_timeout) == (2, 3, 5)
    assert type(update.expected_version) is int
    assert wire.parse_update({"status": "IN_PROGRESS", "stepTimeoutInMinutes": -1.0}, None).step_timeout == -1
    assert wire.parse_describe({"executionNumber": 4.0}, None).execution_number == 4
    with pytest.raises(InvalidRequest):
        wire.parse_start_next({"stepTimeoutInMinutes": 5.5}, None)


def test_job_ids_in_paths() -> None:
    assert rules.check_job_id("$next", allow_next=True) == "$next"
    with pytest.raises(InvalidRequest):
        rules.check_job_id("$next")
    with pytest.raises(InvalidRequest):
        rules.check_job_id(None)


# --------------------------------------------------------------------------- answers
def test_answers_have_aws_shapes_in_epoch_seconds() -> None:
    started = rules.start(
        queued(at=T0 + 1500), StartNextRequest(status_details={"step": "download"}), T0 + 2500
    )

    assert wire.summary(queued(at=T0 + 1500)) == {
        "jobId": "job-1",
        "queuedAt": (T0 + 1500) // 1000,
        "lastUpdatedAt": (T0 + 1500) // 1000,
        "versionNumber": 1,
        "executionNumber": 1,
    }
    assert wire.summary(started)["startedAt"] == (T0 + 2500) // 1000
    assert wire.execution_state(started) == {
        "status": "IN_PROGRESS",
        "statusDetails": {"step": "download"},
        "versionNumber": 2,
    }
    body = wire.device_execution(started, T0 + 3000, {"operation": "install"})
    assert body == {
        "jobId": "job-1",
        "thingName": "thermostat-001",
        "status": "IN_PROGRESS",
        "statusDetails": {"step": "download"},
        "queuedAt": (T0 + 1500) // 1000,
        "startedAt": (T0 + 2500) // 1000,
        "lastUpdatedAt": (T0 + 2500) // 1000,
        "versionNumber": 2,
        "executionNumber": 1,
        "jobDocument": {"operation": "install"},  # an object, as in the MQTT API ThingDatas mirrors
    }


def test_start_next_applies_status_details_only_when_given() -> None:
    started = rules.start(queued(), StartNextRequest(), T0)
    assert started.status_details == {}
    with pytest.raises(InvalidStateTransition):
        rules.start(started, StartNextRequest(), T0)
