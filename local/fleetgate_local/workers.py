"""Warm worker processes per function, like Lambda execution environments.

A ``FunctionPool`` starts a worker (``fleetgate_local.worker``) on first use and keeps it warm; a
request that finds every worker busy starts another, up to ``MAX_WORKERS_PER_FUNCTION``, then waits
for one to free up. A worker that times out or dies is discarded (the next request starts a fresh
one, as Lambda does after a timeout). Handler output is forwarded line by line, prefixed with the
function's logical id.
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

MAX_WORKERS_PER_FUNCTION = 10
INIT_TIMEOUT_S = 10.0  # Lambda's limit for a function's init phase
_STOP_GRACE_S = 2.0
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]

Log = Callable[[str], None]


class InvocationError(Exception):
    """The invocation failed (handler error, timeout, crash, failed init): API Gateway's 500."""


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
    """One worker process and its channel."""

    def __init__(self, config: WorkerConfig, log: Log) -> None:
        self._config = config
        self._log = log
        self._closing = threading.Lock()
        self.alive = True
        ours, theirs = socket.socketpair()
        stream = datetime.now(UTC).strftime("%Y/%m/%d") + "/[$LATEST]" + secrets.token_hex(16)
        try:
            self.process = self._start(theirs, stream)
        except OSError as error:
            ours.close()
            raise InvocationError(f"cannot start {config.logical_id}: {error}") from None
        finally:
            theirs.close()
        self._channel = Channel(ours)
        assert self.process.stdout is not None
        self._output = threading.Thread(target=self._forward, args=(self.process.stdout,), daemon=True)
        self._output.start()
        try:
            ready = self._channel.receive(timeout=INIT_TIMEOUT_S)
        except (TimeoutError, ChannelClosed) as error:
            self.close()
            raise InvocationError(f"init of {config.logical_id} failed: {type(error).__name__}") from None
        if not ready.get("ready"):
            self.close()
            raise InvocationError(f"init of {config.logical_id} failed: {ready.get('error')}")

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

    def close(self) -> None:
        """Stop the process (idempotent); output it printed is flushed to the log first."""
        if not self._closing.acquire(blocking=False):
            return
        self.alive = False
        self._channel.close()
        self.process.terminate()  # a busy handler does not get to finish, as in Lambda
        try:
            self.process.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._output.join(timeout=_STOP_GRACE_S)

    def _forward(self, output: IO[bytes]) -> None:
        with output:
            for line in output:
                self._log(f"[{self._config.logical_id}] {line.decode('utf-8', 'replace').rstrip()}")


class FunctionPool:
    """The warm workers of one function."""

    def __init__(self, config: WorkerConfig, log: Log, max_workers: int = MAX_WORKERS_PER_FUNCTION) -> None:
        self.config = config
        self._log = log
        self._max_workers = max_workers
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._starting = 0
        self._closed = False
        self._changed = threading.Condition()

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler on ``event`` in a free worker; raises ``InvocationError``."""
        worker = self._acquire()
        try:
            return worker.invoke(event)
        finally:
            self._release(worker)

    def pids(self) -> list[int]:
        """Process ids of the running workers."""
        with self._changed:
            return [worker.process.pid for worker in self._workers]

    def close(self) -> None:
        """Stop every worker, busy ones included (their requests get a 500)."""
        with self._changed:
            self._closed = True
            workers = list(self._workers)
            self._idle.clear()
            self._changed.notify_all()
        for worker in workers:
            worker.close()

    def _acquire(self) -> _Worker:
        with self._changed:
            while True:
                if self._closed:
                    raise InvocationError("the local stack is stopping")
                if self._idle:
                    return self._idle.pop()  # the most recently used: the warmest caches
                if len(self._workers) + self._starting < self._max_workers:
                    self._starting += 1
                    break
                self._changed.wait()
        try:
            worker = _Worker(self.config, self._log)
        except BaseException:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
            raise
        with self._changed:
            self._starting -= 1
            if not self._closed:
                self._workers.add(worker)
                return worker
        worker.close()
        raise InvocationError("the local stack is stopping")

    def _release(self, worker: _Worker) -> None:
        with self._changed:
            if worker.alive and not self._closed:
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
            self._changed.notify()
        if not worker.alive or self._closed:
            worker.close()
