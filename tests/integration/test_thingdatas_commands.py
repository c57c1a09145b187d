"""ThingDatas commands, handlers in process against moto: the operator's ``/manage/v1/devices/{id}/commands``
(send through ``iot-data`` Publish, read, list, cancel) and the device's
``POST /api/v1/thing-datas/command/response`` (the seed's curl body verbatim, retries, expiry, every
class of bad input).

Publishes are asserted on what moto's IoT data plane recorded (``published_payloads``) and on the
parameters of the ``Publish`` call. moto's in-process mock routes only boto3's default data endpoint
(``data-ats.iot.<region>.amazonaws.com``), not the per-account one ``DescribeEndpoint`` returns, so these
tests give the template's ``IotDataEndpoint`` parameter that address; the lookup itself is tested on
``fleetgate.data.iot`` directly. Publish failures are made by replacing that module's AWS client with a
botocore ``Stubber``-driven one (the boundary), since moto's Publish never fails.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iot.models import iot_backends
from moto.iotdata.models import iotdata_backends

from fleetgate.data import aws, iot
from fleetgate.dialects.thingdatas import commands as command_service
from fleetgate.dialects.thingdatas.commands import parse_response
from fleetgate.errors import CallFailed, FleetgateError, Retryable
from fleetgate.settings import get_settings
from fleetgate_local.inprocess import recorded_aws_calls
from fleetgate_local.template import Template, load_template_file
from tests.integration.conftest import (
    DEVICE_KEY_PERMISSIONS,
    Device,
    Stack,
    create_api_key,
    create_device,
    event,
    td_call,
    td_event,
    with_body,
    with_query,
)

ROOT = Path(__file__).resolve().parents[2]
MANAGE = "ManageCommandsFunction"
RESPOND = "TdPostCommandResponseFunction"
THING = "thermostat-001"  # the seed's thing
SEED_EXECUTION_ID = "8d88790c-9171-4526-8637-e6d6168bce22"
IOT_DATA_ENDPOINT = "https://data-ats.iot.us-east-1.amazonaws.com"  # the address moto's mock serves


@pytest.fixture
def template(request: pytest.FixtureRequest) -> Template:
    """The template with ``IotDataEndpoint`` set (see the module's docstring); a test may add
    parameters with ``@pytest.mark.parametrize("template", [{...}], indirect=True)``."""
    overrides = {"IotDataEndpoint": IOT_DATA_ENDPOINT, **getattr(request, "param", {})}
    return Template(copy.deepcopy(_template_document()), ROOT, overrides)  # as Template.load, parsed once


@functools.cache
def _template_document() -> dict[str, Any]:
    return load_template_file(ROOT / "template.yaml")


@pytest.fixture
def thing(stack: Stack) -> Device:
    return create_device(stack, THING)


# --------------------------------------------------------------------------- helpers
def published() -> list[tuple[str, bytes]]:
    return list(iotdata_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].published_payloads)


def addressed(name: str, device_id: str, execution_id: str) -> dict[str, Any]:
    ev = event(name, device_id=device_id)
    ev["pathParameters"]["executionId"] = execution_id
    for holder, key in ((ev, "rawPath"), (ev["requestContext"]["http"], "path")):
        holder[key] = holder[key].replace(SEED_EXECUTION_ID, execution_id)
    return ev


def send(stack: Stack, device_id: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    """POST a command; None sends the example event's body (``setTemperature``, ``{"value": 24}``, 30 s)."""
    ev = event("manage/send_command", device_id=device_id)
    if body is not None:
        ev = with_body(ev, body if isinstance(body, str) else json.dumps(body))
    response = stack.invoke(MANAGE, ev)
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def sent(stack: Stack, device: Device, body: Any = None) -> dict[str, Any]:
    status, payload, _ = send(stack, device.id, body)
    assert status == 201, payload
    data: dict[str, Any] = payload["data"]
    return data


def read(stack: Stack, device_id: str, execution_id: str) -> tuple[int, Any]:
    response = stack.invoke(MANAGE, addressed("manage/get_command", device_id, execution_id))
    return response["statusCode"], json.loads(response["body"])


def cancel(stack: Stack, device_id: str, execution_id: str) -> tuple[int, Any]:
    response = stack.invoke(MANAGE, addressed("manage/cancel_command", device_id, execution_id))
    return response["statusCode"], json.loads(response["body"])


def listing(stack: Stack, device_id: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
    response = stack.invoke(MANAGE, with_query(event("manage/list_commands", device_id=device_id), query))
    return response["statusCode"], json.loads(response["body"])


def respond(stack: Stack, auth: str, execution_id: str, **fields: Any) -> tuple[int, Any]:
    """The device's answer: the seed's body with ``executionId`` set and ``fields`` changed (a None
    value removes the field)."""
    body: dict[str, Any] = {
        "thingName": THING,
        "executionId": execution_id,
        "status": "SUCCEEDED",
        "result": {"currentTemperature": 24},
        "timestamp": 1748390405,
    } | fields
    return td_call(
        stack, RESPOND, "post_command_response", auth, {k: v for k, v in body.items() if v is not None}
    )


def item(stack: Stack, device_id: str, execution_id: str) -> dict[str, Any]:
    found: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=stack.table("CommandsTable"),
        Key={"deviceId": {"S": device_id}, "executionId": {"S": execution_id}},
        ConsistentRead=True,
    )["Item"]
    return found


def backdate(stack: Stack, device_id: str, execution_id: str) -> None:
    """Move an execution's deadline into the past (as if its ttl had run out)."""
    boto3.client("dynamodb").update_item(
        TableName=stack.table("CommandsTable"),
        Key={"deviceId": {"S": device_id}, "executionId": {"S": execution_id}},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time() * 1000) - 1)}},
    )


