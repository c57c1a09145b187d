"""The simulator's pure parts (``tools/fleetgate_sim``): percentiles, request accounting, the delivery
ledger that tells delivered, lost, duplicated and misrouted changes apart, operation names of the SDK's
requests, the summary's verdict, and the soak's choice of local-stack options."""

from __future__ import annotations

import inspect
import io
import math
import random
import threading
import time

import pytest
import requests

from fleetgate_sim.ledger import Ledger, between_polls
from fleetgate_sim.operator_api import Device, OperatorLoop
from fleetgate_sim.progress import Progress, clock_text, progress_line
from fleetgate_sim.report import failures, render
from fleetgate_sim.simulation import Settings, Simulation, ThreadDeaths
from fleetgate_sim.soak import stack_options
from fleetgate_sim.stats import RequestStats, latency_summary, percentile, status_class
from fleetgate_sim.transport import sdk_operation


# --------------------------------------------------------------------------- percentiles
@pytest.mark.parametrize(("p", "expected"), [(50, 5), (90, 9), (99, 10), (100, 10), (10, 1), (11, 2)])
def test_percentiles_are_nearest_rank(p: float, expected: float) -> None:
    # Given ten values out of order
    values = [7, 3, 10, 1, 5, 9, 2, 8, 4, 6]

    # When / Then: the smallest value with at least p % of the values at or below it
    assert percentile(values, p) == expected


def test_a_percentile_of_one_value_is_that_value_and_of_none_is_none() -> None:
    assert percentile([0.25], 50) == 0.25
    assert percentile([0.25], 99) == 0.25
    assert percentile([], 50) is None


@pytest.mark.parametrize("p", [0, -1, 100.5])
def test_a_percentile_outside_0_to_100_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile([1, 2], p)


def test_latency_summary_is_in_milliseconds() -> None:
    # Given latencies in seconds
    seconds = [0.0101, 0.02, 0.5]

    # When summarised
    summary = latency_summary(seconds)

    # Then they are milliseconds rounded to 0.1
    assert summary == {"p50_ms": 20.0, "p90_ms": 500.0, "p99_ms": 500.0, "max_ms": 500.0}
    assert latency_summary([]) == {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}


# --------------------------------------------------------------------------- requests
def test_status_classes() -> None:
    assert [status_class(s) for s in (200, 204, 408, 503, None)] == ["2xx", "2xx", "4xx", "5xx", "connection"]


def test_request_stats_count_errors_but_not_an_expected_408() -> None:
    # Given a long-poll that ended empty, one that failed, a refused write and a lost connection
    stats = RequestStats()
    stats.record("tb GET rpc", 408, 25.0, expected=(408,))
    stats.record("tb GET rpc", 500, 0.1, expected=(408,))
    stats.record("manage PUT x", 400, 0.05)
    stats.record("manage PUT x", None, 0.2)
    stats.record("manage PUT x", 200, 0.01)

    # When summarised
    summary = stats.summary()

    # Then the empty long-poll is no error, the others are, and each is in its class
    assert stats.requests == 5
    assert summary["tb GET rpc"]["errors"] == 1
    assert summary["tb GET rpc"]["statuses"] == {"408": 1, "500": 1}
    assert summary["manage PUT x"]["errors"] == 2
    assert summary["manage PUT x"]["statuses"] == {"400": 1, "connection": 1, "200": 1}
    assert stats.classes() == {"empty": 1, "5xx": 1, "4xx": 1, "connection": 1, "2xx": 1}
    assert stats.errors_at_least(500) == 1
    assert stats.connection_failures() == 1
    assert list(summary) == ["manage PUT x", "tb GET rpc"]


def test_sdk_requests_are_named_without_their_token_or_rpc_id() -> None:
    base = "http://127.0.0.1:3000/api/v1/SECRET-token"

    assert sdk_operation("GET", f"{base}/attributes/updates?timeout=30000", "SECRET-token") == (
        "tb GET attributes/updates"
    )
    assert sdk_operation("POST", f"{base}/rpc/17", "SECRET-token") == "tb POST rpc/{id}"
    assert sdk_operation("POST", f"{base}/rpc", "SECRET-token") == "tb POST rpc"
    assert sdk_operation("POST", "https://x.example/prod/api/v1/SECRET-token/telemetry", "SECRET-token") == (
        "tb POST telemetry"
    )


