"""Every operator listing takes back only the ``nextToken`` it issued: a token that decodes to JSON but
has other attribute names or types, extra or missing keys, another partition or a key outside the
listing is a 400 in the operator envelope, and is never sent to DynamoDB (moto would crash on it, and
DynamoDB would answer a 500-worthy ValidationException)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fleetgate_local.inprocess import recorded_aws_calls
from tests.integration.conftest import (
    Stack,
    create_api_key,
    create_device,
    event,
    td_call,
    with_body,
    with_query,
)

THING = "thermostat-001"  # the name the ThingDatas seed events address
GROUP = "thermostats"  # the group the thing-group events address
JOB = "firmware-2-0-0"  # the job the job events address
INVALID = {"error": {"code": 400, "message": "Invalid nextToken"}}


def manage(stack: Stack, function: str, name: str, *, body: Any = None, **path: str) -> dict[str, Any]:
    """Invoke ``function`` with ``events/manage/<name>.json``, its path parameters readdressed."""
    ev = event(f"manage/{name}")
    for param, value in path.items():
        old = ev["pathParameters"][param]
        ev["pathParameters"][param] = value
        for holder, key in ((ev, "rawPath"), (ev["requestContext"]["http"], "path")):
            holder[key] = "/".join(value if part == old else part for part in holder[key].split("/"))
    if body is not None:
        ev = with_body(ev, json.dumps(body))
    response = stack.invoke(function, ev)
    assert response["statusCode"] in (200, 201), response
    return response


def created_id(response: dict[str, Any]) -> str:
    return str(json.loads(response["body"])["data"]["id"])


# --------------------------------------------------------------------------- what each listing needs
def seed_devices(stack: Stack) -> dict[str, str]:
    create_device(stack, "a-dev")
    create_device(stack, "b-dev")
    return {}


def seed_profiles(stack: Stack) -> dict[str, str]:
    for name in ("profile-a", "profile-b"):
        manage(
            stack,
            "ManageProfilesFunction",
            "create_device_profile",
            body={"name": name, "provisionStrategy": "ALLOW_CREATE_NEW_DEVICES"},
        )
    return {}


def seed_profile_devices(stack: Stack) -> dict[str, str]:
    profile = created_id(
        manage(
            stack,
            "ManageProfilesFunction",
            "create_device_profile",
            body={"name": "profile-a", "provisionStrategy": "ALLOW_CREATE_NEW_DEVICES"},
        )
    )
    for name in ("a-dev", "b-dev"):
        manage(stack, "ManageDevicesFunction", "create_device", body={"name": name, "profileId": profile})
    return {"device_id": profile}


def seed_api_keys(stack: Stack) -> dict[str, str]:
    create_api_key(stack)
    create_api_key(stack)
    return {}


def seed_groups(stack: Stack) -> dict[str, str]:
    for name in (GROUP, "other-group"):
        manage(stack, "ManageThingGroupsFunction", "create_thing_group", body={"name": name})
    return {}


def seed_group_members(stack: Stack) -> dict[str, str]:
    manage(stack, "ManageThingGroupsFunction", "create_thing_group", body={"name": GROUP})
    for name in ("a-dev", "b-dev"):
        create_device(stack, name)
        manage(stack, "ManageThingGroupsFunction", "add_thing_to_group", groupName=GROUP, thingName=name)
    return {}


def seed_packages(stack: Stack) -> dict[str, str]:
    for version in ("1.0.0", "1.1.0"):
        manage(
            stack,
            "ManageOtaFunction",
            "create_ota_package",
            body={"type": "FIRMWARE", "title": "thermostat-fw", "version": version},
        )
    return {}


def seed_jobs(stack: Stack) -> dict[str, str]:
    create_device(stack, "a-dev")
    for job in (JOB, "another-job"):
        manage(
            stack,
            "ManageJobsFunction",
            "create_job",
            body={"jobId": job, "document": {"op": "install"}, "targets": {"thingNames": ["a-dev"]}},
        )
    return {}


def seed_job_executions(stack: Stack) -> dict[str, str]:
    for name in ("a-dev", "b-dev"):
        create_device(stack, name)
    manage(
        stack,
        "ManageJobsFunction",
        "create_job",
        body={"jobId": JOB, "document": {"op": "install"}, "targets": {"thingNames": ["a-dev", "b-dev"]}},
    )
    return {}


def seed_events(stack: Stack) -> dict[str, str]:
    thing = create_device(stack, THING)
    auth = create_api_key(stack)
    for at in (1_748_390_400_000, 1_748_390_500_000):
        body = {"thingName": THING, "eventType": "highTemperature", "timestamp": at}
        assert td_call(stack, "TdPostEventFunction", "post_event", auth, body)[0] == 200
    return {"device_id": thing.id}


def seed_named_shadows(stack: Stack) -> dict[str, str]:
    thing = create_device(stack, THING)
    for name in ("alpha", "beta"):
        ev = with_query(event("manage/update_shadow_desired", device_id=thing.id), {"name": name})
        response = stack.invoke(
            "ManageShadowsFunction", with_body(ev, json.dumps({"state": {"desired": {"on": True}}}))
        )
        assert response["statusCode"] == 200, response
    return {"device_id": thing.id}


def seed_history(stack: Stack) -> dict[str, str]:
    thing = create_device(stack, THING)
    auth = create_api_key(stack)
    for value in (20, 21):
        body = {"thingName": THING, "state": {"reported": {"temperature": value}}}
        assert td_call(stack, "TdPostShadowReportedFunction", "post_shadow_reported", auth, body)[0] == 200
    return {"device_id": thing.id}


@dataclass(frozen=True)
class Listing:
    function: str
    event: str
    seed: Callable[[Stack], dict[str, str]]
    scope: str  # the attribute holding the partition the listing reads
    prefix: tuple[str, str] | None = None  # a sort attribute and a value outside the listing


LISTINGS = {
    "devices": Listing("ManageDevicesFunction", "list_devices", seed_devices, "kind"),
    "device-profiles": Listing("ManageProfilesFunction", "list_device_profiles", seed_profiles, "kind"),
    "profile-devices": Listing(
        "ManageProfilesFunction", "list_device_profile_devices", seed_profile_devices, "profileId"
    ),
    "api-keys": Listing("ManageApiKeysFunction", "list_api_keys", seed_api_keys, "kind"),
    "thing-groups": Listing("ManageThingGroupsFunction", "list_thing_groups", seed_groups, "kind"),
    "group-members": Listing(
        "ManageThingGroupsFunction", "list_thing_group_members", seed_group_members, "pk", ("sk", "JOB#x")
    ),
    "ota-packages": Listing(
        "ManageOtaFunction", "list_ota_packages", seed_packages, "kind", ("listKey", "SOFTWARE#1#x")
    ),
    "jobs": Listing("ManageJobsFunction", "list_jobs", seed_jobs, "kind"),
    "job-executions": Listing("ManageJobsFunction", "list_job_executions", seed_job_executions, "jobId"),
    "events": Listing("ManageEventsFunction", "list_device_events", seed_events, "deviceId"),
    "named-shadows": Listing("ManageShadowsFunction", "list_named_shadows", seed_named_shadows, "deviceId"),
    "shadow-history": Listing(
        "ManageShadowsFunction", "get_shadow_history", seed_history, "deviceId", ("entry", "other#0000000001")
    ),
}


def listing_event(listing: Listing, path: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    ev = event(f"manage/{listing.event}", **path)
    return with_query(ev, {**(ev.get("queryStringParameters") or {}), **query})


def token(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def forgeries(key: dict[str, Any], listing: Listing) -> dict[str, Any]:
    """Tokens that decode to JSON but that this listing never issued, made from one it did."""
    first_other = sorted(name for name in key if name != listing.scope)[0]
    kind, value = next(iter(key[first_other].items()))
    forged: dict[str, Any] = {
        "extra key": key | {"extra": {"S": "x"}},
        "missing key": {k: v for k, v in key.items() if k != first_other},
        "renamed key": {("x" + k if k == first_other else k): v for k, v in key.items()},
        "other type": key | {first_other: {"S": value} if kind == "N" else {"N": "1"}},
        "number as value": key | {first_other: {kind: 5}},
        "two types": key | {first_other: {"S": "a", "N": "1"}},
        "other partition": key | {listing.scope: {"S": "someone-else"}},
        "a list": [key],
        "a string": "pk",
    }
    numbers = [name for name, v in key.items() if "N" in v]
    if numbers:
        forged["not a number"] = key | {numbers[0]: {"N": "one"}}
        forged["a number DynamoDB cannot hold"] = key | {numbers[0]: {"N": "1e400"}}
        forged["a number of 39 digits"] = key | {numbers[0]: {"N": "1" * 39}}
    strings = [name for name, v in key.items() if "S" in v and name != listing.scope]
    if strings:
        forged["an empty string"] = key | {strings[0]: {"S": ""}}
    if listing.prefix is not None:
        name, outside = listing.prefix
        forged["outside the listing"] = key | {name: {"S": outside}}
    return forged


def first_page(stack: Stack, listing: Listing, path: dict[str, str]) -> dict[str, Any]:
    response = stack.invoke(listing.function, listing_event(listing, path, {"limit": "1"}))
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    assert len(body["data"]) == 1 and body["nextToken"]
    return body


@pytest.mark.parametrize("name", list(LISTINGS))
def test_the_issued_token_reads_the_next_page_and_no_other_token_reaches_dynamodb(
    stack: Stack, name: str
) -> None:
    listing = LISTINGS[name]
    path = listing.seed(stack)
    first = first_page(stack, listing, path)
    issued = json.loads(base64.urlsafe_b64decode(first["nextToken"]))

    answers: dict[str, tuple[int, Any]] = {}
    with recorded_aws_calls() as calls:
        for forgery, forged in forgeries(issued, listing).items():
            response = stack.invoke(
                listing.function, listing_event(listing, path, {"limit": "1", "nextToken": token(forged)})
            )
            answers[forgery] = (response["statusCode"], json.loads(response["body"]))
    genuine = stack.invoke(
        listing.function, listing_event(listing, path, {"limit": "1", "nextToken": first["nextToken"]})
    )

    assert {forgery: answer for forgery, answer in answers.items() if answer != (400, INVALID)} == {}
    assert not [c for c in calls if c.operation == "Query" and "ExclusiveStartKey" in c.params]
    assert genuine["statusCode"] == 200, genuine
    second = json.loads(genuine["body"])["data"]
    assert len(second) == 1 and second != first["data"]
