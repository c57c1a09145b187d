"""``python -m fleetgate_local``: run the local stack until Ctrl-C or SIGTERM (what ``make local`` runs).

The operator's name and password come from ``ADMIN_NAME`` and ``ADMIN_PASSWORD``; ``MAX_WORKERS`` and
``IDLE_SECONDS`` are the defaults of ``--max-workers`` and ``--idle-seconds``, ``MQTT_PORT`` of
``--mqtt-port``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from fleetgate_local.intrinsics import TemplateError
from fleetgate_local.mqtt import MosquittoUnavailable
from fleetgate_local.stack import (
    DEFAULT_ADMIN_NAME,
    DEFAULT_ADMIN_PASSWORD,
    LocalStack,
    OperatorPasswordRejectedError,
)
from fleetgate_local.template import function_environment
from fleetgate_local.workers import DEFAULT_IDLE_SECONDS, DEFAULT_MAX_WORKERS

_REPOSITORY = Path(__file__).resolve().parents[2]
_DEVICE_KEY = {
    "name": "devices",
    "permissions": [
        {"method": "POST", "path": "/api/v1/thing-datas"},
        {"method": "GET", "path": "/api/v1/thing-datas"},
    ],
}
_BASIC_OF = (
    'python3 -c \'import base64,json,sys; d=json.load(sys.stdin)["data"];'
    ' print("Basic "+base64.b64encode((d["id"]+":"+d["secret"]).encode()).decode())\''
)
_EXTRACT = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"data\"]{path})'"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    password = os.environ.get("ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD
    stack = LocalStack(
        args.root,
        host=args.host,
        port=args.port,
        admin_name=os.environ.get("ADMIN_NAME") or DEFAULT_ADMIN_NAME,
        admin_password=password,
        parameter_overrides=dict(args.param),
        max_workers=args.max_workers,
        idle_seconds=args.idle_seconds,
        mqtt_port=args.mqtt_port,
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
    except OperatorPasswordRejectedError as error:
        print(f"ADMIN_PASSWORD is rejected by the operator user pool's password policy:\n  {error.policy}")
        return 2
    except TemplateError as error:
        print(f"template.yaml cannot run locally: {error}")
        return 1
    except MosquittoUnavailable as error:
        print(f"MQTT cannot run: {error}")
        return 1
    except OSError as error:  # a port in use
        print(f"the local stack cannot start: {error}")
        return 1
    try:
        if args.sam_env_vars:
            write_sam_env_vars(stack, args.sam_env_vars)
        print(_banner(stack, password_is_default=password == DEFAULT_ADMIN_PASSWORD), flush=True)
        stopping.wait()
    finally:
        stack.stop()
    print("fleetgate local stack stopped")
    return 0


def write_sam_env_vars(stack: LocalStack, path: Path) -> None:
    """The ``--env-vars`` file of ``sam local``: each function's template environment, resolved against
    this stack's resources, plus moto's endpoint and dummy credentials."""
    template, provisioned = stack.template, stack.provisioned
    if template is None or provisioned is None:
        raise RuntimeError("the stack is not started")
    aws = {
        "AWS_ENDPOINT_URL": stack.moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": stack.region,
    }
    variables = {
        spec.logical_id: {**function_environment(template, spec.logical_id, provisioned), **aws}
        for spec in template.functions()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(variables, indent=2) + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fleetgate_local", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000))
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--root", type=Path, default=_REPOSITORY, help="directory holding template.yaml")
    parser.add_argument(
        "--sam-env-vars",
        type=Path,
        metavar="FILE",
        help="write every function's environment, with this stack's moto as AWS, for "
        "`sam local start-api --env-vars FILE` (Docker users)",
    )
    parser.add_argument(
        "--param",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="template parameter override (repeatable)",
    )
    parser.add_argument(
        "--mqtt-port",
        type=int,
        default=int(os.environ.get("MQTT_PORT") or 1883),
        metavar="PORT",
        help="port MQTT devices connect to (default: %(default)s; 0 picks a free one)",
    )
    parser.add_argument(
        "--max-workers",
        type=_positive(int),
        default=os.environ.get("MAX_WORKERS") or DEFAULT_MAX_WORKERS,
        metavar="N",
        help="function worker processes alive at once, all functions together, like Lambda's "
        "concurrency limit (default: %(default)s)",
    )
    parser.add_argument(
        "--idle-seconds",
        type=_positive(float),
        default=os.environ.get("IDLE_SECONDS") or DEFAULT_IDLE_SECONDS,
        metavar="S",
        help="an idle worker is stopped after this many seconds (default: %(default)s)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logs (resources created, skipped)"
    )
    return parser


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _key_value(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _banner(stack: LocalStack, *, password_is_default: bool) -> str:
    url = stack.url
    if password_is_default:
        login = shlex.quote(json.dumps({"name": stack.admin_name, "password": stack.admin_password}))
        password_line = (
            f"operator: {stack.admin_name} / {stack.admin_password}\n"
            "WARNING: that is the local default password, for this machine only;"
            " set ADMIN_PASSWORD to choose another."
        )
    else:
        fields = f"{{'name': {stack.admin_name!r}, 'password': os.environ['ADMIN_PASSWORD']}}"
        build = f"import json,os; print(json.dumps({fields}))"
        login = f'"$(python3 -c {shlex.quote(build)})"'
        password_line = f"operator: {stack.admin_name} (password from ADMIN_PASSWORD)"
    json_header = "-H 'Content-Type: application/json'"
    bearer, basic = '-H "Authorization: Bearer $TOKEN"', '-H "Authorization: $AUTH"'
    token_of = _EXTRACT.format(path='["token"]')
    access_token_of = _EXTRACT.format(path='["credentials"]["accessToken"]')
    first_id_of = _EXTRACT.format(path='[0]["id"]')
    return "\n".join(
        [
            f"fleetgate local stack on {url}  (AWS: moto on {stack.moto_url}, {stack.region})",
            password_line,
            f"API documentation: {url}/docs (Swagger UI), {url}/openapi.json (OpenAPI 3.1)",
            f"MQTT: {stack.mqtt_url}  (username = device id, password = its access token; MQTT 5 or 3.1.1)",
            "",
            "Try it:",
            f"  TOKEN=$(curl -s -X POST {url}/manage/v1/auth {json_header} -d {login} \\",
            f"    | {token_of})",
            f'  DEVICE_TOKEN=$(curl -s -X POST {url}/manage/v1/devices -H "Authorization: Bearer $TOKEN" \\',
            f'    {json_header} -d \'{{"name":"thermostat-1"}}\' \\',
            f"    | {access_token_of})",
            f"  curl -sS -i -X POST {url}/api/v1/$DEVICE_TOKEN/telemetry {json_header} \\",
            "    -d '{\"temperature\":42}'",
            "",
            "  # the same device as an EMQX Fleets ThingDatas thing, with a deployment API key:",
            f"  AUTH=$(curl -s -X POST {url}/manage/v1/api-keys {bearer} {json_header} \\",
            f"    -d {shlex.quote(json.dumps(_DEVICE_KEY, separators=(',', ':')))} \\",
            f"    | {_BASIC_OF})",
            f"  curl -sS -X POST {url}/api/v1/thing-datas/shadow/reported {basic} {json_header} \\",
            '    -d \'{"thingName":"thermostat-1","state":{"reported":{"temperature":21.5}}}\'',
            f"  curl -sS {url}/api/v1/thing-datas/thermostat-1/shadow {basic}",
            "",
            "  # the same device over MQTT 5 (mosquitto_sub is in Debian's mosquitto-clients):",
            f"  DEVICE_ID=$(curl -s {url}/manage/v1/devices {bearer} | {first_id_of})",
            f"  mosquitto_sub -V 5 -L '{stack.mqtt_url}/fleetgate/commands/things/thermostat-1/#' \\",
            '    -i thermostat-1 -u "$DEVICE_ID" -P "$DEVICE_TOKEN" -F "%t %p"   # then send it a command:',
            f"  curl -sS -X POST {url}/manage/v1/devices/$DEVICE_ID/commands {bearer} {json_header} \\",
            '    -d \'{"action":"setTemperature","params":{"value":24},"ttl":60}\'',
            "",
            "Ctrl-C stops it.",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