# --------------------------------------------------------------------------- deliveries
def test_a_change_received_once_is_delivered_with_its_latency_from_the_acknowledgement() -> None:
    # Given a change acknowledged at t=10.0 and received at t=10.25
    ledger = Ledger()
    ledger.expect("tb.attributes", "dev-1", 1, sent_at=9.9)
    ledger.acked(1, 10.0)
    ledger.received("tb.attributes", "dev-1", 1, 10.25)

    # When summarised
    row = ledger.summary()["tb.attributes"]

    # Then it is delivered, nothing else, in 250 ms
    assert (row["sent"], row["delivered"], row["lost"], row["duplicated"], row["misrouted"]) == (
        1,
        1,
        0,
        0,
        0,
    )
    assert row["p50_ms"] == 250.0
    assert row["within_1s"] == 1
    assert ledger.pending() == 0


def test_an_acknowledged_change_never_received_is_lost_and_owed() -> None:
    ledger = Ledger()
    ledger.expect("tb.rpc.oneway", "dev-1", 1, sent_at=1.0)
    ledger.acked(1, 1.1)

    assert ledger.outstanding("tb.rpc.oneway", "dev-1")
    assert not ledger.outstanding("tb.rpc.oneway", "dev-2")
    assert ledger.pending() == 1
    row = ledger.summary()["tb.rpc.oneway"]
    assert (row["sent"], row["delivered"], row["lost"]) == (1, 0, 1)
    assert row["p50_ms"] is None


def test_a_failed_write_is_owed_to_nobody_and_not_lost() -> None:
    # Given a write that was refused (or got no answer)
    ledger = Ledger()
    ledger.expect("tb.attributes", "dev-1", 1, sent_at=1.0)
    ledger.failed(1)

    # Then nothing is owed and nothing is lost
    assert not ledger.outstanding("tb.attributes", "dev-1")
    row = ledger.summary()["tb.attributes"]
    assert (row["sent"], row["failed_writes"], row["lost"], row["delivered"]) == (0, 1, 0, 0)


def test_a_failed_write_that_arrives_anyway_is_told_apart_from_deliveries() -> None:
    # Given an acknowledged change delivered, and a write answered 504 that still reached the device
    ledger = Ledger()
    ledger.expect("tb.rpc.twoway", "dev-1", 1, sent_at=1.0, synchronous=True)
    ledger.received("tb.rpc.twoway", "dev-1", 1, 1.1)
    ledger.acked(1, 1.2)
    ledger.expect("tb.rpc.twoway", "dev-1", 2, sent_at=2.0, synchronous=True)
    ledger.received("tb.rpc.twoway", "dev-1", 2, 2.1)
    ledger.failed(2)

    row = ledger.summary()["tb.rpc.twoway"]

    # Then sent == delivered + lost, and the other is counted on its own
    assert (row["sent"], row["delivered"], row["lost"], row["arrived_anyway"]) == (1, 1, 0, 1)
    assert ledger.delivered() == 1


def test_receiving_a_change_twice_is_one_delivery_and_one_duplicate() -> None:
    ledger = Ledger()
    ledger.expect("tb.rpc.persistent", "dev-1", 7, sent_at=1.0)
    ledger.acked(7, 1.1)
    ledger.received("tb.rpc.persistent", "dev-1", 7, 1.2)
    ledger.received("tb.rpc.persistent", "dev-1", 7, 1.5)

    row = ledger.summary()["tb.rpc.persistent"]

    assert (row["delivered"], row["duplicated"], row["lost"]) == (1, 1, 0)
    assert row["p50_ms"] == pytest.approx(100.0)  # the first reception counts


def test_a_change_received_by_another_device_is_misrouted_and_still_lost() -> None:
    ledger = Ledger()
    ledger.expect("tb.attributes", "dev-1", 3, sent_at=1.0)
    ledger.acked(3, 1.1)
    ledger.received("tb.attributes", "dev-2", 3, 1.2)

    row = ledger.summary()["tb.attributes"]

    assert (row["misrouted"], row["delivered"], row["lost"]) == (1, 0, 1)


