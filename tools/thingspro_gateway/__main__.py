"""``python -m tools.thingspro_gateway``: a simulated Moxa ThingsPro Edge gateway on an MQTT broker.

Run from the repository root::

    .venv/bin/python -m tools.thingspro_gateway --config mqtt.json --publish-every 10

``mqtt.json`` is the body the cloud gives for the gateway's ``POST /api/v1/mqtt`` (``server``, ``port``,
``certificateOverTLS``, ``clientID``, ``userName``, ``password``, ``keepAliveSec``, ``remoteAPI{enable,
requestSubTopic, responsePubTopic, qos}``); the flags set the same fields, over the file's. ``--state
FILE`` loads the gateway's state from FILE when it exists and saves it there on exit. Ctrl-C (or
SIGTERM) disconnects and exits 0. The password is never printed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .client import run
from .gateway import Gateway

FLAGS = {  # flag destination -> MQTTConfiguration field
    "server": "server",
    "port": "port",
    "client_id": "clientID",
    "username": "userName",
    "password": "password",
    "keepalive": "keepAliveSec",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.thingspro_gateway", description=__doc__.split("\n")[0])
    p.add_argument("--config", type=Path, help="JSON MQTTConfiguration (the body of POST /api/v1/mqtt)")
    p.add_argument("--server", help="broker host")
    p.add_argument("--port", type=int, help="broker port")
    p.add_argument("--tls", action=argparse.BooleanOptionalAction, default=None, help="certificateOverTLS")
    p.add_argument("--client-id", help="clientID")
    p.add_argument("--username", help="userName")
    p.add_argument("--password", help="password (never printed)")
    p.add_argument("--keepalive", type=int, help="keepAliveSec")
    p.add_argument("--request-topic", help="remoteAPI.requestSubTopic")
    p.add_argument("--response-topic", help="remoteAPI.responsePubTopic")
    p.add_argument("--qos", type=int, choices=(0, 1, 2), help="remoteAPI.qos")
    p.add_argument(
        "--publish-every", type=float, default=0, metavar="S", help="message groups every S s (0: never)"
    )
    p.add_argument("--payload-as-string", action="store_true", help="answer payload as a JSON-encoded string")
    p.add_argument("--state", type=Path, help="load the gateway's state from this JSON file, save it on exit")
    return p


def configuration(args: argparse.Namespace) -> dict[str, Any]:
    """The MQTTConfiguration of ``--config`` with the flags over it."""
    config: dict[str, Any] = json.loads(args.config.read_text()) if args.config else {}
    if not isinstance(config, dict):
        raise SystemExit("--config must hold a JSON object")
    for flag, field in FLAGS.items():
        if getattr(args, flag) is not None:
            config[field] = getattr(args, flag)
    if args.tls is not None:
        config["certificateOverTLS"] = args.tls
    remote = dict(config.get("remoteAPI") or {})
    for flag, field in (
        ("request_topic", "requestSubTopic"),
        ("response_topic", "responsePubTopic"),
        ("qos", "qos"),
    ):
        if getattr(args, flag) is not None:
            remote[field] = getattr(args, flag)
    remote.setdefault("enable", True)
    config["remoteAPI"] = remote
    missing = [f for f in ("server", "port") if f not in config] + [
        f"remoteAPI.{f}" for f in ("requestSubTopic", "responsePubTopic") if not remote.get(f)
    ]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (--config FILE or the flags)")
    return config


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = configuration(args)
    state = json.loads(args.state.read_text()) if args.state and args.state.exists() else None
    gateway = Gateway(state, payload_as_string=args.payload_as_string)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    remote, client_id = config["remoteAPI"], config.get("clientID") or "(no id)"
    print(
        f"ThingsPro Edge simulator: {config['server']}:{config['port']} as {client_id},"
        f" requests on {remote['requestSubTopic']}, answers on {remote['responsePubTopic']}",
        flush=True,
    )
    run(
        config,
        stop,
        gateway=gateway,
        publish_every=args.publish_every,
        log=lambda line: print(line, flush=True),
    )
    if args.state:
        args.state.write_text(json.dumps(gateway.state, indent=1))
        print(f"state saved to {args.state}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
