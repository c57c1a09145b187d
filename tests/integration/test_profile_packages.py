"""A device that joins a profile later (created by the operator in the profile, or provisioned into it)
gets the profile's firmware as fw_* shared attributes, like the profile's devices at assignment."""

from __future__ import annotations

import json
from typing import Any

from fleetgate.services import attributes
from tests.integration.conftest import Stack, event, with_body
from tests.integration.ota_steps import assign_profile, ready_package
from tests.integration.test_manage_profiles import create_profile

FIRMWARE = b"\x7fELF firmware image" * 10


def firmware_profile(stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    profile = create_profile(stack, "sensors", "ALLOW_CREATE_NEW_DEVICES")
    package = ready_package(stack, FIRMWARE, type="FIRMWARE", title="sensor-fw", version="3.1")
    status, body = assign_profile(stack, profile["id"], firmwareId=package["id"])
    assert status == 200, body
    return profile, package


def test_device_created_in_the_profile_gets_its_firmware_attributes(stack: Stack) -> None:
    profile, _ = firmware_profile(stack)

    created = stack.invoke(
        "ManageDevicesFunction",
        with_body(
            event("manage/create_device"), json.dumps({"name": "sensor-7", "profileId": profile["id"]})
        ),
    )

    assert created["statusCode"] == 201, created
    device_id = json.loads(created["body"])["data"]["id"]
    shared = attributes.read(device_id).desired
    assert shared["fw_title"] == "sensor-fw"
    assert shared["fw_version"] == "3.1"
    assert shared["fw_size"] == len(FIRMWARE)


def test_device_provisioned_into_the_profile_gets_its_firmware_attributes(stack: Stack) -> None:
    profile, _ = firmware_profile(stack)
    body = {
        "deviceName": "sensor-8",
        "provisionDeviceKey": profile["provisionDeviceKey"],
        "provisionDeviceSecret": profile["provisionDeviceSecret"],
    }

    response = stack.invoke(
        "TbProvisionFunction", with_body(event("thingsboard/provision"), json.dumps(body))
    )
    token = json.loads(response["body"])["credentialsValue"]
    read = stack.invoke(
        "TbGetAttributesFunction",
        {
            **event("thingsboard/get_attributes", token=token),
            "queryStringParameters": {"sharedKeys": "fw_title"},
        },
    )

    assert json.loads(read["body"]) == {"shared": {"fw_title": "sensor-fw"}}