def test_a_sequence_number_never_sent_or_on_another_channel_is_unexpected() -> None:
    ledger = Ledger()
    ledger.expect("tb.attributes", "dev-1", 1, sent_at=1.0)
    ledger.acked(1, 1.1)
    ledger.received("tb.attributes", "dev-1", 99, 1.2)
    ledger.received("tb.rpc.oneway", "dev-1", 1, 1.3)

    summary = ledger.summary()

    assert summary["tb.attributes"]["unexpected"] == 1
    assert summary["tb.rpc.oneway"]["unexpected"] == 1
    assert summary["tb.attributes"]["lost"] == 1


def test_a_reception_before_the_acknowledgement_counts_as_zero_and_early() -> None:
    # Given the device woke before the operator's write was answered
    ledger = Ledger()
    ledger.expect("tb.attributes", "dev-1", 1, sent_at=1.0)
    ledger.received("tb.attributes", "dev-1", 1, 1.05)
    ledger.acked(1, 1.1)

    row = ledger.summary()["tb.attributes"]

    assert (row["early"], row["p50_ms"], row["delivered"]) == (1, 0.0, 1)


def test_a_synchronous_call_is_timed_from_sending() -> None:
    # Given a two-way RPC whose answer (the acknowledgement) comes after the device got it
    ledger = Ledger()
    ledger.expect("tb.rpc.twoway", "dev-1", 1, sent_at=1.0, synchronous=True)
    ledger.received("tb.rpc.twoway", "dev-1", 1, 1.3)
    ledger.acked(1, 1.6)

    row = ledger.summary()["tb.rpc.twoway"]

    assert (row["p50_ms"], row["early"]) == (300.0, 0)


def test_warm_up_changes_count_for_loss_but_not_for_latency() -> None:
    ledger = Ledger()
    ledger.expect("tb.attributes", "dev-1", 1, sent_at=0.0, measured=False)
    ledger.acked(1, 0.1)
    ledger.received("tb.attributes", "dev-1", 1, 5.0)  # a slow first delivery: a worker starting
    ledger.expect("tb.attributes", "dev-1", 2, sent_at=10.0, measured=False)
    ledger.acked(2, 10.1)
    ledger.expect("tb.attributes", "dev-1", 3, sent_at=20.0)
    ledger.acked(3, 20.1)
    ledger.received("tb.attributes", "dev-1", 3, 20.2)

    row = ledger.summary()["tb.attributes"]

    assert (row["delivered"], row["lost"]) == (2, 1)
    assert row["max_ms"] == pytest.approx(100.0)
    assert ledger.latencies(["tb.attributes"]) == [pytest.approx(0.1)]


@pytest.mark.parametrize(
    ("start", "end", "between"),
    [
        (10.2, 10.3, True),  # after the first poll's answer, before the next poll was sent
        (9.9, 10.05, False),  # overlaps the first poll
        (10.4, 10.6, False),  # overlaps the second poll
        (1.0, 2.0, False),  # before any poll ended: the first one was waiting
        (30.0, 31.0, False),  # the poll still waiting covers it
    ],
)
def test_a_write_between_two_polls_overlaps_none_of_them(start: float, end: float, between: bool) -> None:
    # Given a device that polled from 0 to 10.1, from 10.5 to 20 and is waiting since 20.2
    polls = [(0.0, 10.1), (10.5, 20.0), (20.2, math.inf)]

    assert between_polls(start, end, polls) is between


def test_a_sequence_number_is_used_once() -> None:
    ledger = Ledger()
    ledger.expect("tb.attributes", "dev-1", 1, sent_at=0.0)

    with pytest.raises(ValueError, match="already used"):
        ledger.expect("tb.rpc.oneway", "dev-1", 1, sent_at=0.0)


