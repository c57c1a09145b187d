"""Every route of ``fleetgate.contracts.xyte_sync`` answers as ``docs/openapi.json`` says: one walk that
succeeds on each of them (each answer checked against the document by ``xyte_sync_steps.call``), with the
errors each documents."""

from __future__ import annotations

from fleetgate.contracts.xyte_sync import OPERATIONS
from tests.integration.conftest import Stack
from tests.integration.xyte_sync_steps import (  # noqa: F401 - fixtures
    ANSWERS,
    UNKNOWN,
    _core_settings,
    call,
    ok,
    register,
    template,
)


def test_every_route_succeeds_and_its_errors_conform(stack: Stack) -> None:
    ANSWERS.clear()
    device = register("1.0.7")
    ok(stack, "manage/xyte_set_config", device.id, {"config": {"input": "hdmi"}})
    ok(stack, "manage/xyte_get_config", device.id)
    ok(stack, "manage/xyte_config_versions", device.id)
    got = ok(stack, "xyte/config_get_config", device)
    ok(stack, "xyte/config_set_config", device, got)
    assert call(stack, "xyte/config_set_config", device, {"version": 0, "config": {}})[0] == 422

    command = ok(stack, "manage/xyte_send_command", device.id, {"name": "reboot"}, status=201)["data"]["id"]
    ok(stack, "manage/xyte_list_commands", device.id)
    ok(stack, "manage/xyte_get_command", device.id, command=command)
    ok(stack, "xyte/command_get_command", device)
    ok(stack, "xyte/command_pending_commands", device)
    ok(stack, "xyte/command_update_command", device, command=command)  # the event's body: done
    assert call(stack, "xyte/command_update_command", device, {"id": command, "status": "failed"})[0] == 422
    assert call(stack, "xyte/command_update_command", device, {"id": UNKNOWN, "status": "done"})[0] == 404
    other = ok(stack, "manage/xyte_send_command", device.id, {"name": "dump"}, status=201)["data"]["id"]
    ok(stack, "manage/xyte_cancel_command", device.id, command=other)
    assert call(stack, "manage/xyte_cancel_command", device.id, command=other)[0] == 409

    license_id = ok(stack, "manage/xyte_add_license", device.id, status=201)["data"]["id"]
    ok(stack, "manage/xyte_list_licenses", device.id)
    ok(stack, "manage/xyte_get_license", device.id, license=license_id)
    ok(stack, "manage/xyte_update_license", device.id, license=license_id)
    ok(stack, "xyte/licenses_get_license", device)
    ok(stack, "xyte/licenses_get_licenses", device)
    ok(stack, "xyte/licenses_update_license", device, license=license_id)
    assert call(stack, "xyte/licenses_update_license", device, {"id": license_id, "state": "error"})[0] == 422
    ok(stack, "manage/xyte_remove_license", device.id, license=license_id)
    assert call(stack, "xyte/licenses_get_license", device, key="nope")[0] == 401

    succeeded = {key for key, status in ANSWERS if status < 300}
    assert {op.route_key for op in OPERATIONS} - succeeded == set()
    assert {401, 404, 409, 422} <= {status for _, status in ANSWERS}


# Every registry attribute each device function may write (its inline statement's dynamodb:Attributes)
OWN_ATTRIBUTES = {
    "XyteConfigFunction": {
        "pk",
        "sk",
        "configVersion",
        "version",
        "name",
        "config",
        "updatedAt",
        "source",
        "appliedVersion",
        "appliedAt",
    },
    "XyteCommandFunction": {"pk", "sk", "commandPending", "commandSeq"},
    "XyteLicensesFunction": {
        "pk",
        "sk",
        "licenseId",
        "data",
        "signature",
        "action",
        "state",
        "createdAt",
        "updatedAt",
        "revision",
        "expiresAt",
        "error",
        "answeredAt",
        "newLicenses",
        "licenseSeq",
    },
}
OWN_ATTRIBUTES["XyteOnConfigUpdateFunction"] = OWN_ATTRIBUTES["XyteConfigFunction"]
OWN_ATTRIBUTES["XyteOnCommandsUpdateFunction"] = OWN_ATTRIBUTES["XyteCommandFunction"]
OWN_ATTRIBUTES["XyteOnLicenseUpdateFunction"] = OWN_ATTRIBUTES["XyteLicensesFunction"]


def test_device_functions_write_only_their_own_items_of_the_registry(stack: Stack) -> None:
    resources = stack.template.resources()
    for function, attributes in OWN_ATTRIBUTES.items():
        policies = resources[function]["Properties"]["Policies"]
        writes = [
            statement
            for policy in policies
            if "Statement" in policy
            for statement in policy["Statement"]
            if statement.get("Resource") == {"Fn::GetAtt": ["DevicesTable", "Arn"]}
        ]
        assert {"DynamoDBReadPolicy": {"TableName": {"Ref": "DevicesTable"}}} in policies, function
        assert not [p for p in policies if "DynamoDBCrudPolicy" in p and "DevicesTable" in str(p)], function
        [statement] = writes
        assert statement["Condition"]["ForAllValues:StringLike"] == {"dynamodb:LeadingKeys": ["DEVICE#*"]}
        assert set(statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]) == attributes


def test_the_written_attributes_are_within_the_statements(stack: Stack) -> None:
    """What the device functions write (config, command answers, license answers) names only the
    attributes their statements allow."""
    from fleetgate_local.inprocess import recorded_aws_calls  # noqa: PLC0415

    device = register("1.0.7")
    command = ok(stack, "manage/xyte_send_command", device.id, {"name": "reboot"}, status=201)["data"]["id"]
    license_id = ok(stack, "manage/xyte_add_license", device.id, status=201)["data"]["id"]
    for function, name, body, ids in (
        ("XyteConfigFunction", "xyte/config_set_config", {"config": {"a": 1}}, {}),
        ("XyteCommandFunction", "xyte/command_update_command", None, {"command": command}),
        ("XyteLicensesFunction", "xyte/licenses_update_license", None, {"license": license_id}),
    ):
        with recorded_aws_calls() as calls:
            ok(stack, name, device, body, **ids)
        for c in calls:
            if c.service != "dynamodb" or c.params.get("TableName") != stack.table("DevicesTable"):
                for item in c.params.get("TransactItems", []):
                    written = next(iter(item.values()))
                    assert _attributes(written) <= OWN_ATTRIBUTES[function], (function, written)
                continue
            if c.operation in {"PutItem", "UpdateItem", "DeleteItem"}:
                assert _attributes(c.params) <= OWN_ATTRIBUTES[function], (function, c.operation, c.params)


def _attributes(params: dict) -> set[str]:
    import re  # noqa: PLC0415

    names = set(params.get("Item", {})) | set(params.get("Key", {}))
    for text in (params.get("UpdateExpression", ""), params.get("ConditionExpression", "")):
        names |= set(re.findall(r"(?<![:#\w])([A-Za-z][A-Za-z0-9]*)\b", text)) - {
            "SET",
            "ADD",
            "REMOVE",
            "AND",
            "OR",
            "NOT",
            "attribute_exists",
            "attribute_not_exists",
            "IN",
        }
    names |= set(params.get("ExpressionAttributeNames", {}).values())
    return {n for n in names if not n.startswith("#")}
