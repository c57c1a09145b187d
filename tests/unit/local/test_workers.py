"""The local stack's worker processes behave like Lambda's execution environments under load: idle ones
are reaped, live ones are capped across all functions (the least recently used idle one is evicted, or a
request waits, then is throttled), a reserved concurrency caps one function, and stopping is quick.

Real worker processes run tiny handlers written by the tests; no AWS, no HTTP.
"""

from __future__ import annotations

import itertools
import os
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fleetgate_local.__main__ import _parser
from fleetgate_local.workers import (
    DEFAULT_IDLE_SECONDS,
    DEFAULT_MAX_WORKERS,
    FunctionPool,
    InvocationError,
    Throttled,
    WorkerConfig,
    WorkerManager,
)

LOCAL_PACKAGE_ROOT = Path(__file__).resolve().parents[3] / "local"

HANDLER = """
    import os, time


    def handle(event, context):
        time.sleep(event.get("sleep", 0))
        return {"pid": os.getpid()}
    """


SLOW_INIT_HANDLER = """
    import os, time

    INIT = [time.time()]
    time.sleep(0.4)  # an import that takes a while, like boto3's
    INIT.append(time.time())


    def handle(event, context):
        return {"pid": os.getpid(), "init": INIT}
    """


STUBBORN_HANDLER = """
    import os, signal, time

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL stops this one


    def handle(event, context):
        time.sleep(event.get("sleep", 0))
        return {"pid": os.getpid()}
    """


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("function")
    (directory / "app.py").write_text(textwrap.dedent(HANDLER).lstrip())
    (directory / "slow_init.py").write_text(textwrap.dedent(SLOW_INIT_HANDLER).lstrip())
    (directory / "stubborn.py").write_text(textwrap.dedent(STUBBORN_HANDLER).lstrip())
    return directory


def config(code_dir: Path, name: str, timeout_s: int = 10, handler: str = "app.handle") -> WorkerConfig:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{code_dir}{os.pathsep}{LOCAL_PACKAGE_ROOT}",
    }
    return WorkerConfig(
        logical_id=name,
        handler=handler,
        code_uri=code_dir,
        timeout_s=timeout_s,
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        environment=environment,
    )


@pytest.fixture
def managers() -> Iterator[Callable[..., WorkerManager]]:
    """Make ``WorkerManager``s that are all closed after the test."""
    made: list[WorkerManager] = []

    def make(**kwargs: Any) -> WorkerManager:
        manager = WorkerManager(**kwargs)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()


def alive(pid: int) -> bool:
    """The process exists and is no zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def worker_processes() -> list[int]:
    """Live worker processes that are children of this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"fleetgate_local.worker" in command and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def pid_of(pool: FunctionPool, sleep: float = 0) -> int:
    pid: int = pool.invoke({"sleep": sleep})["pid"]
    return pid


def concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(calls)) as executor:
        return [future.result() for future in [executor.submit(call) for call in calls]]


# ---------------------------------------------------------------------- reaping