# --------------------------------------------------------------------------- the summary
def summary(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "url": "http://127.0.0.1:3000",
        "devices": {"thingsboard": 2, "thingdatas": 0},
        "duration_s": 10,
        "warmup_s": 0,
        "elapsed_s": 10.0,
        "settle_s": 0.4,
        "operator": {"rate": 1, "actions": 10, "skipped": 0, "achieved_rate": 1.0},
        "requests": 100,
        "status_classes": {"2xx": 100},
        "errors_5xx": 0,
        "connection_failures": 0,
        "lost": 0,
        "duplicated": 0,
        "misrouted": 0,
        "unexpected": 0,
        "operations": {"tb POST telemetry": {"count": 100, "errors": 0} | latency_summary([0.01])},
        "deliveries": {
            "tb.attributes": {
                "sent": 10,
                "delivered": 10,
                "lost": 0,
                "duplicated": 0,
                "misrouted": 0,
                "early": 0,
                "within_1s": 10,
            }
            | latency_summary([0.2])
        },
        "long_poll_wake": {"delivered": 10, "within_1s": 10} | latency_summary([0.2]),
        "sdk_threads": {"started": 4, "running": 4},
        "sdk_threads_died": [],
        "problems": [],
    }
    return base | overrides


def test_a_clean_run_passes_and_says_so() -> None:
    text = render(summary())

    assert failures(summary()) == []
    assert text.endswith("result: OK")
    assert "long-poll wake (ThingsBoard SDK callbacks, 10 deliveries): p50 200.0 ms" in text
    assert "tb POST telemetry" in text


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("errors_5xx", 3, "3 answers >= 500"),
        ("connection_failures", 1, "1 requests without an answer"),
        ("lost", 2, "2 lost deliveries"),
        ("duplicated", 1, "1 duplicated deliveries"),
        ("misrouted", 1, "1 deliveries to the wrong device"),
        (
            "sdk_threads_died",
            [{"device": "d", "channel": "rpc", "error": "HTTPError: 500"}],
            "1 SDK subscription",
        ),
        ("problems", ["d persistent rpc seq 4: ('EXPIRED', None)"], "1 wrong or missing replies"),
    ],
)
def test_each_kind_of_failure_fails_the_run(field: str, value: object, reason: str) -> None:
    failed = summary(**{field: value})

    assert any(r.startswith(reason) for r in failures(failed))
    assert "result: FAILED: " in render(failed)


def test_the_progress_line_shows_time_requests_and_deliveries() -> None:
    stats = RequestStats()
    stats.record("x", 200, 0.1)
    stats.record("x", 503, 0.1)
    ledger = Ledger()
    ledger.expect("tb.attributes", "d", 1, sent_at=0.0)
    ledger.acked(1, 0.1)

    line = progress_line("running", 75, 300, stats, ledger, extra="SDK threads 4/4")

    assert line.startswith("[######------------------] 01:15/05:00 running ")
    assert "req 2 (2xx 1 4xx 0 5xx 1 408-empty 0 conn 0)" in line
    assert "delivered 0/1" in line
    assert line.endswith("SDK threads 4/4")
    assert clock_text(3599) == "59:59"


def test_progress_off_a_terminal_writes_whole_lines() -> None:
    stream = io.StringIO()  # not a tty
    progress = Progress(RequestStats(), Ledger(), 10, stream=stream)

    progress.stop()  # draws the last line

    assert stream.getvalue().endswith("delivered 0/0\n")
    assert "\r" not in stream.getvalue()


# --------------------------------------------------------------------------- SDK threads that die
def test_a_dying_sdk_thread_is_recorded_without_the_token_and_ignored_once_stopping() -> None:
    # Given two watched threads that raise with the device's token in the message, one while stopping
    deaths = ThreadDeaths()
    deaths.install()
    try:
        threads = []
        for name, stopping in (("dev-1", False), ("dev-2", True)):
            thread = threading.Thread(target=_raise_http_error, args=(f"SECRET-{name}",))
            deaths.watch(thread, name, "rpc", f"SECRET-{name}", lambda stopping=stopping: stopping)
            threads.append(thread)
        for thread in threads:
            thread.start()
            thread.join()
    finally:
        threading.excepthook = threading.__excepthook__

    # Then only the first is a death, and its message names no token
    assert [{k: v for k, v in d.items() if k != "after_s"} for d in deaths.deaths] == [
        {"device": "dev-1", "channel": "rpc", "error": "HTTPError: 500 for url: http://h/api/v1/{token}/rpc"}
    ]
    assert list(deaths.died_at) == [("dev-1", "rpc")]


class FakeOperator:
    def rpc_statuses(self, seqs: list[int]) -> dict[int, str]:
        return {seq: "DELIVERED" for seq in seqs if seq in (2, 3)}  # 1 unknown, 4 not an RPC


