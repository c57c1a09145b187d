"""``python -m fleetgate_sim.soak``: many ThingsBoard devices long-polling for minutes while the operator
changes shared attributes and sends RPCs; proves that nothing is lost or delivered twice and that a
long-poll wakes within a second of a change.

Without ``--url`` it starts a local stack itself (``fleetgate_local``, so ``local`` must be on
``PYTHONPATH``) with enough warm workers for every device's two long-polls, and writes the stack's log to
a file. Exits 0 when the simulation passed (``fleetgate_sim.cli``) and the p99 long-poll wake-up was
under ``--max-wake-p99-ms``; 1 otherwise; 2 when it could not start."""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
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
    p.set_defaults(devices=50, duration=300, thingdatas=0, warmup=30)
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
        self.path = path
        self.lines = 0
        self.tracebacks = 0
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8")

    def __call__(self, line: str) -> None:
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            self.lines += 1
            self.tracebacks += "Traceback" in line

    def close(self) -> None:
        with self._lock:
            self._file.close()


def stack_options(signature: inspect.Signature, max_workers: int) -> dict[str, Any]:
    """The worker options this version of ``LocalStack`` takes (older ones have none)."""
    return {"max_workers": max_workers} if "max_workers" in signature.parameters else {}


def local_stack(
    max_workers: int, log: Callable[[str], None]
) -> tuple[AbstractContextManager[Any], dict[str, Any]]:
    from fleetgate_local.stack import LocalStack  # noqa: PLC0415 (only when the soak starts its own stack)

    options = stack_options(inspect.signature(LocalStack), max_workers)
    return LocalStack(ROOT, log=log, **options), options


def main(argv: Sequence[str] | None = None) -> int:
    args = soak_parser().parse_args(argv)
    max_workers = args.max_workers or 2 * (args.devices + args.thingdatas) + 30
    log: FileLog | None = None
    context: AbstractContextManager[Any] = nullcontext()
    options: dict[str, Any] = {}
    if not args.url:
        path = args.stack_log or Path(tempfile.mkstemp(prefix="fleetgate-soak-", suffix=".log")[1])
        log = FileLog(path)
        context, options = local_stack(max_workers, log)
    try:
        with context as stack:
            if stack is not None:
                args.url = stack.url
                args.name, args.password = stack.admin_name, stack.admin_password
                workers = f"max_workers={options['max_workers']}" if options else "its default worker limits"
                print(f"soak: local stack on {stack.url} with {workers}; its log: {log.path if log else '-'}")
                if not options:
                    print(
                        "soak: this LocalStack takes no max_workers: each function keeps at most its default"
                        " number of warm workers, and long-polls beyond it wait in the gateway",
                        file=sys.stderr,
                    )
            settings = settings_from(args)
            settings = replace(settings, mix=SOAK_MIX)
            print(
                f"soak: {settings.thingsboard} ThingsBoard devices x {settings.duration:g} s,"
                f" operator {settings.rate:g} actions/s",
                flush=True,
            )
            started = time.monotonic()
            summary = Simulation(settings).run()
            wall = time.monotonic() - started
    except Exception as error:  # noqa: BLE001 (a soak that cannot start says why)
        print(f"fleetgate-soak: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    finally:
        if log is not None:
            log.close()
    p99 = summary["long_poll_wake"]["p99_ms"]
    wake_ok = p99 is not None and p99 < args.max_wake_p99_ms
    summary["soak"] = {
        "stack": "local" if log else args.url,
        "stack_options": options,
        "stack_log": str(log.path) if log else None,
        "stack_log_lines": log.lines if log else None,
        "stack_tracebacks": log.tracebacks if log else None,
        "wall_s": round(wall, 1),
        "wake_p99_limit_ms": args.max_wake_p99_ms,
        "wake_ok": wake_ok,
    }
    status = finish(summary, args.json)
    if log:
        print(f"soak: stack log {log.path}: {log.lines:,} lines, {log.tracebacks} tracebacks")
    print(
        f"soak: long-poll wake p99 {p99} ms (limit {args.max_wake_p99_ms:g} ms):"
        f" {'OK' if wake_ok else 'FAILED'}; wall time {wall:.0f} s"
    )
    return status or (0 if wake_ok else 1)


if __name__ == "__main__":
    raise SystemExit(main())
