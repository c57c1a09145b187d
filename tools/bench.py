"""``make bench``: what a device request costs.

For every device function of the template (each route outside ``/manage``; each function a topic rule
invokes, whose events are the topic-rule events of ``events/`` on a topic its rule selects; and the MQTT
device authorizer under ``functions/iot/``, whose events are ``events/iot/<name>*.json``):
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
import uuid
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT / "local")]

import boto3  # noqa: E402
import requests  # noqa: E402
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
# Xyte events: their device is a Xyte device (its id and access key take the placeholders above), with
# these placeholders for what the seeding makes
XYTE_EVENTS = ROOT / "events" / "xyte"
XYTE_PLACEHOLDERS = {
    "hardware_key": "A1_TEST_HARDWARE_KEY",
    "model": "A1_TEST_MODEL_ID",
    "child": "A1_TEST_CHILD_ID",
    "child_key": "A1_TEST_CHILD_TOKEN",
    "command": "3f0e2b1c-7a9d-4e5f-8b6a-1c2d3e4f5a60",
    "license": "7b6a5c4d-3e2f-4a1b-9c8d-0e1f2a3b4c5d",
    "incident": "0193a5b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    "file": "3f2b8c1e-5d4a-4e6b-9c7d-2a1b0c9d8e7f",
    "dump": "019ad2c4-5e80-7a3b-8c4d-5e6f7a8b9c0d",
}
MANAGE_MODEL_PLACEHOLDER = "6d1f3c2a-8b4e-4f7a-9c5d-0e1a2b3c4d5e"  # the model id of events/manage/
THINGSPRO_EVENTS = ROOT / "events" / "thingspro"
THINGSPRO_PLACEHOLDERS = {
    "gateway": "5c1d9e2a-7b3f-4c8d-9e0a-1b2c3d4e5f60",
    "token": TOKEN_PLACEHOLDER,
    "operator": "A1_TEST_OPERATOR",
    "password": "A1_TEST_PASSWORD",
}


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


def rule_filters(template: Template) -> dict[str, list[str]]:
    """Per function a topic rule invokes (Lambda action), the topic filters of its rules' FROM."""
    from fleetgate_local.mqtt.sql import parse  # noqa: PLC0415 - the local stack's rules SQL reader

    found: dict[str, list[str]] = {}
    for resource in template.resources().values():
        if resource["Type"] != "AWS::IoT::TopicRule":
            continue
        payload = resource["Properties"]["TopicRulePayload"]
        topic_filter = parse(str(template.resolve(payload["Sql"], {}, {}))).topic_filter
        for action in payload.get("Actions") or []:
            arn = (action.get("Lambda") or {}).get("FunctionArn") or {}
            target = arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else None
            if target:
                found.setdefault(target, []).append(topic_filter)
    return found


def events_for(spec: FunctionSpec, template: Template) -> list[Path]:
    """The events of ``events/`` that reach ``spec``: by route key, by topic (rule functions), or
    ``events/iot/<name>*.json`` (the MQTT authorizer, which has neither)."""
    from fleetgate_local.mqtt.sql import topic_matches  # noqa: PLC0415

    if spec.code_uri.is_relative_to(IOT_FUNCTIONS):
        return sorted((ROOT / "events" / "iot").glob(f"{spec.code_uri.name}*.json"))
    keys = {route.route_key for route in spec.routes}
    filters = rule_filters(template).get(spec.logical_id, [])
    found = []
    for path in sorted((ROOT / "events").rglob("*.json")):
        event = json.loads(path.read_text())
        if event.get("routeKey") in keys or (
            "routeKey" not in event
            and isinstance(event.get("topic"), str)
            and any(topic_matches(f, event["topic"]) for f in filters)
        ):
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
            xyte = seed_xyte(functions)
            thingspro = seed_thingspro(functions)
        for spec in specs:
            rows = []
            for path in events_for(spec, template):
                values = (
                    xyte
                    if path.is_relative_to(XYTE_EVENTS)
                    else thingspro
                    if path.is_relative_to(THINGSPRO_EVENTS)
                    else replacements
                )

                def prepared(values: dict[str, str] = values, path: Path = path) -> dict[str, Any]:
                    if path.name in OWN_DEVICE:
                        values = {**values, **register_xyte(functions, values)}
                    event = fresh_identities(load_event(path, **values))
                    if "protocolData" in event:  # an MQTT CONNECT: the seeded device's id and token
                        event = load_event(path, **mqtt_replacements(replacements))
                    return event

                with redirect_stdout(io.StringIO()):  # the handlers' EMF metric lines
                    functions.invoke(spec.logical_id, prepared())  # warm: the first call also builds clients
                    event = prepared()
                    with recorded_aws_calls() as calls:
                        response = functions.invoke(spec.logical_id, event)
                if response is None:  # a rule function: nothing to answer (it never raises)
                    response = {"statusCode": "async"}
                elif "isAuthenticated" in response:  # the MQTT authorizer's answer
                    if not response["isAuthenticated"]:
                        raise SystemExit(f"{path.name} was denied by {spec.logical_id}")
                    response = {"statusCode": "allowed"}
                elif int(response["statusCode"]) >= 500:
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