def test_lost_changes_are_told_apart_by_whether_their_sdk_thread_had_died() -> None:
    # Given dev-1's RPC thread died at t=10, and three RPCs and an attribute change never arrived
    simulation = Simulation(Settings(url="http://x", name="n", password="p", thingsboard=0, thingdatas=0))
    simulation.deaths.died_at[("dev-1", "rpc")] = 10.0
    for seq, channel, device, sent in (
        (1, "tb.rpc.oneway", "dev-1", 12.0),  # after the death
        (2, "tb.rpc.persistent", "dev-1", 8.0),  # before it: the poll that died may have carried it
        (3, "tb.rpc.oneway", "dev-2", 12.0),  # dev-2's thread is running
        (4, "tb.attributes", "dev-1", 12.0),  # dev-1's attributes thread is running
    ):
        simulation.ledger.expect(channel, device, seq, sent_at=sent)
        simulation.ledger.acked(seq, sent + 0.1)

    # When the losses are explained
    causes = simulation._lost_causes(FakeOperator())  # type: ignore[arg-type]

    # Then each has its cause, and the RPCs their server status
    assert causes == {
        "tb.rpc.oneway": {
            "after_the_sdk_thread_died": 1,
            "subscription_running": 1,
            "server_status": {"subscription_running: DELIVERED": 1},
        },
        "tb.rpc.persistent": {
            "before_the_sdk_thread_died": 1,
            "server_status": {"before_the_sdk_thread_died: DELIVERED": 1},
        },
        "tb.attributes": {"subscription_running": 1},
    }


def _raise_http_error(token: str) -> None:
    raise requests.HTTPError(f"500 for url: http://h/api/v1/{token}/rpc")


# --------------------------------------------------------------------------- the soak's local stack
def test_the_soak_passes_max_workers_only_to_a_local_stack_that_takes_it() -> None:
    def newer(root: object, *, max_workers: int = 10, idle_seconds: float = 60) -> None: ...
    def older(root: object, *, port: int = 0) -> None: ...

    assert stack_options(inspect.signature(newer), 130) == {"max_workers": 130}
    assert stack_options(inspect.signature(older), 130) == {}


# --------------------------------------------------------------------------- the operator's choices
class HeldExecutor:
    """Takes the operator's actions without running them (as when every worker thread is busy)."""

    def __init__(self, loop: OperatorLoop) -> None:
        self.loop = loop
        self.submitted: list[tuple[object, ...]] = []

    def submit(self, function: object, *args: object) -> None:
        self.submitted.append(args)
        self.loop._slots.release()

    def shutdown(self, wait: bool = True) -> None: ...


def test_a_device_gets_no_second_state_change_while_one_is_on_its_way() -> None:
    # Given one device, an operator that only changes shared attributes, fast, and actions not yet run
    device = Device("id-1", "dev-1", "token", "thingsboard")
    ledger = Ledger()
    loop = OperatorLoop(
        None,  # type: ignore[arg-type]
        ledger,
        [device],
        rate=500,
        threads=4,
        mix=[("tb.attributes", 1)],
        job_prefix="job",
        rng=random.Random(1),
    )
    held = HeldExecutor(loop)
    loop._executor = held  # type: ignore[assignment]

    # When it schedules for a while
    loop.start()
    time.sleep(0.3)
    loop.stop()

    # Then the first change is expected at once, and every later pick found the device busy
    assert len(held.submitted) == 1
    assert ledger.outstanding("tb.attributes", "dev-1")
    assert loop.skipped > 10


def test_queued_items_go_to_a_device_regardless() -> None:
    device = Device("id-1", "dev-1", "token", "thingsboard")
    loop = OperatorLoop(
        None,  # type: ignore[arg-type]
        Ledger(),
        [device],
        rate=500,
        threads=4,
        mix=[("tb.rpc.oneway", 1)],
        job_prefix="job",
        rng=random.Random(1),
    )
    held = HeldExecutor(loop)
    loop._executor = held  # type: ignore[assignment]

    loop.start()
    time.sleep(0.3)
    loop.stop()

    assert len(held.submitted) > 10
    assert loop.skipped == 0
