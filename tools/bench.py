"""``make bench``: what a device request costs.

For every device function of the template (each route outside ``/manage``, and the MQTT device
authorizer under ``functions/iot/``, whose events are ``events/iot/<name>*.json``):
- cold import time of its handler module: the median over fresh interpreters, next to the floor every
  Python Lambda pays to talk to DynamoDB (``import boto3`` plus one client), as a ratio;
- AWS API calls one request makes, counted by hooking botocore while the real handler runs in process
  against moto, for every event in ``events/`` whose route key is the function's.
Prints a Markdown table (the README carries a copy).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT / "local")]

from moto import mock_aws  # noqa: E402

from fleetgate_local.atomic_moto import make_dynamodb_atomic  # noqa: E402
from fleetgate_local.inprocess import InProcessFunctions, load_event, recorded_aws_calls  # noqa: E402
from fleetgate_local.resources import provision  # noqa: E402
from fleetgate_local.template import FunctionSpec, Template, function_environment  # noqa: E402

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
FLOOR = "import boto3; boto3.client('dynamodb')"
TOKEN_PLACEHOLDER = "A1_TEST_TOKEN"  # noqa: S105 - the placeholder in events/
AUTH_PLACEHOLDER = "A1_TEST_AUTH"
EXECUTION_PLACEHOLDER = "8d88790c-9171-4526-8637-e6d6168bce22"  # the seed's command executionId
DEVICE_PLACEHOLDER = "8f14e45f-ceea-467f-a0e6-1a6b8c3b5a11"  # the device id of events/ (an MQTT username)
MQTT_PASSWORD_PLACEHOLDER = base64.b64encode(TOKEN_PLACEHOLDER.encode()).decode()  # as IoT Core sends it
IOT_FUNCTIONS = ROOT / "functions" / "iot"


def timed_import(statement: str, paths: list[Path], env: dict[str, str], runs: int) -> float:
    """Median wall time (ms) of ``statement`` in fresh interpreters (after one warm-up run that
    writes the .pyc files, as a built layer ships them)."""
    code = (
        "import sys, time; sys.path[:0] = " + json.dumps([str(p) for p in paths]) + "; "
        "t = time.perf_counter(); " + statement + "; print((time.perf_counter() - t) * 1000)"
    )
    full_env = {**os.environ, **AWS_ENV, **env}
    samples = []
    for i in range(runs + 1):
        out = subprocess.run(
            [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=True
        )
        if i:
            samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def events_for(spec: FunctionSpec) -> list[Path]:
    if spec.code_uri.is_relative_to(IOT_FUNCTIONS):  # no route: events/iot/<name>*.json
        return sorted((ROOT / "events" / "iot").glob(f"{spec.code_uri.name}*.json"))
    keys = {route.route_key for route in spec.routes}
    found = []
    for path in sorted((ROOT / "events").rglob("*.json")):
        if json.loads(path.read_text()).get("routeKey") in keys:
            found.append(path)
    return found


def aws_calls(template: Template, specs: list[FunctionSpec]) -> dict[str, list[tuple[str, int, str]]]:
    """Per function: (event file, number of calls, the calls by operation) for each of its events."""
    os.environ.update(AWS_ENV)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    results: dict[str, list[tuple[str, int, str]]] = {}
    with mock_aws():
        provisioned = provision(template, endpoint_url=None, region="us-east-1")
        functions = InProcessFunctions(template, provisioned)
        with redirect_stdout(io.StringIO()):
            replacements = seed_state(functions)
        for spec in specs:
            rows = []
            for path in events_for(spec):
                event = load_event(path, **replacements)
                if "protocolData" in event:  # an MQTT CONNECT: the seeded device's id and token
                    event = load_event(path, **mqtt_replacements(replacements))
                with redirect_stdout(io.StringIO()):  # the handlers' EMF metric lines
                    functions.invoke(spec.logical_id, event)  # warm: the first call also builds clients
                    with recorded_aws_calls() as calls:
                        response = functions.invoke(spec.logical_id, event)
                if "isAuthenticated" in response:  # the MQTT authorizer's answer
                    if not response["isAuthenticated"]:
                        raise SystemExit(f"{path.name} was denied by {spec.logical_id}")
                    response = {"statusCode": "allowed"}
                elif response["statusCode"] >= 500:
                    raise SystemExit(f"{path.name} failed on {spec.logical_id}: {response}")
                ops = Counter(c.operation for c in calls)
                rows.append(
                    (
                        f"{path.relative_to(ROOT).as_posix()} → {response['statusCode']}",
                        len(calls),
                        ", ".join(f"{o} x{k}" for o, k in ops.items()),
                    )
                )
            results[spec.logical_id] = rows
    return results


def seed_state(functions: InProcessFunctions) -> dict[str, str]:
    """What the device events address, made through the operator API: a ThingsBoard device, the
    ThingDatas thing ``thermostat-001`` in group ``thermostats`` with an API key, a job for it and a
    command sent to it. Returns the placeholders of ``events/`` and their values."""

    def operator(name: str, body: dict[str, object] | None = None, **replace: str) -> dict[str, object]:
        event = load_event(ROOT / "events" / "manage" / f"{name}.json", **replace)
        if body is not None:
            event["body"] = json.dumps(body)
        response = functions.invoke(
            {
                "create_device": "ManageDevicesFunction",
                "create_api_key": "ManageApiKeysFunction",
                "create_thing_group": "ManageThingGroupsFunction",
                "add_thing_to_group": "ManageThingGroupsFunction",
                "create_job": "ManageJobsFunction",
                "send_command": "ManageCommandsFunction",
            }[name],
            event,
        )
        if response["statusCode"] >= 300:
            raise SystemExit(f"setting up with {name} failed: {response}")
        data: dict[str, object] = json.loads(response["body"])["data"]
        return data

    device = operator("create_device")
    token = device["credentials"]
    thing = operator("create_device", {"name": "thermostat-001"})
    key = operator("create_api_key")
    operator("create_thing_group")
    operator("add_thing_to_group")
    # a job queued first, for start-next to take, so that the seed's update of firmware-2-0-0
    # (expectedVersion 1) finds that job still QUEUED
    operator(
        "create_job",
        {"jobId": "bench-start-next", "document": {}, "targets": {"thingNames": ["thermostat-001"]}},
    )
    operator("create_job")
    command = operator("send_command", **{"8f14e45f-ceea-467f-a0e6-1a6b8c3b5a11": str(thing["id"])})
    basic = base64.b64encode(f"{key['id']}:{key['secret']}".encode()).decode()
    return {
        TOKEN_PLACEHOLDER: str(token["accessToken"]),  # type: ignore[index]
        AUTH_PLACEHOLDER: f"Basic {basic}",
        EXECUTION_PLACEHOLDER: str(command["executionId"]),
        DEVICE_PLACEHOLDER: str(device["id"]),
    }


def mqtt_replacements(replacements: dict[str, str]) -> dict[str, str]:
    """The placeholders of an MQTT CONNECT event: the seeded device's id and its token, base64."""
    token = replacements[TOKEN_PLACEHOLDER]
    return {
        DEVICE_PLACEHOLDER: replacements[DEVICE_PLACEHOLDER],
        MQTT_PASSWORD_PLACEHOLDER: base64.b64encode(token.encode()).decode(),
    }


