"""``python -m fleetgate_sim.soak``: many ThingsBoard devices long-polling for minutes while the operator
changes shared attributes and sends RPCs; proves that nothing is lost or delivered twice and that a
long-poll wakes within a second of a change.

Without ``--url`` it starts a local stack itself, in a process of its own (``fleetgate_local``, so
``local`` must be on ``PYTHONPATH``), with enough warm workers for every device's two long-polls, and
writes the stack's log to a file. Exits 0 when the simulation passed (``fleetgate_sim.cli``) and the
p99 long-poll wake-up was under ``--max-wake-p99-ms``; 1 otherwise; 2 when it could not start."""

from __future__ import annotations

import argparse
import inspect
import multiprocessing
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fleetgate_sim.cli import finish, parser, settings_from
from fleetgate_sim.operator_api import TB_ATTRIBUTES, TB_RPC_ONEWAY, TB_RPC_PERSISTENT, TB_RPC_TWOWAY
from fleetgate_sim.simulation import Simulation

ROOT = Path(__file__).resolve().parents[2]
SOAK_MIX = ((TB_ATTRIBUTES, 4), (TB_RPC_ONEWAY, 2), (TB_RPC_PERSISTENT, 2), (TB_RPC_TWOWAY, 2))


def soak_parser() -> argparse.ArgumentParser:
    p = parser("fleetgate-soak")
    p.description = (__doc__ or "").split("\n\n")[0]
    p.set_defaults(devices=50, duration=300, thingdatas=0, warmup=30, ramp=1.0, telemetry_interval=30)
    p.add_argument(
        "--max-wake-p99-ms", type=float, default=1000, help="the long-poll wake-up the soak allows"
    )
    p.add_argument(
        "--max-workers",
        type=int,
        default=None,
        help="warm workers for the local stack (default 2 x devices + 30: two long-polls a device, and room)",
    )
    p.add_argument(
        "--stack-log", type=Path, default=None, help="where the local stack logs (default: a temp file)"
    )
    return p


class FileLog:
    """The local stack's log lines, to a file (one line per request would drown the progress line)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8")

    def __call__(self, line: str) -> None:
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def log_figures(path: Path) -> tuple[int, int]:
    """(lines, tracebacks) in the stack's log."""
    lines = tracebacks = 0
    with path.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            lines += 1
            tracebacks += "Traceback (most recent call last)" in line
    return lines, tracebacks


def stack_options(signature: inspect.Signature, max_workers: int) -> dict[str, Any]:
    """The worker options this version of ``LocalStack`` takes (older ones have none)."""
    return {"max_workers": max_workers} if "max_workers" in signature.parameters else {}


def _serve(max_workers: int, log_path: str, connection: Connection) -> None:
    """In the child process: run the local stack until the parent says stop (or goes away)."""
    from fleetgate_local.stack import LocalStack  # noqa: PLC0415 (only where the soak runs its own stack)

    log = FileLog(Path(log_path))
    options = stack_options(inspect.signature(LocalStack), max_workers)
    try:
        with LocalStack(ROOT, log=log, **options) as stack:
            connection.send(
                {
                    "url": stack.url,
                    "name": stack.admin_name,
                    "password": stack.admin_password,
                    "options": options,
                }
            )
            with suppress(EOFError, OSError):
                connection.recv()
    except Exception as error:  # noqa: BLE001 (the parent reports it)
        with suppress(OSError):
            connection.send({"error": f"{type(error).__name__}: {error}"})
    finally:
        log.close()


class StackProcess:
    """A local stack in a process of its own: moto, the gateway and the simulated devices would
    otherwise share one interpreter lock, and the simulator's threads would slow the stack down."""

    def __init__(self, max_workers: int, log_path: Path, start_timeout_s: float = 180) -> None:
        self.max_workers = max_workers
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.info: dict[str, Any] = {}
        context = multiprocessing.get_context("spawn")
        self._connection, theirs = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(max_workers, str(log_path), theirs), name="fleetgate-local", daemon=True
        )

    def __enter__(self) -> StackProcess:
        self._process.start()
        if not self._connection.poll(self.start_timeout_s):
            self.stop()
            raise TimeoutError(f"the local stack did not start within {self.start_timeout_s:g} s")
        self.info = self._connection.recv()
        if "error" in self.info:
            self.stop()
            raise RuntimeError(f"the local stack did not start: {self.info['error']}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        with suppress(OSError):
            self._connection.send("stop")
        self._process.join(timeout=60)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    args = soak_parser().parse_args(argv)
    if args.rate is None:
        args.rate = max(0.2, args.devices / 10)  # an action per device every 10 s
    max_workers = args.max_workers or 2 * (args.devices + args.thingdatas) + 30
    log_path: Path | None = None
    context: AbstractContextManager[Any] = nullcontext()
    if not args.url:
        log_path = args.stack_log or Path(tempfile.mkstemp(prefix="fleetgate-soak-", suffix=".log")[1])
        context = StackProcess(max_workers, log_path)
    options: dict[str, Any] = {}
    try:
        with context as stack:
            if stack is not None:
                args.url, args.name, args.password = (
                    stack.info["url"],
                    stack.info["name"],
                    stack.info["password"],
                )
                options = stack.info["options"]
                workers = f"max_workers={options['max_workers']}" if options else "its default worker limits"
                print(f"soak: local stack on {args.url} with {workers}; its log: {log_path}", flush=True)
                if not options:
                    print(
                        "soak: this LocalStack takes no max_workers: each function keeps at most its default"
                        " number of warm workers, and long-polls beyond it wait in the gateway",
                        file=sys.stderr,
                    )
            settings = replace(settings_from(args), mix=SOAK_MIX)
            print(
                f"soak: {settings.thingsboard} ThingsBoard devices x {settings.duration:g} s after a"
                f" {settings.warmup:g} s warm-up, operator {settings.rate:g} actions/s",
                flush=True,
            )
            started = time.monotonic()
            summary = Simulation(settings).run()
            wall = time.monotonic() - started
    except Exception as error:  # noqa: BLE001 (a soak that cannot start says why)
        print(f"fleetgate-soak: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    p99 = summary["long_poll_wake"]["p99_ms"]
    wake_ok = p99 is not None and p99 < args.max_wake_p99_ms
    lines, tracebacks = log_figures(log_path) if log_path else (None, None)
    summary["soak"] = {
        "stack": "local" if log_path else args.url,
        "stack_options": options,
        "stack_log": str(log_path) if log_path else None,
        "stack_log_lines": lines,
        "stack_tracebacks": tracebacks,
        "wall_s": round(wall, 1),
        "wake_p99_limit_ms": args.max_wake_p99_ms,
        "wake_ok": wake_ok,
    }
    status = finish(summary, args.json)
    if log_path:
        print(f"soak: stack log {log_path}: {lines:,} lines, {tracebacks} tracebacks")
    print(
        f"soak: long-poll wake p99 {p99} ms (limit {args.max_wake_p99_ms:g} ms):"
        f" {'OK' if wake_ok else 'FAILED'}; wall time {wall:.0f} s"
    )
    return status or (0 if wake_ok else 1)


if __name__ == "__main__":
    raise SystemExit(main())
