"""``python -m fleetgate_sim --url URL [options]``: simulated devices of both dialects and an operator
against a fleetgate stack. Exits 0 when the run had no answer >= 500, no request without an answer and
no lost, duplicated or misrouted delivery; 1 otherwise; 2 when the run could not start."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fleetgate_sim.report import render
from fleetgate_sim.simulation import Settings, Simulation

DEFAULT_NAME = "admin"
DEFAULT_PASSWORD = "Fleetgate-local-1"  # noqa: S105 (the local stack's documented operator)


def parser(prog: str = "fleetgate-sim") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--url", default=os.environ.get("FLEETGATE_URL"), help="the stack's URL (ApiUrl); env FLEETGATE_URL"
    )
    p.add_argument(
        "--name",
        default=os.environ.get("FLEETGATE_ADMIN_NAME", DEFAULT_NAME),
        help="operator name (env FLEETGATE_ADMIN_NAME; default: the local stack's admin)",
    )
    p.add_argument(
        "--password",
        default=os.environ.get("FLEETGATE_ADMIN_PASSWORD", DEFAULT_PASSWORD),
        help="operator password (env FLEETGATE_ADMIN_PASSWORD; default: the local stack's)",
    )
    p.add_argument("--devices", type=int, default=5, help="ThingsBoard devices (default 5)")
    p.add_argument(
        "--thingdatas", type=int, default=None, help="ThingDatas things (default: as many as --devices)"
    )
    p.add_argument("--duration", type=float, default=60, help="seconds the operator acts (default 60)")
    p.add_argument(
        "--rate", type=float, default=None, help="operator actions per second (default: devices / 5)"
    )
    p.add_argument(
        "--operator-threads", type=int, default=8, help="operator actions in flight at most (default 8)"
    )
    p.add_argument(
        "--telemetry-interval", type=float, default=10, help="seconds between a device's telemetry"
    )
    p.add_argument("--td-interval", type=float, default=2, help="seconds between a ThingDatas thing's polls")
    p.add_argument(
        "--grace", type=float, default=30, help="seconds to wait for the last deliveries (default 30)"
    )
    p.add_argument("--ramp", type=float, default=0.5, help="seconds between two devices' start (default 0.5)")
    p.add_argument(
        "--warmup", type=float, default=0, help="seconds of activity before the measured run (default 0)"
    )
    p.add_argument("--keep", action="store_true", help="keep the devices and the API key at the end")
    p.add_argument("--json", type=Path, help="write the summary as JSON to this file")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.add_argument("--prefix", default="", help="device name prefix (default sim-<random>)")
    p.add_argument("--seed", type=int, default=None, help="seed the random choices")
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    thingdatas = args.devices if args.thingdatas is None else args.thingdatas
    rate = args.rate if args.rate is not None else max(0.2, (args.devices + thingdatas) / 5)
    return Settings(
        url=args.url.rstrip("/"),
        name=args.name,
        password=args.password,
        thingsboard=args.devices,
        thingdatas=thingdatas,
        duration=args.duration,
        rate=rate,
        operator_threads=args.operator_threads,
        telemetry_interval=args.telemetry_interval,
        td_interval=args.td_interval,
        grace=args.grace,
        ramp=args.ramp,
        warmup=args.warmup,
        keep=args.keep,
        progress=not args.no_progress,
        prefix=args.prefix,
        seed=args.seed,
    )


def finish(summary: dict[str, Any], json_path: Path | None) -> int:
    """Print the summary, write the JSON file, and return the exit status."""
    print(render(summary), flush=True)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["ok"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.url:
        print("fleetgate-sim: --url (or FLEETGATE_URL) is required", file=sys.stderr)
        return 2
    try:
        summary = Simulation(settings_from(args)).run()
    except Exception as error:  # noqa: BLE001 (a run that cannot start says why, without a traceback)
        print(f"fleetgate-sim: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    return finish(summary, args.json)