@pytest.fixture
def failing_publish(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """``fleetgate.data.iot``'s iot-data client replaced by a stubbed one; queue errors on the stubber."""
    stubbed = boto3.client("iot-data", region_name="us-east-1", endpoint_url=IOT_DATA_ENDPOINT)
    real = iot.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        return stubbed if service == "iot-data" else real(service, *args, **kwargs)

    monkeypatch.setattr(iot, "client", client)
    with Stubber(stubbed) as stubber:
        yield stubber


# --------------------------------------------------------------------------- operator: send
def test_send_records_a_sent_execution_and_publishes_fleets_payload(stack: Stack, thing: Device) -> None:
    before = len(published())

    status, body, _ = send(stack, thing.id)  # the example event: setTemperature {"value": 24}, ttl 30

    assert status == 201
    data = body["data"]
    execution_id = data["executionId"]
    assert uuid.UUID(execution_id).version == 4
    assert {
        k: data[k] for k in ("commandId", "deviceId", "thingName", "action", "params", "ttl", "status")
    } == {
        "commandId": execution_id,
        "deviceId": thing.id,
        "thingName": THING,
        "action": "setTemperature",
        "params": {"value": 24},
        "ttl": 30,
        "status": "SENT",
    }
    stored = item(stack, thing.id, execution_id)
    created = int(stored["createdAt"]["N"])
    assert int(stored["expiresAt"]["N"]) == created + 30_000
    assert int(stored["purgeAt"]["N"]) == -(-(created + 30_000) // 1000) + 30 * 86_400  # CommandRetentionDays
    [(topic, payload)] = published()[before:]
    assert topic == f"fleetgate/commands/things/{THING}/executions/{execution_id}/request"
    assert json.loads(payload) == {
        "commandId": execution_id,
        "executionId": execution_id,
        "action": "setTemperature",
        "params": {"value": 24},
        "timestamp": created // 1000,  # seconds, as in Fleets' example
        "ttl": 30,
    }


def test_the_execution_is_written_before_it_is_published_qos_1_with_mqtt5_properties(
    stack: Stack, thing: Device
) -> None:
    sent(stack, thing)  # warm

    with recorded_aws_calls() as calls:
        data = sent(stack, thing, {"action": "reboot", "ttl": 120})

    execution_id = data["executionId"]
    operations = [(c.service, c.operation) for c in calls]
    assert operations == [("dynamodb", "GetItem"), ("dynamodb", "PutItem"), ("iot-data", "Publish")]
    publish = calls[-1].params
    prefix = f"fleetgate/commands/things/{THING}/executions/{execution_id}"
    assert publish["topic"] == f"{prefix}/request"
    assert publish["qos"] == 1
    assert publish["responseTopic"] == f"{prefix}/response"
    assert base64.b64decode(publish["correlationData"]).decode() == execution_id
    assert publish["messageExpiry"] == 120
    assert publish["contentType"] == "application/json"


def test_params_default_to_an_empty_object_and_ttl_to_30_seconds(stack: Stack, thing: Device) -> None:
    before = len(published())

    data = sent(stack, thing, {"action": "reboot"})

    assert data["params"] == {}
    assert data["ttl"] == 30
    [(_, payload)] = published()[before:]
    assert json.loads(payload)["params"] == {}
    assert json.loads(payload)["ttl"] == 30


@pytest.mark.parametrize("template", [{"CommandTopicPrefix": "acme/fleet"}], indirect=True)
def test_the_topic_starts_with_the_command_topic_prefix(stack: Stack, thing: Device) -> None:
    before = len(published())

    data = sent(stack, thing)

    [(topic, _)] = published()[before:]
    assert topic == f"acme/fleet/commands/things/{THING}/executions/{data['executionId']}/request"


def test_a_failed_publish_is_502_and_leaves_a_failed_execution_never_a_sent_one(
    stack: Stack, thing: Device, failing_publish: Stubber
) -> None:
    failing_publish.add_client_error(
        "publish", service_error_code="ThrottlingException", http_status_code=429
    )

    status, body, headers = send(stack, thing.id)

    assert status == 502
    assert body["error"]["code"] == 502
    assert "ThrottlingException" in body["error"]["message"]
    execution_id = headers["Location"].rsplit("/", 1)[1]
    assert headers["Location"] == f"/manage/v1/devices/{thing.id}/commands/{execution_id}"
    read_status, read_body = read(stack, thing.id, execution_id)
    assert read_status == 200
    assert read_body["data"]["status"] == "FAILED"
    assert read_body["data"]["statusReason"] == "Publish failed: iot-data Publish failed: ThrottlingException"
    assert "respondedAt" not in read_body["data"]
    assert item(stack, thing.id, execution_id)["status"] == {"S": "FAILED"}


def test_an_unreachable_data_endpoint_also_fails_the_execution(
    stack: Stack, thing: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unreachable:
        def publish(self, **_: Any) -> None:
            raise EndpointConnectionError(endpoint_url=IOT_DATA_ENDPOINT)

    real = iot.client
    monkeypatch.setattr(
        iot,
        "client",
        lambda service, *a, **k: Unreachable() if service == "iot-data" else real(service, *a, **k),
    )

    status, _, headers = send(stack, thing.id)

    assert status == 502
    execution_id = headers["Location"].rsplit("/", 1)[1]
    assert read(stack, thing.id, execution_id)[1]["data"]["status"] == "FAILED"
    assert "EndpointConnectionError" in read(stack, thing.id, execution_id)[1]["data"]["statusReason"]


def test_a_device_that_answered_before_the_failure_was_recorded_keeps_its_answer(
    stack: Stack, thing: Device, auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish that reports failure but did reach the device (a lost response): the device's answer
    wins over the FAILED record, and the operator is told the state, not 502."""

    def publish_then_answer(topic: str, payload: bytes, **kwargs: Any) -> None:
        execution_id = json.loads(payload)["executionId"]
        command_service.respond(
            thing.id, parse_response({"executionId": execution_id, "status": "SUCCEEDED"}, None)
        )
        raise CallFailed("iot-data Publish failed: RequestTimeout")

    sent(stack, thing)  # the function's environment is in place for the service call below
    monkeypatch.setattr(iot, "publish", publish_then_answer)

    status, body, _ = send(stack, thing.id)

    assert status == 201
    assert body["data"]["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("", 400),
        ("{oops", 400),
        ("[1]", 400),
        ({}, 400),
        ({"action": ""}, 400),
        ({"action": "x" * 129}, 400),
        ({"action": 5}, 400),
        ({"action": "reboot", "ttl": 0}, 400),
        ({"action": "reboot", "ttl": 86_401}, 400),
        ({"action": "reboot", "ttl": "30"}, 400),
        ({"action": "reboot", "ttl": 1.5}, 400),
        ({"action": "reboot", "ttl": True}, 400),
        ({"action": "reboot", "timeout": 30}, 400),
        ({"action": "reboot", "params": {"blob": "x" * 65_536}}, 413),
        ({"action": "reboot", "params": {"blob": "x" * 140_000}}, 413),
    ],
)
def test_bad_commands_are_4xx_and_neither_write_nor_publish(
    stack: Stack, thing: Device, body: Any, status: int
) -> None:
    before = len(published())

    got_status, got, _ = send(stack, thing.id, body)

    assert got_status == status, got
    assert got["error"]["code"] == status
    assert got["error"]["message"]
    assert stack.count_items("CommandsTable") == 0
    assert published()[before:] == []


def test_a_command_to_an_unknown_device_is_404_and_neither_writes_nor_publishes(stack: Stack) -> None:
    before = len(published())

    status, body, _ = send(stack, str(uuid.uuid4()))

    assert status == 404
    assert body["error"]["code"] == 404
    assert stack.count_items("CommandsTable") == 0
    assert published()[before:] == []


# --------------------------------------------------------------------------- device: command/response
def test_the_seeds_curl_body_completes_the_execution(stack: Stack, thing: Device, auth: str) -> None:
    execution_id = sent(stack, thing)["executionId"]
    request = td_event("post_command_response", auth)
    request["body"] = request["body"].replace(SEED_EXECUTION_ID, execution_id)  # otherwise verbatim

    response = stack.invoke(RESPOND, request)

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {
        "thingName": THING,
        "executionId": execution_id,
        "status": "SUCCEEDED",
    }
    data = read(stack, thing.id, execution_id)[1]["data"]
    assert data["status"] == "SUCCEEDED"
    assert data["result"] == {"currentTemperature": 24}
    assert data["deviceTimestamp"] == 1748390405
    assert data["respondedAt"].endswith("Z")
    assert data["createdAt"] <= data["respondedAt"] <= data["expiresAt"]


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "REJECTED"])
def test_each_device_status_ends_the_execution(stack: Stack, thing: Device, auth: str, status: str) -> None:
    execution_id = sent(stack, thing)["executionId"]

    got = respond(stack, auth, execution_id, status=status, result=None, timestamp=None)

    assert got == (200, {"thingName": THING, "executionId": execution_id, "status": status})
    data = read(stack, thing.id, execution_id)[1]["data"]
    assert data["status"] == status
    assert "result" not in data


def test_an_answer_costs_one_conditional_write(stack: Stack, thing: Device, auth: str) -> None:
    first, second = sent(stack, thing)["executionId"], sent(stack, thing)["executionId"]
    respond(stack, auth, first)  # warm, API key cached

    with recorded_aws_calls() as calls:
        status, _ = respond(stack, auth, second)

    assert status == 200
    assert [(c.service, c.operation) for c in calls] == [
        ("dynamodb", "GetItem"),  # thingName → device id
        ("dynamodb", "UpdateItem"),  # the answer, conditional on SENT and not expired
    ]
    assert calls[1].params["ConditionExpression"] == "#status = :sent AND expiresAt > :now"


def test_a_retried_answer_gets_the_same_200_and_changes_nothing(
    stack: Stack, thing: Device, auth: str
) -> None:
    execution_id = sent(stack, thing)["executionId"]
    first = respond(stack, auth, execution_id, clientToken="tok-1")
    stored = item(stack, thing.id, execution_id)

    with recorded_aws_calls() as calls:
        again = respond(stack, auth, execution_id, clientToken="tok-1")

    assert again == first == (200, {"thingName": THING, "executionId": execution_id, "status": "SUCCEEDED"})
    assert item(stack, thing.id, execution_id) == stored
    assert [(c.service, c.operation) for c in calls] == [("dynamodb", "GetItem"), ("dynamodb", "UpdateItem")]


def test_a_retry_with_the_same_token_is_recognised_by_its_token(
    stack: Stack, thing: Device, auth: str
) -> None:
    execution_id = sent(stack, thing)["executionId"]
    respond(stack, auth, execution_id, clientToken="tok-1")
    stored = item(stack, thing.id, execution_id)

    again = respond(stack, auth, execution_id, clientToken="tok-1", result={"currentTemperature": 25})

    assert again == (200, {"thingName": THING, "executionId": execution_id, "status": "SUCCEEDED"})
    assert item(stack, thing.id, execution_id) == stored


def test_a_retry_without_token_is_recognised_by_identical_status_and_result(
    stack: Stack, thing: Device, auth: str
) -> None:
    execution_id = sent(stack, thing)["executionId"]
    respond(stack, auth, execution_id, result={"a": 1, "b": [1, 2]})
    stored = item(stack, thing.id, execution_id)

    again = respond(stack, auth, execution_id, result={"b": [1, 2], "a": 1})  # key order aside

    assert again == (200, {"thingName": THING, "executionId": execution_id, "status": "SUCCEEDED"})
    assert item(stack, thing.id, execution_id) == stored


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({}, {"status": "FAILED"}),
        ({}, {"result": {"currentTemperature": 25}}),
        ({}, {"result": None}),
        ({"clientToken": "tok-1"}, {"clientToken": "tok-2"}),
        ({}, {"clientToken": "tok-1"}),  # the first answer had no token: a token cannot match it
    ],
)
def test_a_different_answer_to_an_answered_execution_is_409_with_the_current_status(
    stack: Stack, thing: Device, auth: str, first: dict[str, Any], second: dict[str, Any]
) -> None:
    execution_id = sent(stack, thing)["executionId"]
    assert respond(stack, auth, execution_id, **first)[0] == 200
    stored = item(stack, thing.id, execution_id)

    status, body = respond(stack, auth, execution_id, **second)

    assert status == 409
    assert body["code"] == "InvalidStateTransition"
    assert body["status"] == "SUCCEEDED"
    assert item(stack, thing.id, execution_id) == stored


def test_an_answer_after_the_ttl_is_409_and_records_timed_out(stack: Stack, thing: Device, auth: str) -> None:
    execution_id = sent(stack, thing)["executionId"]
    backdate(stack, thing.id, execution_id)
    assert item(stack, thing.id, execution_id)["status"] == {"S": "SENT"}

    with recorded_aws_calls() as calls:
        status, body = respond(stack, auth, execution_id)

    assert [(c.service, c.operation) for c in calls] == [
        ("dynamodb", "GetItem"),  # the API key (a cold function)
        ("dynamodb", "GetItem"),  # thingName → device id
        ("dynamodb", "UpdateItem"),  # the answer: refused, the stored item comes back with the refusal
        ("dynamodb", "UpdateItem"),  # TIMED_OUT, conditional on SENT and past the deadline
    ]
    assert status == 409
    assert body == {
        "code": "InvalidStateTransition",
        "message": f"Command execution {execution_id} is TIMED_OUT and can no longer be answered",
        "status": "TIMED_OUT",
    }
    stored = item(stack, thing.id, execution_id)
    assert stored["status"] == {"S": "TIMED_OUT"}
    assert "respondedAt" not in stored
    assert "result" not in stored


def test_a_real_ttl_runs_out(stack: Stack, thing: Device, auth: str) -> None:
    execution_id = sent(stack, thing, {"action": "reboot", "ttl": 1})["executionId"]
    time.sleep(1.05)

    assert read(stack, thing.id, execution_id)[1]["data"]["status"] == "TIMED_OUT"
    assert respond(stack, auth, execution_id)[1]["status"] == "TIMED_OUT"


def test_an_answer_to_a_canceled_execution_is_409(stack: Stack, thing: Device, auth: str) -> None:
    execution_id = sent(stack, thing)["executionId"]
    assert cancel(stack, thing.id, execution_id)[0] == 200

    status, body = respond(stack, auth, execution_id)

    assert status == 409
    assert body["status"] == "CANCELED"
    assert item(stack, thing.id, execution_id)["status"] == {"S": "CANCELED"}


def test_an_unknown_execution_is_404_and_nothing_is_created(stack: Stack, thing: Device, auth: str) -> None:
    status, body = respond(stack, auth, str(uuid.uuid4()))

    assert status == 404
    assert body["code"] == "ResourceNotFound"
    assert stack.count_items("CommandsTable") == 0


def test_another_things_execution_is_404_and_stays_sent(stack: Stack, thing: Device, auth: str) -> None:
    other = create_device(stack, "thermostat-002")
    execution_id = sent(stack, other)["executionId"]

    status, body = respond(stack, auth, execution_id)  # thingName thermostat-001

    assert status == 404
    assert body["code"] == "ResourceNotFound"
    assert item(stack, other.id, execution_id)["status"] == {"S": "SENT"}


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"executionId": None}, 400, "InvalidRequest"),
        ({"executionId": "not-a-uuid"}, 400, "InvalidRequest"),
        ({"executionId": 42}, 400, "InvalidRequest"),
        ({"status": None}, 400, "InvalidRequest"),
        ({"status": "SENT"}, 400, "InvalidRequest"),
        ({"status": "TIMED_OUT"}, 400, "InvalidRequest"),
        ({"status": "CANCELED"}, 400, "InvalidRequest"),
        ({"status": "succeeded"}, 400, "InvalidRequest"),
        ({"status": ["SUCCEEDED"]}, 400, "InvalidRequest"),
        ({"timestamp": "1748390405"}, 400, "InvalidRequest"),
        ({"timestamp": 1748390405.5}, 400, "InvalidRequest"),
        ({"timestamp": True}, 400, "InvalidRequest"),
        ({"timestamp": -1}, 400, "InvalidRequest"),
        ({"clientToken": ""}, 400, "InvalidRequest"),
        ({"clientToken": "t" * 65}, 400, "InvalidRequest"),
        ({"clientToken": 7}, 400, "InvalidRequest"),
        ({"statusDetails": {"a": "b"}}, 400, "InvalidRequest"),
        ({"thingName": None}, 400, "InvalidRequest"),
        ({"thingName": "bad name"}, 400, "InvalidRequest"),
        ({"thingName": "nobody"}, 404, "ResourceNotFound"),
        ({"result": {"blob": "x" * 65_536}}, 413, "PayloadTooLarge"),
    ],
)
def test_bad_answers_are_4xx_in_the_dialects_format_and_change_nothing(
    stack: Stack, thing: Device, auth: str, *, fields: dict[str, Any], status: int, code: str
) -> None:
    execution_id = sent(stack, thing)["executionId"]
    stored = item(stack, thing.id, execution_id)

    got_status, body = respond(stack, auth, execution_id, **fields)

    assert got_status == status, body
    assert body["code"] == code
    assert body["message"]
    assert item(stack, thing.id, execution_id) == stored


@pytest.mark.parametrize("raw", ["", "{oops", "[]", '{"thingName": "thermostat-001", "timestamp": Infinity}'])
def test_bodies_that_are_not_a_json_object_are_400(stack: Stack, thing: Device, auth: str, raw: str) -> None:
    execution_id = sent(stack, thing)["executionId"]

    status, body = td_call(stack, RESPOND, "post_command_response", auth, raw)

    assert status == 400
    assert body["code"] == "InvalidRequest"
    assert item(stack, thing.id, execution_id)["status"] == {"S": "SENT"}


def test_keys_without_the_permission_or_for_other_things_are_refused(stack: Stack, thing: Device) -> None:
    execution_id = sent(stack, thing)["executionId"]
    read_only = create_api_key(stack, permissions=[{"method": "GET", "path": "/api/v1/thing-datas"}])
    other_things = create_api_key(stack, permissions=DEVICE_KEY_PERMISSIONS, thing_names=["thermostat-002"])

    assert respond(stack, read_only, execution_id)[0] == 403
    assert respond(stack, other_things, execution_id)[0] == 403
    assert respond(stack, "Basic " + base64.b64encode(b"ak_x:y").decode(), execution_id)[0] == 401
    assert item(stack, thing.id, execution_id)["status"] == {"S": "SENT"}


# --------------------------------------------------------------------------- operator: read, list, cancel
def test_read_shows_status_result_iso_timestamps_and_ttl(stack: Stack, thing: Device, auth: str) -> None:
    execution_id = sent(stack, thing)["executionId"]
    respond(stack, auth, execution_id, clientToken="tok-9")

    status, body = read(stack, thing.id, execution_id)

    assert status == 200
    data = body["data"]
    assert {
        k: data[k] for k in ("executionId", "status", "result", "ttl", "clientToken", "deviceTimestamp")
    } == {
        "executionId": execution_id,
        "status": "SUCCEEDED",
        "result": {"currentTemperature": 24},
        "ttl": 30,
        "clientToken": "tok-9",
        "deviceTimestamp": 1748390405,
    }
    for name in ("createdAt", "expiresAt", "updatedAt", "respondedAt"):
        assert data[name].endswith("Z") and "T" in data[name]


def test_an_expired_execution_reads_as_timed_out_without_a_write(stack: Stack, thing: Device) -> None:
    execution_id = sent(stack, thing)["executionId"]
    backdate(stack, thing.id, execution_id)

    assert read(stack, thing.id, execution_id)[1]["data"]["status"] == "TIMED_OUT"
    assert listing(stack, thing.id)[1]["data"][0]["status"] == "TIMED_OUT"
    assert item(stack, thing.id, execution_id)["status"] == {"S": "SENT"}  # lazily: reads write nothing


def test_an_execution_is_read_only_through_its_own_device(stack: Stack, thing: Device) -> None:
    other = create_device(stack, "thermostat-002")
    execution_id = sent(stack, thing)["executionId"]

    assert read(stack, other.id, execution_id)[0] == 404
    assert cancel(stack, other.id, execution_id)[0] == 404
    assert item(stack, thing.id, execution_id)["status"] == {"S": "SENT"}


@pytest.mark.parametrize(
    ("device_known", "execution_id", "status"),
    [
        (True, "3f9c1e7a-5b2d-4a86-9e0f-7c4b1d8a2e35", 404),
        (True, "not-a-uuid", 400),
        (False, "a81d4c6e-2f9b-4e3a-b7c5-0d6e9f1a3b72", 404),
    ],
)
def test_reading_or_canceling_what_is_not_there_is_a_clear_4xx(
    stack: Stack, thing: Device, device_known: bool, execution_id: str, status: int
) -> None:
    device_id = thing.id if device_known else str(uuid.uuid4())

    assert read(stack, device_id, execution_id)[0] == status
    assert cancel(stack, device_id, execution_id)[0] == status
    assert stack.count_items("CommandsTable") == 0


def test_cancel_ends_a_sent_execution_and_only_once(stack: Stack, thing: Device) -> None:
    execution_id = sent(stack, thing)["executionId"]

    status, body = cancel(stack, thing.id, execution_id)
    again_status, again = cancel(stack, thing.id, execution_id)

    assert status == 200
    assert body["data"]["status"] == "CANCELED"
    assert item(stack, thing.id, execution_id)["status"] == {"S": "CANCELED"}
    assert again_status == 409
    assert "CANCELED" in again["error"]["message"]


def test_an_answered_execution_cannot_be_canceled(stack: Stack, thing: Device, auth: str) -> None:
    execution_id = sent(stack, thing)["executionId"]
    respond(stack, auth, execution_id, status="REJECTED")

    status, body = cancel(stack, thing.id, execution_id)

    assert status == 409
    assert "REJECTED" in body["error"]["message"]
    assert item(stack, thing.id, execution_id)["status"] == {"S": "REJECTED"}


def test_canceling_an_expired_execution_is_409_and_records_timed_out(stack: Stack, thing: Device) -> None:
    execution_id = sent(stack, thing)["executionId"]
    backdate(stack, thing.id, execution_id)

    status, body = cancel(stack, thing.id, execution_id)

    assert status == 409
    assert "TIMED_OUT" in body["error"]["message"]
    assert item(stack, thing.id, execution_id)["status"] == {"S": "TIMED_OUT"}


def test_list_is_newest_first_and_paged(stack: Stack, thing: Device) -> None:
    ids = []
    for _ in range(3):
        ids.append(sent(stack, thing)["executionId"])
        time.sleep(0.002)  # distinct createdAt

    status, first = listing(stack, thing.id, {"limit": "2"})
    _, second = listing(stack, thing.id, {"limit": "2", "nextToken": first["nextToken"]})

    assert status == 200
    assert [e["executionId"] for e in first["data"]] == ids[:0:-1]
    assert first["count"] == 2
    assert [e["executionId"] for e in second["data"]] == ids[:1]
    assert "nextToken" not in second


def test_list_shows_only_the_devices_own_executions(stack: Stack, thing: Device) -> None:
    other = create_device(stack, "thermostat-002")
    sent(stack, thing)

    status, body = listing(stack, other.id)

    assert status == 200
    assert body["data"] == []


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "x"},
        {"nextToken": "@@@"},
        {
            "nextToken": base64.urlsafe_b64encode(
                b'{"deviceId":{"S":"x"},"executionId":{"S":"y"},"createdAt":{"N":"1"}}'
            ).decode()
        },
    ],
)
def test_bad_list_parameters_are_400(stack: Stack, thing: Device, query: dict[str, str]) -> None:
    status, body = listing(stack, thing.id, query)

    assert status == 400, body
    assert body["error"]["code"] == 400


def test_list_of_an_unknown_device_is_404(stack: Stack) -> None:
    assert listing(stack, str(uuid.uuid4()))[0] == 404


# --------------------------------------------------------------------------- races
def test_an_answer_and_a_cancel_racing_end_the_execution_once(stack: Stack, thing: Device) -> None:
    """Services from threads (Powertools Metrics is not thread-safe): every writer's condition is
    checked by DynamoDB, so exactly one of many concurrent answers and cancels wins. A writer told to
    retry (503: moto, unlike DynamoDB, may show a failed condition an item another thread is still
    writing) retries as a device does, and then gets its final outcome."""
    execution_id = sent(stack, thing)["executionId"]
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def until_final(write: Any) -> str:
        for _ in range(5):
            try:
                return str(write().status.value)
            except Retryable:
                time.sleep(0.05)
            except FleetgateError as exc:
                return f"refused:{exc.code}"
        return "still told to retry"

    def answer(status: str) -> None:
        start.wait()
        got = until_final(
            lambda: command_service.respond(
                thing.id, parse_response({"executionId": execution_id, "status": status}, None)
            )
        )
        with lock:
            outcomes.append(got)

    def cancel_it() -> None:
        start.wait()
        got = until_final(lambda: command_service.cancel(thing.id, execution_id))
        with lock:
            outcomes.append(got)

    workers = [threading.Thread(target=answer, args=(s,)) for s in ["SUCCEEDED", "FAILED", "REJECTED"] * 2]
    workers += [threading.Thread(target=cancel_it) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)

    final = item(stack, thing.id, execution_id)["status"]["S"]
    assert final in {"SUCCEEDED", "FAILED", "REJECTED", "CANCELED"}
    assert len(outcomes) == 8, outcomes
    winners = [o for o in outcomes if not o.startswith("refused")]
    # the winner, plus answers that repeat the winning one exactly (same status, no result): retries
    assert winners and all(w == final for w in winners), outcomes
    assert len([o for o in outcomes if o == "refused:InvalidStateTransition"]) == 8 - len(winners), outcomes


# --------------------------------------------------------------------------- the data endpoint lookup
def test_without_a_configured_endpoint_the_account_endpoint_is_described_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``IOT_DATA_ENDPOINT`` and no ``AWS_ENDPOINT_URL``: ``DescribeEndpoint(iot:Data-ATS)`` once per
    environment, and Publish goes to that address (intercepted here: moto's mock does not serve it)."""
    monkeypatch.setenv("IOT_DATA_ENDPOINT", "")
    monkeypatch.setenv("COMMANDS_TABLE", "unused")
    get_settings.cache_clear()
    aws.reset_clients()
    targets: list[tuple[str, str]] = []
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        targets.append((operation, client.meta.endpoint_url))
        if operation == "Publish":
            return {}
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)

    iot.publish("fleetgate/commands/things/t/executions/e/request", b"{}")
    iot.publish("fleetgate/commands/things/t/executions/f/request", b"{}")

    endpoint = iot_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].endpoint  # what moto answered
    assert endpoint is not None
    described = endpoint.endpoint
    assert [op for op, _ in targets].count("DescribeEndpoint") == 1
    publishes = [url for op, url in targets if op == "Publish"]
    assert publishes == [f"https://{described}"] * 2
    assert described.endswith("-ats.iot.us-east-1.amazonaws.com")


def test_the_endpoint_setting_wins_and_a_local_aws_uses_the_sdk_endpoint(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("IOT_DATA_ENDPOINT", "https://abc-ats.iot.eu-west-1.amazonaws.com")
    assert iot._endpoint_url() == "https://abc-ats.iot.eu-west-1.amazonaws.com"

    get_settings.cache_clear()
    monkeypatch.setenv("IOT_DATA_ENDPOINT", "")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    with recorded_aws_calls() as calls:
        assert iot._endpoint_url() is None
    assert calls == []
    get_settings.cache_clear()


# --------------------------------------------------------------------------- operator-chosen execution ids
def test_the_operator_may_choose_the_execution_id_so_the_seeds_answer_works_verbatim(
    stack: Stack, thing: Device, auth: str
) -> None:
    chosen = sent(
        stack, thing, {"action": "setTemperature", "params": {"value": 24}, "executionId": SEED_EXECUTION_ID}
    )

    status, answer = td_call(stack, RESPOND, "post_command_response", auth)  # the seed's body, unchanged

    assert chosen["executionId"] == SEED_EXECUTION_ID
    assert published()[-1][0].endswith(f"/executions/{SEED_EXECUTION_ID}/request")
    assert status == 200, answer
    assert read(stack, thing.id, SEED_EXECUTION_ID)[1]["data"]["status"] == "SUCCEEDED"


def test_a_chosen_execution_id_is_a_uuid_used_once_per_device(stack: Stack, thing: Device) -> None:
    sent(stack, thing, {"action": "a", "executionId": SEED_EXECUTION_ID})
    before = len(published())

    duplicate = send(stack, thing.id, {"action": "b", "executionId": SEED_EXECUTION_ID.upper()})
    malformed = send(stack, thing.id, {"action": "b", "executionId": "not-a-uuid"})

    assert duplicate[0] == 409
    assert "already exists" in duplicate[1]["error"]["message"]
    assert malformed[0] == 400
    assert len(published()) == before
    assert listing(stack, thing.id)[1]["count"] == 1
