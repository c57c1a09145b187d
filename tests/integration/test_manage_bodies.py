"""Every operator route that reads a body reads it through one parser: a body that is not UTF-8 or not
JSON is a 400 in the operator envelope (never a 500), and the route changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import Stack, event, with_body

ROUTES = [
    pytest.param("ManageDevicesFunction", "create_device", id="create-device"),
    pytest.param("ManageDevicesFunction", "claim_device", id="claim-device"),
    pytest.param("ManageDevicesFunction", "put_shared_attributes", id="put-shared-attributes"),
    pytest.param("ManageOtaFunction", "put_device_ota", id="assign-ota"),
    pytest.param("ManageProfilesFunction", "create_device_profile", id="create-profile"),
    pytest.param("ManageProfilesFunction", "update_device_profile", id="update-profile"),
    pytest.param("ManageApiKeysFunction", "create_api_key", id="create-api-key"),
    pytest.param("ManageThingGroupsFunction", "create_thing_group", id="create-group"),
    pytest.param("ManageOtaFunction", "create_ota_package", id="create-ota-package"),
    pytest.param("ManageJobsFunction", "create_job", id="create-job"),
    pytest.param("ManageJobsFunction", "cancel_job", id="cancel-job"),
    pytest.param("ManageShadowsFunction", "update_shadow_desired", id="patch-shadow"),
    pytest.param("ManageAuthFunction", "login", id="login"),
    pytest.param("ManageRpcFunction", "send_rpc", id="send-rpc"),
    pytest.param("ManageCommandsFunction", "send_command", id="send-command"),
]

TABLES = ("DevicesTable", "OtaTable", "JobsTable", "ShadowsTable", "RpcTable", "CommandsTable")


def written(stack: Stack) -> list[int]:
    return [stack.count_items(table) for table in TABLES]


@pytest.mark.parametrize(("function", "name"), ROUTES)
def test_a_body_that_is_not_utf8_or_not_a_json_object_is_400_and_changes_nothing(
    stack: Stack, function: str, name: str
) -> None:
    before = written(stack)

    answers = {
        body: stack.invoke(function, with_body(event(f"manage/{name}"), body))
        for body in (b'{"name": "\xff\xfe"}', "{not json", '{"a": NaN}', "[1, 2]")
    }

    assert {body: r["statusCode"] for body, r in answers.items() if r["statusCode"] != 400} == {}
    errors = {body: json.loads(r["body"]) for body, r in answers.items()}
    assert errors.pop(b'{"name": "\xff\xfe"}') == {
        "error": {"code": 400, "message": "The body must be UTF-8 text"}
    }
    for error in errors.values():
        message = error["error"]["message"]
        assert message.startswith("Invalid JSON: ") or message == "The body must be a JSON object", error
        assert error["error"]["code"] == 400
    assert written(stack) == before