def test_idle_workers_are_reaped_after_the_idle_timeout(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given warm workers of one function (three requests at once: up to three workers)
    manager = managers(idle_seconds=1.0)
    pool = manager.pool(config(code_dir, "Fn"), log=lambda line: None)
    pids = set(concurrently([lambda: pid_of(pool, 0.5)] * 3))
    assert len(pids) >= 2
    assert set(pool.pids()) <= pids
    # When they stay idle past the timeout
    # Then the reaper stops them: the pool is empty, their processes are gone, their slots are free
    assert wait_until(lambda: not pool.pids(), timeout_s=5)
    assert wait_until(lambda: not any(alive(pid) for pid in pids), timeout_s=5)
    assert wait_until(lambda: manager.live() == 0, timeout_s=5)
    # And the next request simply starts a fresh worker
    assert pid_of(pool) not in pids


def test_a_worker_in_use_stays_warm_past_the_idle_timeout(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given an idle timeout of 1 s, and one request every 0.15 s for 2 s
    manager = managers(idle_seconds=1.0)
    pool = manager.pool(config(code_dir, "Fn"), log=lambda line: None)
    first = pid_of(pool)
    seen = {first}
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        time.sleep(0.15)
        seen.add(pid_of(pool))
    # Then every request found the same warm worker: only idleness gets a worker reaped
    assert seen == {first}
    assert alive(first)


def test_the_least_recently_used_idle_worker_is_reaped_first(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given two warm workers of which only one keeps being used
    manager = managers(idle_seconds=1.0)
    pool = manager.pool(config(code_dir, "Fn"), log=lambda line: None)
    a, b = concurrently([lambda: pid_of(pool, 1.0)] * 2)
    busy = pid_of(pool)  # the most recently used one serves a lone request
    spare = ({a, b} - {busy}).pop()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        assert pid_of(pool) == busy
        time.sleep(0.1)
    # Then the spare went when its idle time ran out, and the one in use stays
    assert wait_until(lambda: not alive(spare), timeout_s=5)
    assert pool.pids() == [busy]


# ---------------------------------------------------------------------- the global cap


def test_a_burst_never_has_more_workers_alive_than_the_cap(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given a cap of 3 workers over two functions
    manager = managers(max_workers=3, idle_seconds=30)
    pools = [manager.pool(config(code_dir, name), log=lambda line: None) for name in ("A", "B")]
    peak = 0
    sampling = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not sampling.is_set():
            peak = max(peak, len(worker_processes()))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    # When 12 requests arrive at once, alternating between the functions
    try:
        pids = concurrently([lambda pool=pools[i % 2]: pid_of(pool, 0.2) for i in range(12)])
    finally:
        sampling.set()
        sampler.join()
    # Then all were served (the others waited or evicted), with at most 3 worker processes alive
    assert len(pids) == 12
    assert 1 < peak <= 3
    assert manager.live() <= 3
    assert len(manager.pids()) <= 3


def test_at_the_cap_the_least_recently_used_idle_worker_of_another_function_is_evicted(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given a cap of 2, both slots held by idle workers of A; `newer` was used last
    manager = managers(max_workers=2, idle_seconds=30)
    a = manager.pool(config(code_dir, "A"), log=lambda line: None)
    b = manager.pool(config(code_dir, "B"), log=lambda line: None)
    first, second = concurrently([lambda: pid_of(a, 1.0)] * 2)
    newer = pid_of(a)
    older = ({first, second} - {newer}).pop()
    # When B is invoked
    b_pid = pid_of(b)
    # Then A's least recently used worker made room for B's; A keeps the other one warm
    assert not alive(older)  # stopped before B's worker started
    assert alive(newer)
    assert a.pids() == [newer]
    assert b.pids() == [b_pid]
    assert sorted(manager.pids()) == sorted([newer, b_pid])
    assert pid_of(a) == newer


def test_at_the_cap_with_nothing_idle_a_request_waits_for_a_worker_to_free_up(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given a cap of 1 and A's only worker busy for 1 s
    manager = managers(max_workers=1, idle_seconds=30)
    a = manager.pool(config(code_dir, "A"), log=lambda line: None)
    b = manager.pool(config(code_dir, "B", timeout_s=10), log=lambda line: None)
    pid_of(a)  # warm
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as executor:
        busy = executor.submit(pid_of, a, 1.0)
        assert wait_until(lambda: not a.idle, timeout_s=2)
        # When B is invoked meanwhile
        b_pid = pid_of(b)
        a_pid = busy.result()
    # Then B waited until A's worker was free, evicted it, and ran
    assert time.monotonic() - started >= 0.9
    assert not alive(a_pid)
    assert manager.pids() == [b_pid]


def test_at_the_cap_a_request_that_waits_beyond_its_timeout_is_throttled(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given a cap of 1, held by A for 3 s, and B whose timeout is 1 s
    manager = managers(max_workers=1, idle_seconds=30)
    a = manager.pool(config(code_dir, "A"), log=lambda line: None)
    b = manager.pool(config(code_dir, "B", timeout_s=1), log=lambda line: None)
    with ThreadPoolExecutor(max_workers=1) as executor:
        busy = executor.submit(pid_of, a, 3.0)
        assert wait_until(lambda: len(a.pids()) == 1 and not a.idle, timeout_s=5)
        # When B is invoked
        started = time.monotonic()
        with pytest.raises(Throttled):
            pid_of(b)
        waited = time.monotonic() - started
        # Then B was throttled after its timeout, without a worker ever being started for it
        assert 0.9 <= waited < 3
        assert b.pids() == []
        # And A's request was not disturbed
        assert alive(busy.result())


def test_throttled_is_an_invocation_error() -> None:
    # the gateway answers 503 for Throttled and 500 for every other InvocationError
    assert issubclass(Throttled, InvocationError)


# ---------------------------------------------------------------------- reserved concurrency


def test_a_reserved_concurrency_caps_its_function_alone(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given a function with a reserved concurrency of 1, next to one without
    manager = managers(max_workers=10, idle_seconds=30)
    reserved = manager.pool(config(code_dir, "Reserved"), log=lambda line: None, reserved_concurrency=1)
    free = manager.pool(config(code_dir, "Free"), log=lambda line: None)
    # When each gets three requests at once
    reserved_pids = concurrently([lambda: pid_of(reserved, 0.2)] * 3)
    free_pids = concurrently([lambda: pid_of(free, 0.2)] * 3)
    # Then the reserved one ran them one after another in its single worker, the other side by side
    assert len(set(reserved_pids)) == 1
    assert len(set(free_pids)) == 3


def test_a_reserved_concurrency_of_zero_throttles_at_once(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    manager = managers(max_workers=10, idle_seconds=30)
    pool = manager.pool(config(code_dir, "Off", timeout_s=10), log=lambda line: None, reserved_concurrency=0)
    started = time.monotonic()
    with pytest.raises(Throttled):
        pid_of(pool)
    assert time.monotonic() - started < 1
    assert pool.pids() == []


# ---------------------------------------------------------------------- cold starts


def test_cold_starts_take_turns_beyond_max_starting(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given at most one worker in its init phase at a time, and an init of 0.4 s
    manager = managers(max_starting=1)
    pool = manager.pool(config(code_dir, "SlowInit", handler="slow_init.handle"), log=lambda line: None)
    # When three requests at once need three new workers
    results = concurrently([lambda: pool.invoke({})] * 3)
    # Then each got a worker of its own, and their inits ran one after another, never together
    assert len({result["pid"] for result in results}) == 3
    inits = sorted(tuple(result["init"]) for result in results)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(inits))


def test_a_request_that_cannot_start_a_worker_within_its_timeout_is_throttled(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given one init at a time, a wait for a turn of at most 1 s, and five cold starts of 0.4 s queued
    manager = managers(max_starting=1, start_wait_seconds=1)
    slow = manager.pool(config(code_dir, "SlowInit", handler="slow_init.handle"), log=lambda line: None)
    hurried = manager.pool(config(code_dir, "Hurried", timeout_s=1), log=lambda line: None)
    with ThreadPoolExecutor(max_workers=5) as executor:
        starts = [executor.submit(slow.invoke, {}) for _ in range(5)]
        assert wait_until(lambda: len(slow.pids()) == 1, timeout_s=5)
        time.sleep(0.05)  # the other four reach the gate
        # When a function with a 1 s timeout needs a worker behind those 1.6 s of inits
        with pytest.raises(Throttled):
            pid_of(hurried)
        assert len({future.result()["pid"] for future in starts}) == 5
    # Then it was throttled, and once the inits are done it starts as usual
    assert pid_of(hurried) > 0


def test_past_half_its_timeout_a_request_waiting_for_a_turn_takes_a_freed_worker(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given one init at a time, inits of 0.4 s and a function with a 2 s timeout
    manager = managers(max_starting=1)
    pool = manager.pool(
        config(code_dir, "SlowBurst", timeout_s=2, handler="slow_init.handle"), log=lambda line: None
    )
    # When twelve requests arrive at once (twelve cold starts in turn would take 4.8 s)
    results = concurrently([lambda: pool.invoke({})] * 12)
    # Then none was throttled: those that waited past 1 s took a worker another request had freed
    assert len(results) == 12
    assert 2 <= len({result["pid"] for result in results}) < 12


# ---------------------------------------------------------------------- stopping


def test_close_stops_many_busy_and_idle_workers_at_once(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given 12 workers busy with 20 s requests and 4 idle ones, over two functions
    manager = managers(idle_seconds=30)
    slow = manager.pool(config(code_dir, "Slow", timeout_s=30), log=lambda line: None)
    idle = manager.pool(config(code_dir, "Idle"), log=lambda line: None)
    concurrently([lambda: pid_of(idle, 0.3)] * 4)
    outcomes: list[str] = []

    def long_request() -> None:
        try:
            pid_of(slow, 25)
            outcomes.append("answered")
        except InvocationError:
            outcomes.append("failed")

    requests = [threading.Thread(target=long_request) for _ in range(12)]
    for request in requests:
        request.start()
    assert wait_until(lambda: len(slow.pids()) == 12 and not slow.idle, timeout_s=20)
    pids = manager.pids()
    assert len(pids) == 16
    # When the manager closes
    started = time.monotonic()
    manager.close()
    elapsed = time.monotonic() - started
    # Then every worker is gone within a few seconds, and the cut-off requests failed
    assert elapsed < 5
    assert not [pid for pid in pids if alive(pid)]
    for request in requests:
        request.join(timeout=5)
    assert outcomes == ["failed"] * 12
    # And nothing starts any more
    with pytest.raises(InvocationError):
        pid_of(idle)
    assert manager.pids() == []


def test_close_waits_out_the_grace_of_all_workers_together(
    managers: Callable[..., WorkerManager], code_dir: Path
) -> None:
    # Given six busy workers that ignore SIGTERM, so each one needs the 2 s grace and then SIGKILL
    manager = managers(idle_seconds=30)
    pool = manager.pool(
        config(code_dir, "Stubborn", timeout_s=30, handler="stubborn.handle"), log=lambda line: None
    )
    outcomes: list[str] = []

    def long_request() -> None:
        try:
            pid_of(pool, 20)
            outcomes.append("answered")
        except InvocationError:
            outcomes.append("failed")

    busy = [threading.Thread(target=long_request) for _ in range(6)]
    for request in busy:
        request.start()
    assert wait_until(lambda: len(pool.pids()) == 6 and not pool.idle, timeout_s=20)
    time.sleep(0.3)  # the last one is past its init, in its handler
    pids = pool.pids()
    # When the manager closes
    started = time.monotonic()
    manager.close()
    elapsed = time.monotonic() - started
    # Then the six graces ran at the same time (one after another they would take 12 s)
    assert 1.5 <= elapsed < 5
    assert not [pid for pid in pids if alive(pid)]
    for request in busy:
        request.join(timeout=5)
    assert outcomes == ["failed"] * 6


@pytest.mark.parametrize(("max_workers", "idle_seconds"), [(0, 30), (1, 0), (1, -1)])
def test_nonsense_settings_are_refused(max_workers: int, idle_seconds: float) -> None:
    with pytest.raises(ValueError, match=r"max_workers|idle_seconds"):
        WorkerManager(max_workers=max_workers, idle_seconds=idle_seconds)


# ---------------------------------------------------------------------- the command line


def test_the_command_line_sets_the_cap_and_the_idle_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAX_WORKERS", raising=False)
    monkeypatch.delenv("IDLE_SECONDS", raising=False)
    defaults = _parser().parse_args([])
    assert (defaults.max_workers, defaults.idle_seconds) == (DEFAULT_MAX_WORKERS, DEFAULT_IDLE_SECONDS)
    given = _parser().parse_args(["--max-workers", "7", "--idle-seconds", "2.5"])
    assert (given.max_workers, given.idle_seconds) == (7, 2.5)
    monkeypatch.setenv("MAX_WORKERS", "9")
    monkeypatch.setenv("IDLE_SECONDS", "4")
    from_environment = _parser().parse_args([])
    assert (from_environment.max_workers, from_environment.idle_seconds) == (9, 4.0)


@pytest.mark.parametrize("argv", [["--max-workers", "0"], ["--max-workers", "x"], ["--idle-seconds", "-1"]])
def test_the_command_line_refuses_nonsense_settings(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(argv)
