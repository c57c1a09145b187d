"""Warm worker processes per function, like Lambda execution environments.

A ``FunctionPool`` holds one function's workers (``fleetgate_local.worker`` processes): a request
takes the most recently used idle worker, or starts a new one, so each concurrent request has a process
of its own. A worker that times out or dies is discarded (the next request starts a fresh one, as
Lambda does after a timeout). Handler output is forwarded line by line, prefixed with the function's
logical id.

One ``WorkerManager`` is shared by every pool and plays Lambda's account-level part:

- a cap on live workers across all functions (``max_workers``, Lambda's concurrency limit); a function
  with ``ReservedConcurrentExecutions`` has that as its own cap as well;
- at the cap, a request with no idle worker of its own function evicts the least recently used idle
  worker of another function; with no idle worker anywhere it waits, at most its function's timeout,
  then is throttled (``Throttled``: API Gateway's 503);
- a reaper thread stops workers idle for longer than ``idle_seconds``, as Lambda recycles idle
  execution environments, so that processes and memory return to idle after a burst;
- a few workers at most run their init at once (``max_starting``, the machine's cores): a burst of
  cold starts then takes its turn on the CPU instead of every init running past Lambda's 10 s init
  limit together; a request waits for its turn as long as API Gateway waits for its integration
  (``start_wait_seconds``, 30 s; past half its function's timeout it takes a worker of its function
  that frees up meanwhile), or is throttled;
- ``close`` stops every worker at once: all are signalled, then awaited together.

A worker counts against the cap from the moment it is started until its process has exited, so the
number of live worker processes never exceeds ``max_workers``.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from fleetgate_local.channel import Channel, ChannelClosed
from fleetgate_local.template import FunctionSpec

DEFAULT_MAX_WORKERS = 128  # 100 long-polls and more; ~6.4 GB at the measured ~50 MiB a worker
DEFAULT_IDLE_SECONDS = 30.0
INIT_TIMEOUT_S = 10.0  # Lambda's limit for a function's init phase
START_WAIT_SECONDS = 30.0  # API Gateway (HTTP API) waits this long for its integration
_TURN_POLL_S = 0.05  # how often a request waiting to start a worker looks for a freed one
_STOP_GRACE_S = 2.0  # after SIGTERM, before SIGKILL
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]

Log = Callable[[str], None]


class InvocationError(Exception):
    """The invocation failed (handler error, timeout, crash, failed init): API Gateway's 500."""


class Throttled(InvocationError):
    """No worker could be had within the function's timeout: Lambda throttles, API Gateway says 503."""


@dataclass(frozen=True)
class WorkerConfig:
    """Everything needed to start a worker of one function."""

    logical_id: str
    handler: str
    code_uri: Path
    timeout_s: int
    function_arn: str
    environment: dict[str, str]  # the complete process environment


def execution_environment(
    spec: FunctionSpec, variables: dict[str, str], *, function_name: str, region: str, endpoint_url: str
) -> dict[str, str]:
    """A worker's environment: the template's variables, Lambda's runtime variables, moto as AWS."""
    environment = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    environment.update(variables)
    environment.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_uri),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            "PYTHONPATH": os.pathsep.join(
                [str(spec.code_uri), *map(str, spec.layer_dirs), str(_PACKAGE_ROOT)]
            ),
        }
    )
    return environment