def device_functions(template: Template) -> list[FunctionSpec]:
    """The functions devices call: every function with an HTTP route outside ``/manage``, and the MQTT
    device authorizer (run by IoT Core at each CONNECT)."""
    return [
        f
        for f in template.functions()
        if (f.routes and not f.routes[0].path.startswith("/manage"))
        or f.code_uri.is_relative_to(IOT_FUNCTIONS)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per measurement")
    parser.add_argument(
        "--write-docs", action="store_true", help="also write the table into docs/performance.md"
    )
    args = parser.parse_args()

    make_dynamodb_atomic()
    # moto's in-process IoT data plane answers only on boto3's default host, not on the per-account
    # endpoint DescribeEndpoint returns, so commands publish there (as IotDataEndpoint allows).
    template = Template.load(
        ROOT / "template.yaml", {"IotDataEndpoint": "https://data-ats.iot.us-east-1.amazonaws.com"}
    )
    specs = device_functions(template)
    with mock_aws():
        provisioned = provision(template, endpoint_url=None, region="us-east-1")
    floor = timed_import(FLOOR, [], {}, args.runs)
    calls = aws_calls(template, specs)

    lines = [
        f"Python {sys.version.split()[0]} on {os.cpu_count()} cores, median of {args.runs} fresh "
        f"interpreters; floor (`{FLOOR}`) = {floor:.0f} ms",
        "",
        "| function | route | cold import (ms) | x floor | event | AWS calls per request |",
        "|---|---|---:|---:|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for spec in specs:
        env = function_environment(template, spec.logical_id, provisioned)
        module = spec.handler.rsplit(".", 1)[0]
        cold = timed_import(f"import {module}", [spec.code_uri, *spec.layer_dirs], env, args.runs)
        route = ", ".join(r.route_key for r in spec.routes) or "MQTT CONNECT"
        for i, (event, count, ops) in enumerate(calls[spec.logical_id] or [("(no event)", 0, "")]):
            head = f"{spec.logical_id} | `{route}` | {cold:.0f} | {cold / floor:.2f}" if i == 0 else " | | | "
            lines.append(f"| {head} | `{event}` | {count} ({ops}) |")
            print(lines[-1], flush=True)
    if args.write_docs:
        sys.path.insert(0, str(ROOT))
        from tools.doc_tables import DOCS, write_block  # noqa: PLC0415 - only when writing

        write_block(DOCS / "performance.md", "bench", "\n".join(lines))
        print(f"wrote the table into {(DOCS / 'performance.md').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