def fresh_identities(event: dict[str, Any]) -> dict[str, Any]:
    """A Xyte registration names hardware that has not registered yet (a device registers once per
    cloud id and once per MAC + serial number): new ones for every request the bench makes."""
    if event.get("routeKey") not in REGISTRATIONS or not event.get("body"):
        return event
    body = json.loads(event["body"])

    def fresh(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        item = dict(item)
        for name in ("cloud_id", "nano_id"):
            if name in item:
                item[name] = f"bench-{uuid.uuid4()}"
        if "mac" in item:
            item["mac"] = ":".join(f"{b:02X}" for b in uuid.uuid4().bytes[:6])
        if "sn" in item:
            item["sn"] = f"sn-{uuid.uuid4().hex[:12]}"
        return item

    event = dict(event)
    event["body"] = json.dumps([fresh(i) for i in body] if isinstance(body, list) else fresh(body))
    return event


REGISTRATIONS = {"POST /v1/devices", "POST /v1/devices/bulk_create", "POST /v1/devices/{device_id}/children"}
# Xyte events measured on a device of their own, registered for each request: the request would
# otherwise find what its warm-up run left (a deleted device, a config the device's version is now
# older than) or what another event set (the seeded device's cloud settings suspend incidents)
OWN_DEVICE = {"delete_device.json", "config_set_config.json", "incidents_post.json"}


def register_xyte(functions: InProcessFunctions, values: dict[str, str]) -> dict[str, str]:
    """A new device of the seeded model: its id and access key as the events' placeholders."""
    event = fresh_identities(
        load_event(
            XYTE_EVENTS / "register_post_device.json",
            **{XYTE_PLACEHOLDERS["hardware_key"]: values[XYTE_PLACEHOLDERS["hardware_key"]]},
        )
    )
    answer = json.loads(functions.invoke("XyteRegisterFunction", event)["body"])
    return {TOKEN_PLACEHOLDER: answer["access_key"], DEVICE_PLACEHOLDER: answer["id"]}


def seed_xyte(functions: InProcessFunctions) -> dict[str, str]:
    """What the Xyte events address: a model (with an uploaded firmware file), a device registered with
    its hardware key, a child of it, a command, a license, an incident and a dump. Returns the
    placeholders of ``events/xyte/`` and their values."""

    def invoke(function: str, folder: str, name: str, body: object = None, **replace: str) -> dict[str, Any]:
        event = load_event(ROOT / "events" / folder / f"{name}.json", **replace)
        if body is not None:
            event["body"] = json.dumps(body)
        response = functions.invoke(function, event)
        if response["statusCode"] >= 300:
            raise SystemExit(f"setting up Xyte with {name} failed: {response}")
        answer: dict[str, Any] = json.loads(response["body"])
        return answer.get("data", answer) if folder == "manage" else answer

    p = XYTE_PLACEHOLDERS
    model = invoke("ManageXyteModelsFunction", "manage", "create_xyte_model")
    hub = register_xyte(functions, {p["hardware_key"]: model["hardware_key"]})
    device = {"id": hub[DEVICE_PLACEHOLDER]}
    child = invoke("XyteRegisterFunction", "xyte", "register_post_child", **hub, **{p["model"]: model["id"]})
    on_model = {MANAGE_MODEL_PLACEHOLDER: model["id"]}
    file = invoke("ManageXyteFilesFunction", "manage", "xyte_files_create_file", **on_model)
    requests.put(file["upload_url"], data=b"firmware 1.0.5", timeout=10).raise_for_status()
    on_device = {DEVICE_PLACEHOLDER: device["id"]}
    command = invoke("ManageXyteSyncFunction", "manage", "xyte_send_command", **on_device)
    license_ = invoke("ManageXyteSyncFunction", "manage", "xyte_add_license", **on_device)
    incident = invoke("XyteIncidentsFunction", "xyte", "incidents_post", **hub)
    dump = invoke("XyteSendDumpFunction", "xyte", "dumps_send_dump", **hub)
    return {
        **hub,
        p["hardware_key"]: str(model["hardware_key"]),
        p["model"]: str(model["id"]),
        p["child"]: str(child["id"]),
        p["child_key"]: str(child["access_key"]),
        p["command"]: str(command["id"]),
        p["license"]: str(license_["id"]),
        p["incident"]: str(incident["id"]),
        p["file"]: str(file["id"]),
        p["dump"]: str(dump["id"]),
    }


def seed_thingspro(functions: InProcessFunctions) -> dict[str, str]:
    """What the ThingsPro events address: a gateway registered through the operator API, an operator
    who signs in for a ThingsPro token, and one change the gateway was sent and answered (so a read of
    its store-and-forward setting is answered from what it confirmed); the gateway is offline after
    that, so changes wait (202) instead of waiting for an answer. Returns the placeholders of
    ``events/thingspro/`` and their values."""
    p = THINGSPRO_PLACEHOLDERS
    pool = functions.provisioned.physical_ids["OperatorUserPool"]
    name, password = "bench-operator", "Bench-operator-1!"
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    cognito.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username=name, Password=password, Permanent=True)
    registered = functions.invoke(
        "ManageThingsProFunction", load_event(ROOT / "events" / "manage" / "register_thingspro_gateway.json")
    )
    if registered["statusCode"] != 201:
        raise SystemExit(f"registering a ThingsPro gateway failed: {registered}")
    gateway = json.loads(registered["body"])["data"]["id"]
    values = {p["gateway"]: gateway, p["operator"]: name, p["password"]: password}

    def invoke(function: str, event_name: str, edit: Any = None) -> dict[str, Any] | None:
        event = load_event(THINGSPRO_EVENTS / f"{event_name}.json", **values)
        if edit is not None:
            event = edit(event)
        answer: dict[str, Any] | None = functions.invoke(function, event)
        return answer

    login = invoke("ThingsProAuthFunction", "auth_login")
    if login is None or login["statusCode"] != 200:
        raise SystemExit(f"signing in for a ThingsPro token failed: {login}")
    values[p["token"]] = json.loads(login["body"])["data"]["token"]
    invoke("ThingsProCloudApiFunction", "cloud_api_put_store_and_forward")  # queued: the gateway is offline
    invoke("ThingsProOnPresenceFunction", "on_presence")  # it connects: the change is sent
    invoke("ThingsProOnAnswerFunction", "on_answer")  # and answered: the read is confirmed

    def disconnected(event: dict[str, Any]) -> dict[str, Any]:  # its payload is the event's JSON itself
        body = event["payload"] | {"eventType": "disconnected", "clientInitiatedDisconnect": True}
        return event | {"payload": body}

    invoke("ThingsProOnPresenceFunction", "on_presence", disconnected)
    return values


def device_functions(template: Template) -> list[FunctionSpec]:
    """The functions devices call: every function with an HTTP route outside ``/manage``, every function
    a topic rule invokes (devices' MQTT messages), and the MQTT device authorizer (run by IoT Core at each
    CONNECT)."""
    rule_targets = set(rule_filters(template))
    return [
        f
        for f in template.functions()
        if (f.routes and not f.routes[0].path.startswith("/manage"))
        or f.logical_id in rule_targets
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
        topics = rule_filters(template).get(spec.logical_id, [])
        route = (
            ", ".join(r.route_key for r in spec.routes)
            or ", ".join(f"MQTT {f}" for f in topics)
            or "MQTT CONNECT"
        )
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