class _Worker:
    """One worker process and its channel. Starting it does not wait for its init: ``wait_ready`` does."""

    def __init__(self, config: WorkerConfig, log: Log) -> None:
        self._config = config
        self._log = log
        self._closing = threading.Lock()
        self.alive = True
        self.last_used = time.monotonic()
        ours, theirs = socket.socketpair()
        stream = datetime.now(UTC).strftime("%Y/%m/%d") + "/[$LATEST]" + secrets.token_hex(16)
        try:
            self.process = self._start(theirs, stream)
        except OSError as error:
            ours.close()
            raise InvocationError(f"cannot start {config.logical_id}: {error}") from None
        finally:
            theirs.close()
        self.pid = self.process.pid
        self._channel = Channel(ours)
        assert self.process.stdout is not None
        self._output = threading.Thread(target=self._forward, args=(self.process.stdout,), daemon=True)
        self._output.start()

    def _start(self, theirs: socket.socket, log_stream: str) -> subprocess.Popen[bytes]:
        config = self._config
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleetgate_local.worker",
                *("--fd", str(theirs.fileno()), "--handler", config.handler),
                *("--function-arn", config.function_arn),
            ],
            env=config.environment | {"AWS_LAMBDA_LOG_STREAM_NAME": log_stream},
            cwd=config.code_uri,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(theirs.fileno(),),
            start_new_session=True,  # Ctrl-C reaches the gateway only; it stops the workers
        )

    def wait_ready(self) -> None:
        """Wait for the handler's import (Lambda's init phase); on failure the worker is closed."""
        logical_id = self._config.logical_id
        try:
            ready = self._channel.receive(timeout=INIT_TIMEOUT_S)
        except (TimeoutError, ChannelClosed) as error:
            self.close()
            raise InvocationError(f"init of {logical_id} failed: {type(error).__name__}") from None
        if not ready.get("ready"):
            self.close()
            raise InvocationError(f"init of {logical_id} failed: {ready.get('error')}")

    def invoke(self, event: dict[str, Any]) -> Any:
        timeout = self._config.timeout_s
        deadline_ms = int((time.time() + timeout) * 1000)
        try:
            self._channel.send({"event": event, "requestId": str(uuid.uuid4()), "deadlineMs": deadline_ms})
            reply = self._channel.receive(timeout=timeout)
        except TimeoutError:
            self.close()
            raise InvocationError(f"Task timed out after {timeout:.2f} seconds") from None
        except ChannelClosed:
            self.close()
            raise InvocationError("the function's process exited") from None
        if "error" in reply:
            error = reply["error"]
            raise InvocationError(f"{error.get('errorType')}: {error.get('errorMessage')}")
        return reply["result"]

    def terminate(self) -> None:
        """Signal the process to stop and close the channel, without waiting (idempotent)."""
        if not self._closing.acquire(blocking=False):
            return
        self.alive = False
        self._channel.close()  # a thread waiting for this worker's reply wakes up now
        self.process.terminate()  # a busy handler does not get to finish, as in Lambda

    def wait(self, deadline: float) -> None:
        """Wait until the process has exited, killing it at ``deadline``; then flush its output."""
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._output.join(timeout=max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        """Stop the process; returns once it has exited."""
        self.terminate()
        self.wait(time.monotonic() + _STOP_GRACE_S)

    def _forward(self, output: IO[bytes]) -> None:
        with output:
            for line in output:
                self._log(f"[{self._config.logical_id}] {line.decode('utf-8', 'replace').rstrip()}")


def _stop_together(workers: list[_Worker]) -> None:
    """Stop many workers in about the time of one: signal all, then wait for all."""
    for worker in workers:
        worker.terminate()
    deadline = time.monotonic() + _STOP_GRACE_S
    for worker in workers:
        worker.wait(deadline)


class WorkerManager:
    """What every pool shares: the cap on live workers, eviction, the idle reaper, and stopping."""

    def __init__(
        self,
        max_workers: int = DEFAULT_MAX_WORKERS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        max_starting: int | None = None,
        start_wait_seconds: float = START_WAIT_SECONDS,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        if not idle_seconds > 0:
            raise ValueError("idle_seconds must be positive")
        self.max_workers = max_workers
        self.idle_seconds = idle_seconds
        self.max_starting = max_starting or max(2, os.cpu_count() or 2)
        self.start_wait_seconds = start_wait_seconds  # longest wait for a turn to start a worker
        self.start_gate = _Turns(self.max_starting)  # workers in their init phase, first come first served
        self.changed = threading.Condition()  # guards every pool's lists and the count below
        self.closed = False
        self._pools: list[FunctionPool] = []
        self._live = 0  # workers started and not yet exited, all functions together
        self._reaper = threading.Thread(target=self._reap_forever, name="worker-reaper", daemon=True)
        self._reaper.start()

    def pool(self, config: WorkerConfig, log: Log, reserved_concurrency: int | None = None) -> FunctionPool:
        """A pool for one function, under this manager's cap."""
        pool = FunctionPool(config, log, self, reserved_concurrency)
        with self.changed:
            self._pools.append(pool)
        return pool

    def pids(self) -> list[int]:
        """Process ids of every function's workers, busy, idle or starting."""
        with self.changed:
            return [worker.pid for pool in self._pools for worker in pool.workers]

    def live(self) -> int:
        """Workers counted against the cap (started, and not yet exited)."""
        with self.changed:
            return self._live

    def close(self) -> None:
        """Stop every worker at once, busy ones included (their requests get a 500), and the reaper."""
        with self.changed:
            self.closed = True
            workers = [worker for pool in self._pools for worker in pool.workers]
            for pool in self._pools:
                pool.idle.clear()
                pool.workers.clear()
            self.changed.notify_all()
        _stop_together(workers)
        with self.changed:
            self._live -= len(workers)
        if self._reaper is not threading.current_thread():
            self._reaper.join(timeout=_STOP_GRACE_S)

    # ------------------------------------------------------------------ used by FunctionPool

    def take_slot(self, requester: FunctionPool) -> _Worker | bool:
        """With ``changed`` held: room for one more worker of ``requester``.

        ``True``: a free slot, now counted. A ``_Worker``: the least recently used idle worker of
        another function, removed from its pool, whose slot passes to the requester once the caller
        has stopped it. ``False``: the cap is reached and nothing is idle; wait.
        """
        if self._live < self.max_workers:
            self._live += 1
            return True
        victim: _Worker | None = None
        victim_pool: FunctionPool | None = None
        for pool in self._pools:
            if pool is requester or not pool.idle or pool.waiting:
                continue  # a pool with waiting requests is about to use its idle workers
            oldest = pool.idle[0]
            if victim is None or oldest.last_used < victim.last_used:
                victim, victim_pool = oldest, pool
        if victim is None or victim_pool is None:
            return False
        victim_pool.idle.remove(victim)
        victim_pool.workers.discard(victim)
        return victim

    def free_slot(self) -> None:
        """A worker's process has exited: its slot is free."""
        with self.changed:
            self._live -= 1
            self.changed.notify_all()

    # ------------------------------------------------------------------ the reaper

    def _reap_forever(self) -> None:
        while True:
            with self.changed:
                if self.closed:
                    return
                expired, next_expiry = self._take_expired(time.monotonic())
                if not expired:
                    timeout = None if next_expiry is None else max(0.0, next_expiry - time.monotonic())
                    self.changed.wait(timeout)  # a worker going idle or a stop wakes it early
                    continue
            _stop_together(expired)
            with self.changed:
                self._live -= len(expired)
                self.changed.notify_all()

    def _take_expired(self, now: float) -> tuple[list[_Worker], float | None]:
        """With ``changed`` held: remove the workers idle past the timeout; also the next expiry."""
        expired: list[_Worker] = []
        next_expiry: float | None = None
        for pool in self._pools:
            while pool.idle and pool.idle[0].last_used + self.idle_seconds <= now:
                worker = pool.idle.pop(0)  # idle lists run from least to most recently used
                pool.workers.discard(worker)
                expired.append(worker)
            if pool.idle:
                expiry = pool.idle[0].last_used + self.idle_seconds
                next_expiry = expiry if next_expiry is None else min(next_expiry, expiry)
        return expired, next_expiry


class FunctionPool:
    """The warm workers of one function; made by ``WorkerManager.pool``."""

    def __init__(
        self, config: WorkerConfig, log: Log, manager: WorkerManager, reserved_concurrency: int | None = None
    ) -> None:
        self.config = config
        self.reserved_concurrency = reserved_concurrency
        self._log = log
        self._manager = manager
        # All guarded by manager.changed:
        self.idle: list[_Worker] = []  # least recently used first
        self.workers: set[_Worker] = set()  # idle, busy and starting
        self.waiting = 0  # requests waiting for a worker
        self._starting = 0  # slots taken for workers whose process is not started yet

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler on ``event`` in a free worker; raises ``InvocationError`` (``Throttled``)."""
        worker = self._acquire()
        try:
            return worker.invoke(event)
        finally:
            self._release(worker)

    def pids(self) -> list[int]:
        """Process ids of this function's workers."""
        with self._manager.changed:
            return [worker.pid for worker in self.workers]

    def _acquire(self) -> _Worker:
        manager = self._manager
        timeout = self.config.timeout_s
        deadline = time.monotonic() + timeout
        with manager.changed:
            self.waiting += 1
            try:
                while True:
                    if manager.closed:
                        raise InvocationError("the local stack is stopping")
                    if self.idle:
                        return self.idle.pop()  # the most recently used: the warmest caches
                    slot = self._room() and manager.take_slot(self)
                    if slot:
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.reserved_concurrency == 0:
                        raise Throttled(f"no worker of {self.config.logical_id} freed up within {timeout} s")
                    manager.changed.wait(remaining)
            finally:
                self.waiting -= 1
            self._starting += 1
        if isinstance(slot, _Worker):
            slot.close()  # the evicted worker's process is gone before its successor starts
        # The turn is the laptop's CPU, not Lambda's concurrency: it is waited for as long as API
        # Gateway waits for its integration, not only the function's timeout.
        deadline = max(deadline, time.monotonic() + manager.start_wait_seconds)
        patient_until = time.monotonic() + timeout / 2
        ticket = manager.start_gate.join()
        while not manager.start_gate.take(ticket, timeout=_TURN_POLL_S):
            # Waiting for a turn to start a worker. Past half the function's timeout, a worker of this
            # function that has freed up serves the request rather than a cold start: a burst of 50
            # on a laptop's two cores would otherwise queue 50 inits, the last far past the timeout.
            # (Before that, each request keeps its own cold start, as in Lambda, so N concurrent
            # requests leave N warm workers.)
            with manager.changed:
                patient = time.monotonic() < patient_until
                warm = self.idle.pop() if self.idle and not patient else None
                if warm is not None or time.monotonic() >= deadline or manager.closed:
                    self._starting -= 1
            if warm is not None:
                manager.start_gate.leave(ticket)
                manager.free_slot()
                return warm
            if time.monotonic() >= deadline or manager.closed:
                manager.start_gate.leave(ticket)
                manager.free_slot()
                waited = max(timeout, manager.start_wait_seconds)
                raise Throttled(f"no worker of {self.config.logical_id} could start within {waited:g} s")
        try:
            return self._start_worker()
        finally:
            manager.start_gate.give_back()

    def _room(self) -> bool:
        """Below the function's reserved concurrency, if it has one."""
        cap = self.reserved_concurrency
        return cap is None or len(self.workers) + self._starting < cap

    def _start_worker(self) -> _Worker:
        manager = self._manager
        try:
            worker = _Worker(self.config, self._log)
        except BaseException:
            with manager.changed:
                self._starting -= 1
            manager.free_slot()
            raise
        with manager.changed:
            self._starting -= 1
            stopping = manager.closed
            if not stopping:
                self.workers.add(worker)  # from now on close() stops it, even during its init
        if stopping:
            worker.close()
            manager.free_slot()
            raise InvocationError("the local stack is stopping")
        try:
            worker.wait_ready()
        except InvocationError:
            self._discard(worker)
            raise
        return worker

    def _release(self, worker: _Worker) -> None:
        manager = self._manager
        with manager.changed:
            if worker.alive and not manager.closed:
                worker.last_used = time.monotonic()
                self.idle.append(worker)
                manager.changed.notify_all()
                return
        self._discard(worker)

    def _discard(self, worker: _Worker) -> None:
        """A worker that failed or was stopped: wait for its process, then free its slot."""
        manager = self._manager
        with manager.changed:
            ours = worker in self.workers  # if not, close() or the reaper took it and frees its slot
            self.workers.discard(worker)
        if ours:
            worker.close()
            manager.free_slot()


class _Turns:
    """A semaphore whose waiters take their turns in the order they came (``threading.Semaphore``
    promises no order), so a request that gives up waiting never lets a later one jump the queue."""

    def __init__(self, slots: int) -> None:
        self._slots = slots
        self._running = 0
        self._queue: list[object] = []
        self._changed = threading.Condition()

    def join(self) -> object:
        """A place in the queue."""
        ticket = object()
        with self._changed:
            self._queue.append(ticket)
        return ticket

    def take(self, ticket: object, timeout: float) -> bool:
        """The turn, once ``ticket`` is first and a slot is free (``False`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (self._queue[0] is ticket and self._running < self._slots):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            self._queue.pop(0)
            self._running += 1
            self._changed.notify_all()
            return True

    def leave(self, ticket: object) -> None:
        """Give up a place in the queue."""
        with self._changed:
            self._queue.remove(ticket)
            self._changed.notify_all()

    def give_back(self) -> None:
        """The turn is over."""
        with self._changed:
            self._running -= 1
            self._changed.notify_all()
