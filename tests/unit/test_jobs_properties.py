"""Properties of the jobs engine over random sequences of device updates, service time-outs and
cancels: what holds whatever order things happen in (AWS IoT Jobs' lifecycle)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetgate.domain import jobs as rules
from fleetgate.domain.devices import Thing
from fleetgate.domain.jobs import DEVICE_STATUSES, TERMINAL, ExecutionStatus, Target, UpdateRequest
from fleetgate.errors import InvalidStateTransition, VersionMismatch

T0 = 1_795_341_600_000
THING = Thing("device-1", "thermostat-001")

updates = st.builds(
    UpdateRequest,
    status=st.sampled_from(sorted(DEVICE_STATUSES)),
    status_details=st.none()
    | st.dictionaries(st.sampled_from(["step", "pct"]), st.sampled_from(["1", "2"]), max_size=2),
    expected_version=st.none() | st.integers(min_value=0, max_value=6),
    step_timeout=st.none() | st.integers(min_value=1, max_value=3),
    client_token=st.none() | st.sampled_from(["a", "b"]),
)
events = st.lists(
    st.one_of(
        st.tuples(st.just("update"), updates),
        st.tuples(st.just("wait"), st.integers(min_value=0, max_value=5 * 60_000)),
        st.tuples(st.just("cancel"), st.booleans()),
    ),
    max_size=12,
)


def first_execution() -> rules.Execution:
    spec = rules.job_spec(
        job_id="j1",
        document={"v": 1},
        thing_names=[THING.name],
        group_names=[],
        in_progress_timeout_minutes=4,
    )
    job = rules.new_job(spec, T0)
    [execution] = rules.plan(job, [Target(THING, direct=True, groups=frozenset())])
    return execution


@settings(max_examples=300, deadline=None)
@given(events)
def test_versions_grow_by_one_per_accepted_update_and_terminal_states_never_change(
    sequence: list[tuple[str, object]],
) -> None:
    execution = first_execution()
    now = T0
    assert (execution.status, execution.version) == (ExecutionStatus.QUEUED, 1)
    for kind, arg in sequence:
        before = execution
        if kind == "wait":
            now += int(arg)  # type: ignore[call-overload]
            execution = rules.settle(execution, now) or execution
        elif kind == "cancel":
            execution = rules.cancel(execution, now, force=bool(arg)) or execution
        else:
            request = arg
            assert isinstance(request, UpdateRequest)
            try:
                execution = rules.update(execution, request, now)
            except InvalidStateTransition:
                assert before.status in TERMINAL
                continue
            except VersionMismatch:
                assert request.expected_version not in (None, before.version)
                continue
            assert before.status not in TERMINAL
            assert execution.version == before.version + 1
            assert execution.status is request.status
            if request.status_details is None:
                assert execution.status_details == before.status_details
        if before.status in TERMINAL:
            assert execution.status is before.status  # an ended execution stays ended
        if execution.status is not ExecutionStatus.QUEUED and before.started_at is not None:
            assert execution.started_at == before.started_at  # started once, never restarted


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=600), st.integers(min_value=1, max_value=600))
def test_an_execution_never_runs_past_its_in_progress_timer(step: int, job_timeout: int) -> None:
    spec = rules.job_spec(
        job_id="j1",
        document={},
        thing_names=[THING.name],
        group_names=[],
        in_progress_timeout_minutes=job_timeout,
    )
    [execution] = rules.plan(rules.new_job(spec, T0), [Target(THING, direct=True, groups=frozenset())])
    running = rules.update(execution, UpdateRequest(ExecutionStatus.IN_PROGRESS, step_timeout=step), T0)
    deadline = T0 + min(step, job_timeout) * 60_000

    just_before = rules.settle(running, deadline - 1)
    at_deadline = rules.settle(running, deadline)

    assert just_before is None or just_before.status is ExecutionStatus.IN_PROGRESS
    assert at_deadline is not None and at_deadline.status is ExecutionStatus.TIMED_OUT
    assert at_deadline.version == running.version + 1  # a service transition is a change too
