"""Telemetry, events and shadow history each keep their records for their own template parameter
(``TelemetryRetentionDays``, ``EventRetentionDays``, ``ShadowHistoryRetentionDays``): a deployer who
keeps events a week does not shorten telemetry or the shadow history."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from fleetgate_local.template import Template
from tests.integration.conftest import ROOT, Stack, create_api_key, create_device, event, td_call, with_body

THING = "thermostat-001"
DAY_S = 86_400


@pytest.fixture
def template() -> Template:
    """The real template, deployed with three different retentions."""
    return Template.load(
        ROOT / "template.yaml",
        {"TelemetryRetentionDays": "30", "EventRetentionDays": "7", "ShadowHistoryRetentionDays": "3"},
    )


def items(stack: Stack, table: str) -> list[dict[str, dict[str, str]]]:
    scan = boto3.client("dynamodb").scan(TableName=stack.table(table))
    found: list[dict[str, dict[str, str]]] = scan["Items"]
    return found


def test_each_kind_of_record_expires_after_its_own_parameter(stack: Stack) -> None:
    thing = create_device(stack, THING)
    auth = create_api_key(stack)
    before = int(time.time())

    telemetry = with_body(event("thingsboard/post_telemetry", token=thing.token), '{"temperature": 21}')
    assert stack.invoke("TbPostTelemetryFunction", telemetry)["statusCode"] == 200
    assert td_call(stack, "TdPostEventFunction", "post_event", auth)[0] == 200
    report = {"thingName": THING, "state": {"reported": {"temperature": 21}}}
    assert td_call(stack, "TdPostShadowReportedFunction", "post_shadow_reported", auth, report)[0] == 200
    after = int(time.time())

    [record] = [i for i in items(stack, "TelemetryTable") if i["sk"]["S"] != "LATEST"]
    [stored_event] = items(stack, "EventsTable")
    [entry] = items(stack, "ShadowHistoryTable")
    assert before + 30 * DAY_S <= int(record["expiresAt"]["N"]) <= after + 30 * DAY_S
    assert int(stored_event["expiresAt"]["N"]) == int(stored_event["receivedAt"]["N"]) // 1000 + 7 * DAY_S
    assert int(entry["expiresAt"]["N"]) == int(entry["timestamp"]["N"]) + 3 * DAY_S
    assert json.loads(entry["reported"]["S"]) == {"temperature": 21}
