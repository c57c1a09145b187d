"""Fuzzing every route of every dialect (schemathesis, against the local stack): positive and negative
cases with real credentials and ids, so generated requests get past authentication. Every answer must
be below 500 and conform to the OpenAPI document, status and body; each dialect gets at least
``MIN_REQUESTS`` requests. Figures are printed with ``-s`` and kept in ``.pytest_cache``."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetgate.contracts.openapi import document
from fleetgate_local.stack import LocalStack
from tests.figures import record_figure
from tests.fuzz.harness import run
from tests.fuzz.seeding import Seeds

pytestmark = pytest.mark.e2e

MIN_REQUESTS = 1000
SEED = int(os.environ.get("FUZZ_SEED", "20261201"))  # a fixed seed keeps CI reproducible
# Examples per operation and phase: the dialects have 11, 8, 28 and 90 operations.
# positive_data_acceptance's default statuses for a valid request
ACCEPTED = ["2xx", "3xx", 401, 403, 404, 409, 429, "5xx"]
# Xyte answers a conflict with the state (already registered, a stale config version, an ended command
# or license answer, 100 open incidents) with 422, where the other dialects say 409
XYTE_ACCEPTED = [*ACCEPTED, 422]
MAX_EXAMPLES = {"ThingsBoard": 60, "ThingDatas": 70, "Xyte": 25, "Operator": 6}
# Operations with a rule beyond JSON Schema, and the rule.
BEYOND_SCHEMA = {
    "POST /manage/v1/devices": "profileId must name an existing profile",
    "POST /manage/v1/jobs": "thresholdPercentage has at most two decimals",
    "POST /manage/v1/devices/{id}/rpc": "expirationTime must be in the future",
    "GET /manage/v1/devices/{id}/telemetry": "startTs must not be after endTs",
    "GET /manage/v1/devices/{id}/events": "startTs must not be after endTs",
    "POST /api/v1/{token}/attributes": "the shadow's limits: 8 KB, depth 6, no null inside arrays",
    "POST /api/v1/thing-datas/shadow/reported": "the shadow's limits: 8 KB, depth 6, no null inside arrays",
    "POST /api/v1/thing-datas/jobs/start-next": "statusDetails values refuse Unicode category C",
    "POST /api/v1/thing-datas/jobs/{jobId}/update": "statusDetails values refuse Unicode category C",
    "POST /manage/v1/jobs/{jobId}/cancel": "a comment refuses Unicode category C",
    "POST /v1/devices/{device_id}/config": "the body's shape follows the device's model API version "
    "(flat before 1.0.5, {config, ...} from it), which the path's id does not show",
    # what a Xyte model's API version changes, which the path's device id does not show
    "POST /v1/devices/{device_id}/command": "id is required from model API 1.0.1",
    "PUT /v1/devices/{device_id}": "firmware_version is SemVer from model API 1.0.4",
    "PATCH /manage/v1/xyte/models/{id}": "latest_fw_version is SemVer from model API 1.0.4",
    "POST /manage/v1/xyte/devices/{id}/commands": "a name refuses Unicode categories C and Z but the space",
    "POST /v1/devices": "firmware_version is SemVer and sn is required with cloud_id from 1.0.4 and 1.0.2",
    "POST /v1/devices/{device_id}/children": "firmware_version is SemVer from the child model's API 1.0.4",
    "POST /v1/devices/{device_id}/telemetry": "timestamp from 2000 up to a day ahead of the server's clock",
    "POST /v1/devices/{device_id}/events": "timestamp from 2000 up to a day ahead of the server's clock",
    # a binary body's length is no JSON Schema bound
    "POST /v1/devices/{device_id}/dumps/{dump_path+}": "the dump's bytes are not empty",
    "PUT /v1/devices/{device_id}/dumps/{dump_id}": "the appended bytes are not empty",
    # the gateway's own path: none under /api/v1/ (that is the cloud's) and no empty segment
    "POST /manage/v1/thingspro/gateways/{id}/requests": "path is the gateway's: not /api/v1/..., no //",
}
PAGE_TOKEN = "nextToken must be one the listing issued"  # every paged listing's rule beyond the schema


def beyond_schema(document: dict[str, Any]) -> dict[str, str]:
    """``BEYOND_SCHEMA`` and every listing that takes a ``nextToken``."""
    paged = {
        f"{method.upper()} {path}": PAGE_TOKEN
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
        and any(p.get("name") == "nextToken" for p in operation.get("parameters", []))
    }
    return {**paged, **BEYOND_SCHEMA}


def xyte_operations(seeds: Seeds) -> list[dict[str, Any]]:
    """The Xyte hub's per-operation settings: real ids in bodies, an ISO timestamp (Xyte's is a string,
    from 2000 to a day ahead of the server's clock, a bound no schema can state: the seeding time stands in
    for it), and 422 among a valid request's answers."""
    x = seeds.x
    now = datetime.fromtimestamp(seeds.now_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    common = {"body.timestamp": now, "body.hardware_key": x.hardware_key, "body.model_id": x.model_id}
    accept = {"positive_data_acceptance": {"expected-statuses": XYTE_ACCEPTED}}
    # One filter per setting: schemathesis ORs the include-* keys of one entry, so method and path go
    # together in include-name
    return [
        # an update names the seeded command or license
        {
            "include-name": "POST /v1/devices/{device_id}/command",
            "parameters": {**common, "body.id": x.command_id},
            "checks": accept,
        },
        {
            "include-name": "POST /v1/devices/{device_id}/licenses",
            "parameters": {**common, "body.id": x.license_id},
            "checks": accept,
        },
        # the device deletes itself: the second device, with its own key, so the first stays for the rest
        {
            "include-name": "DELETE /v1/devices/{device_id}",
            "parameters": {**common, "path.device_id": x.doomed_id},
            "headers": {"Authorization": x.doomed_key},
            "checks": accept,
        },
        {"include-tag": "Xyte", "parameters": common, "checks": accept},
    ]


def config(seeds: Seeds, tag: str, document: dict[str, Any]) -> dict[str, Any]:
    x = seeds.x
    return {
        "seed": SEED,
        "base-url": seeds.url,
        "workers": 4,  # long-polls wait their (capped) second; other operations go on meanwhile
        "continue-on-failure": True,
        "request-timeout": 30,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES[tag], "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {"unsupported_method": {"enabled": False}},
        "auth": {
            "openapi": {
                "thingDatasBasic": {"username": seeds.api_key_id, "password": seeds.api_key_secret},
                "operatorJwt": {"bearer": seeds.operator_token},
                "xyteAccessKey": {"api_key": x.access_key},
            }
        },
        "parameters": {
            "path.token": seeds.access_token,
            "path.thingName": seeds.thing_name,
            "path.jobId": seeds.job_id,
            "path.keyId": seeds.api_key_id,
            "path.groupName": seeds.group_name,
            "path.rpcId": seeds.rpc_id,
            "path.executionId": seeds.execution_id,
            # Xyte: the hub's device and the ids of its data; the operator's Xyte routes' ids
            "path.device_id": x.device_id,
            "path.file_id": x.file_id,
            "path.dump_id": x.dump_id,
            # Send Dump's greedy <mime type>/<subtype>/<file name>: almost every generated value has a
            # slash in the wrong place and is filtered out before it is sent (hypothesis's
            # filter_too_much health check); the agent's own path stands in, the body is still fuzzed
            "path.dump_path+": "text/txt/agent.log",
            "path.incident_id": x.incident_id,
            "path.modelId": x.model_id,
            "path.fileId": x.file_id,
            "path.dumpId": x.dump_id,
            "path.incidentId": x.incident_id,
            "path.commandId": x.command_id,
            "path.licenseId": x.license_id,
            # bodies name the seeded thing and profile, so requests get past the lookup to the rules
            "body.thingName": seeds.thing_name,
            "body.provisionDeviceKey": seeds.provision_key,
            "body.provisionDeviceSecret": seeds.provision_secret,
            # a device joins a profile that exists (an unknown profileId is a 400: no schema knows ids)
            "body.profileId": seeds.profile_id,
            # an event's timestamp may be at most a day ahead of the server's clock, a bound no schema
            # can state: the seeding time stands in for it
            "body.timestamp": seeds.now_ms,
            # a package download names the assigned package (another title or version is ThingsBoard's 400)
            "query.title": seeds.package_title,
            "query.version": seeds.package_version,
        },
        "operations": [
            # Rules no JSON Schema can state (each is in the operation's description): a valid-looking
            # request may get its dialect's documented 400 there, whose body is still checked.
            *(
                {
                    "include-name": name,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*(XYTE_ACCEPTED if " /v1/" in name else ACCEPTED), 400]
                        }
                    },
                }
                for name in beyond_schema(document)
            ),
            # a long-poll with nothing to deliver ends in its documented 408, whatever the request
            {
                "include-name-regex": r"^GET /api/v1/\{token\}/(rpc|attributes/updates)$",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, 408]}},
            },
            # a two-way RPC no device answers in time is the documented 504 (harness.DOWNSTREAM_TIMEOUTS)
            {
                "include-name": "POST /manage/v1/devices/{id}/rpc",
                "parameters": {"path.id": seeds.device_id},
                "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", 504]}},
            },
            # the device's RPC id where a device answers it (an operator's ThingsPro requestId is left to
            # the fuzzer: a fixed value there would stand in for the invalid ones of the negative cases)
            {
                "include-name": "POST /api/v1/{token}/rpc/{requestId}",
                "parameters": {"path.requestId": seeds.rpc_request_id},
            },
            *xyte_operations(seeds),
            {"include-path-regex": "^/manage/v1/xyte/devices/", "parameters": {"path.id": x.device_id}},
            {"include-path-regex": "^/manage/v1/xyte/models/", "parameters": {"path.id": x.model_id}},
            {"include-path-regex": "^/manage/v1/devices/", "parameters": {"path.id": seeds.device_id}},
            {
                "include-path-regex": "^/manage/v1/device-profiles/",
                "parameters": {"path.id": seeds.profile_id},
            },
            {"include-path-regex": "^/manage/v1/ota-packages/", "parameters": {"path.id": seeds.package_id}},
        ],
    }


@pytest.mark.timeout(1200)  # a dialect takes 2-4 minutes on two loaded cores
@pytest.mark.parametrize("tag", list(MAX_EXAMPLES))
def test_every_answer_is_below_500_and_as_documented(
    tag: str, fuzz_stack: LocalStack, seeds: Seeds, fuzz_log: Path, request: pytest.FixtureRequest
) -> None:
    described = document(server_url=seeds.url)
    tally = run(described, config(seeds, tag, described), tag)
    summary = tally.summary()
    print(f"\nfuzz {tag}: {json.dumps(summary)}")
    record_figure(request.config, f"fuzz {tag}", summary)
    assert not tally.errors, "\n".join(tally.errors)
    assert not tally.server_errors, f"tracebacks in {fuzz_log}:\n" + "\n".join(tally.server_errors[:20])
    every = fuzz_log.parent / f"failures-{tag}.txt"
    every.write_text("\n".join(tally.failures), encoding="utf-8")
    assert not tally.failures, f"all {len(tally.failures)} in {every}:\n" + "\n".join(tally.failures[:30])
    assert tally.requests >= MIN_REQUESTS, summary
