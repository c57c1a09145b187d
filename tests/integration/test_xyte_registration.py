"""Xyte registration through the template's functions (``XyteRegisterFunction``): the seed's Register
Device body, the model API versions that change what registration takes and answers, bulk and child
registration, and every class of bad input (a clear 4xx in ``{"error", "code"}``, nothing written)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from fleetgate_local.template import Template
from tests.integration.conftest import ROOT, Stack
from tests.integration.xyte_steps import (
    FUNCTIONS,
    MODEL_PLACEHOLDER,
    XDevice,
    create_model,
    decoded,
    hub,
    register,
    registered,
    registration_event,
    registry_items,
)

API_HOST = "https://abc123.execute-api.us-east-1.amazonaws.com"  # the events' host


def test_the_seed_registration_answers_the_device_its_id_key_and_hub(stack: Stack) -> None:
    # Given a model of API 1.0.7
    _, key = create_model(stack, "1.0.7")

    # When a device registers with the seed's body
    status, answer = register(stack, key)

    # Then it gets 201, its id and key, the hub it came to (no MQTT endpoint configured) and device_id
    assert status == 201
    assert set(answer) == {"id", "access_key", "hub_url", "hub_url_static_cert", "mqtt_hub_url", "device_id"}
    assert answer["hub_url"] == answer["hub_url_static_cert"] == API_HOST
    assert answer["mqtt_hub_url"] is None and answer["device_id"] == answer["id"]
    # and the key opens the device's own info
    code, info = hub(stack, "device", "device_get", XDevice(answer["id"], answer["access_key"], answer))
    assert code == 200 and info["partner"]["mac"] == "11:22:33:44:55:66" and info["partner"]["sn"] == "112"
    assert info["name"] == "test device" and info["state"]["firmware_version"] == "1.0.1"
    assert answer["access_key"] not in json.dumps(registry_items(stack))  # only its digest is kept


def test_before_api_1_0_7_the_answer_has_no_device_id(stack: Stack) -> None:
    _, key = create_model(stack, "1.0.6")
    status, answer = register(stack, key)
    assert status == 201 and "device_id" not in answer


@pytest.fixture
def template(request: pytest.FixtureRequest) -> Template:
    return Template.load(ROOT / "template.yaml", getattr(request, "param", {}))


@pytest.mark.parametrize(
    "template",
    [
        {
            "XyteHubUrl": "https://hub.example.com/",
            "XyteMqttUrl": "mqtts://a1-ats.iot.us-east-1.amazonaws.com:8883",
        }
    ],
    indirect=True,
)
def test_the_configured_hub_and_mqtt_urls_are_answered(stack: Stack) -> None:
    _, key = create_model(stack)
    _, answer = register(stack, key)
    assert answer["hub_url"] == answer["hub_url_static_cert"] == "https://hub.example.com"
    assert answer["mqtt_hub_url"] == "mqtts://a1-ats.iot.us-east-1.amazonaws.com:8883"


def test_without_a_configured_url_registration_answers_the_stacks_own_mqtt_endpoint(stack: Stack) -> None:
    # Given the stack's domain configuration with its AWS-managed host (moto holds it; the local
    # provisioning only names it)
    boto3.client("iot").create_domain_configuration(
        domainConfigurationName=stack.provisioned.physical_ids["MqttDomainConfiguration"],
        domainName="a1b2c3-ats.iot.us-east-1.amazonaws.com",
        serviceType="DATA",
    )
    _, key = create_model(stack)

    # When a device registers, Then it is told to connect there, on 8883
    _, answer = register(stack, key)
    assert answer["mqtt_hub_url"] == "mqtts://a1b2c3-ats.iot.us-east-1.amazonaws.com:8883"


def test_a_device_registers_once_per_cloud_id_and_nano_id_is_its_old_name(stack: Stack) -> None:
    _, key = create_model(stack)
    registered(stack, key, cloud_id=None, mac=None, nano_id="cloud-7")
    before = registry_items(stack)

    status, answer = register(stack, key, cloud_id="cloud-7", mac=None, sn="other")

    assert status == 422 and answer == {"error": "This device is already registered", "code": "Conflict"}
    assert registry_items(stack) == before


def test_a_mac_is_one_mac_in_any_notation(stack: Stack) -> None:
    _, key = create_model(stack)
    registered(stack, key, cloud_id=None, mac="aa-bb-cc-dd-ee-ff", sn="9")
    status, _ = register(stack, key, cloud_id=None, mac="AABBCCDDEEFF", sn="9")
    assert status == 422
    assert registered(stack, key, cloud_id=None, mac="AABBCCDDEEFF", sn="10").id  # another serial number


def test_sn_is_required_with_a_cloud_id_from_api_1_0_2(stack: Stack) -> None:
    _, old = create_model(stack, "1.0.1", name="old")
    _, new = create_model(stack, "1.0.2", name="new")
    assert register(stack, old, mac=None, sn=None)[0] == 201
    before = registry_items(stack)
    status, answer = register(stack, new, mac=None, sn=None)
    assert status == 400 and answer["code"] == "InvalidRequest" and "sn is required" in answer["error"]
    assert registry_items(stack) == before


def test_firmware_must_be_semver_from_api_1_0_4(stack: Stack) -> None:
    _, old = create_model(stack, "1.0.3", name="old")
    _, new = create_model(stack, "1.0.4", name="new")
    assert register(stack, old, firmware_version="build 42")[0] == 201
    status, answer = register(stack, new, firmware_version="build 42")
    assert status == 400 and "SemVer" in answer["error"]


def test_an_unknown_hardware_key_is_404_and_writes_nothing(stack: Stack) -> None:
    create_model(stack)
    before = registry_items(stack)
    status, answer = register(stack, "0" * 32)
    assert (status, answer["code"]) == (404, "NotFound")
    assert registry_items(stack) == before


BAD_REGISTRATIONS: list[tuple[str, Any]] = [
    ("not JSON", "{hardware_key:"),
    ("an array", "[]"),
    ("no hardware key", {"hardware_key": None}),
    ("a number as hardware key", {"hardware_key": 7}),
    ("no identity", {"cloud_id": None, "mac": None}),
    ("a MAC without sn", {"cloud_id": None, "sn": None}),
    ("a malformed MAC", {"cloud_id": None, "mac": "11:22:33"}),
    ("a cloud id with a space", {"cloud_id": "a b"}),
    ("cloud_id and nano_id differ", {"nano_id": "other"}),
    ("no firmware", {"firmware_version": None}),
    ("details not an object", {"details": [1]}),
    ("a name of 257 characters", {"name": "n" * 257}),
    ("a name with a control character", {"name": "a\nb"}),
    ("an unknown parent", {"parent_id": "8f14e45f-ceea-467f-a0e6-000000000000"}),
]


@pytest.mark.parametrize(("case", "change"), BAD_REGISTRATIONS, ids=[c for c, _ in BAD_REGISTRATIONS])
def test_bad_registrations_are_400_and_write_nothing(stack: Stack, case: str, change: Any) -> None:
    _, key = create_model(stack)
    before = registry_items(stack)
    if isinstance(change, str):
        body: Any = change
    else:
        body = json.loads(registration_event(key)["body"]) | change
        body = {k: v for k, v in body.items() if v is not None}
    status, answer = decoded(stack.invoke(FUNCTIONS["register"], registration_event(key, body)))
    assert status == 400, answer
    assert answer["code"] == "InvalidRequest" and set(answer) == {"error", "code"}
    assert registry_items(stack) == before


# --------------------------------------------------------------------------- bulk
def test_a_bulk_registration_answers_each_object_in_order_and_writes_only_the_accepted(stack: Stack) -> None:
    # Given a model, and a device already registered as cloud id "taken"
    _, key = create_model(stack)
    registered(stack, key, cloud_id="taken", mac=None)
    seed = json.loads(registration_event(key, name="register_bulk_create")["body"])

    # When a bulk registration holds the seed's two objects, a duplicate, a bad one and a non-object
    body = [*seed, {"hardware_key": key, "cloud_id": "taken", "sn": "1", "firmware_version": "1.0.0"}]
    body += [{"hardware_key": key, "firmware_version": "1.0.0"}, "not an object"]
    status, answers = decoded(
        stack.invoke(FUNCTIONS["register"], registration_event(key, body, "register_bulk_create"))
    )

    # Then it answers 201 with one entry per object: two registrations, then why each other was refused
    assert status == 201 and len(answers) == 5
    assert all(set(a) >= {"id", "access_key", "hub_url"} for a in answers[:2])
    assert answers[2] == {"error": "This device is already registered", "code": "Conflict", "status": 422}
    assert answers[3]["code"] == "InvalidRequest" and answers[3]["status"] == 400
    assert answers[4]["code"] == "InvalidRequest"
    # and exactly the two accepted devices were added (three Xyte records in all)
    records = [i for i in registry_items(stack) if i["sk"]["S"] == "XYTE"]
    assert len(records) == 3


@pytest.mark.parametrize(("case", "body"), [("26 objects", "many"), ("an object", {}), ("empty", [])])
def test_a_bulk_registration_must_be_an_array_of_1_to_25(stack: Stack, case: str, body: Any) -> None:
    _, key = create_model(stack)
    if body == "many":
        body = [
            {"hardware_key": key, "cloud_id": f"c{i}", "sn": "1", "firmware_version": "1.0.0"}
            for i in range(26)
        ]
    before = registry_items(stack)
    status, answer = decoded(
        stack.invoke(FUNCTIONS["register"], registration_event(key, body, "register_bulk_create"))
    )
    assert status == 400 and answer["code"] == "InvalidRequest"
    assert registry_items(stack) == before


# --------------------------------------------------------------------------- children
def test_a_parent_registers_a_child_once_per_serial_number(stack: Stack) -> None:
    # Given a parent device and a child model
    _, key = create_model(stack)
    child_model, _ = create_model(stack, "1.0.4", name="Speaker")
    parent = registered(stack, key)

    # When the parent registers the seed's child with its own key
    status, child = hub(stack, "register", "register_post_child", parent, **{MODEL_PLACEHOLDER: child_model})

    # Then the child gets its own key, is the parent's child, and the same serial number is refused again
    assert status == 201 and child["access_key"] and "device_id" not in child  # the child's model: 1.0.4
    code, children = hub(stack, "device", "device_get_children", parent)
    assert code == 200 and [c["id"] for c in children] == [child["id"]] and children[0]["sn"] == "child-1"
    again, answer = hub(stack, "register", "register_post_child", parent, **{MODEL_PLACEHOLDER: child_model})
    assert again == 422 and "serial number" in answer["error"]


def test_a_child_of_an_unknown_model_is_404_and_a_foreign_or_unknown_key_is_refused(stack: Stack) -> None:
    _, key = create_model(stack)
    child_model, _ = create_model(stack, name="Speaker")
    parent = registered(stack, key)
    other = registered(stack, key, cloud_id="other", mac=None)
    before = registry_items(stack)

    unknown = hub(stack, "register", "register_post_child", parent, **{MODEL_PLACEHOLDER: "no-such-model"})
    foreign = hub(
        stack, "register", "register_post_child", parent, token=other.key, **{MODEL_PLACEHOLDER: child_model}
    )
    nobody = hub(
        stack, "register", "register_post_child", parent, token="wrong", **{MODEL_PLACEHOLDER: child_model}
    )

    assert (unknown[0], unknown[1]["code"]) == (404, "NotFound")
    assert (foreign[0], foreign[1]["code"]) == (403, "Forbidden")
    assert (nobody[0], nobody[1]["code"]) == (401, "Unauthorized")
    assert registry_items(stack) == before


def test_a_deleted_child_leaves_its_parents_children(stack: Stack) -> None:
    _, key = create_model(stack)
    child_model, _ = create_model(stack, name="Speaker")
    parent = registered(stack, key)
    _, answer = hub(stack, "register", "register_post_child", parent, **{MODEL_PLACEHOLDER: child_model})
    child = XDevice(answer["id"], answer["access_key"], answer)
    assert hub(stack, "delete", "delete_device", child)[0] == 200

    assert hub(stack, "device", "device_get_children", parent) == (200, [])
    # and the serial number is free again
    assert hub(stack, "register", "register_post_child", parent, **{MODEL_PLACEHOLDER: child_model})[0] == 201
