"""Handlers in process against moto's in-process AWS, with the resources and environment the
template declares, and events from ``events/``.

Every test gets a fresh account holding exactly the template's resources and no data. Provisioning
the template through moto's API costs about a second (nine tables, a user pool with its signing key),
so each test process provisions each template once (``_Provisionings``) and every test starts from
a deep copy of moto's backends as they stood right after provisioning (``_Pristine``): nothing a test
writes, creates or deletes is seen by the next one. The tests of one process also share one boto3
session (moto would start a new one per test), whose loader parses each service model once instead
of once per test; clients are still created afresh for each test.
"""

from __future__ import annotations

import base64
import copy
import copyreg
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.base_backend import BackendDict
from moto.s3.models import s3_backends

from fleetgate.services import reset_caches
from fleetgate_local.atomic_moto import make_dynamodb_atomic
from fleetgate_local.inprocess import InProcessFunctions, load_event
from fleetgate_local.resources import Provisioned, provision
from fleetgate_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TOKEN_PLACEHOLDER = "A1_TEST_TOKEN"
DEVICE_PLACEHOLDER = "8f14e45f-ceea-467f-a0e6-1a6b8c3b5a11"


@dataclass
class Stack:
    template: Template
    provisioned: Provisioned
    functions: InProcessFunctions

    def table(self, logical_id: str) -> str:
        return self.provisioned.physical_ids[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        return self.functions.invoke(logical_id, event)

    def count_items(self, logical_id: str) -> int:
        return int(boto3.client("dynamodb").scan(TableName=self.table(logical_id), Select="COUNT")["Count"])


@pytest.fixture(scope="session")
def template() -> Template:
    return Template.load(ROOT / "template.yaml")


_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


# moto's SQS queues hold a threading.Condition; a copied queue gets a lock of its own (a lock is state of
# the process, not of the account, so nothing of it needs copying).
copyreg.pickle(type(threading.RLock()), lambda _: (threading.RLock, ()))
copyreg.pickle(type(threading.Lock()), lambda _: (threading.Lock, ()))


class _Pristine:
    """moto's backends as they stood right after provisioning the template, restorable at will.

    ``restore`` runs inside a freshly started ``mock_aws`` (which has just emptied every backend) and
    installs a deep copy of each provisioned backend, so a test can change anything without it
    reaching the next test. S3 keeps one global map of bucket names to accounts beside its backends;
    it is restored too.
    """

    def __init__(self) -> None:
        self._backends = copy.deepcopy(
            {
                (backends, account): dict(regions)
                for backends in BackendDict._instances
                for account, regions in backends.items()
            },
            {id(backends): backends for backends in BackendDict._instances},
        )
        self._bucket_accounts = dict(s3_backends.bucket_accounts)

    def restore(self) -> None:
        copies = copy.deepcopy(self._backends, {id(backends): backends for backends, _ in self._backends})
        for (backends, account), regions in copies.items():
            for region, backend in regions.items():
                dict.__setitem__(backends[account], region, backend)
        s3_backends.bucket_accounts.update(self._bucket_accounts)


class _Provisionings:
    """Each template (its resources, parameter values, region and stack name) provisioned once per
    test process: what ``Ref``/``GetAtt`` give, and moto's backends right after provisioning."""

    def __init__(self) -> None:
        self._done: dict[str, tuple[Provisioned, _Pristine]] = {}

    def enter(self, template: Template) -> Provisioned:
        """Give the running (freshly reset) ``mock_aws`` the template's resources and nothing else."""
        key = json.dumps(
            [template.resources(), template.parameters, template.region, template.stack_name],
            sort_keys=True,
            default=str,
        )
        if key not in self._done:
            provisioned = provision(template, endpoint_url=None, region="us-east-1")
            self._done[key] = copy.deepcopy(provisioned), _Pristine()
            return provisioned
        provisioned, pristine = self._done[key]
        pristine.restore()
        return copy.deepcopy(provisioned)


@pytest.fixture(scope="session")
def _provisionings() -> _Provisionings:
    return _Provisionings()


@pytest.fixture(scope="session")
def _boto3_session() -> boto3.session.Session:
    """boto3's default session for the integration tests of this process."""
    return boto3.session.Session()


@pytest.fixture
def stack(
    template: Template,
    _provisionings: _Provisionings,
    _boto3_session: boto3.session.Session,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    """A fresh moto account holding the template's resources (and nothing else) for one test."""
    for name, value in _AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", _boto3_session)
    make_dynamodb_atomic()
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        provisioned = _provisionings.enter(template)
        reset_caches()
        yield Stack(template, provisioned, InProcessFunctions(template, provisioned))
    reset_caches()


def event(
    name: str, *, token: str = TOKEN_PLACEHOLDER, device_id: str = DEVICE_PLACEHOLDER
) -> dict[str, Any]:
    """The named event from ``events/`` addressed to ``token`` / ``device_id``."""
    return load_event(EVENTS / f"{name}.json", **{TOKEN_PLACEHOLDER: token, DEVICE_PLACEHOLDER: device_id})


def with_body(
    source: dict[str, Any], body: str | bytes | None, *, base64_encoded: bool = False
) -> dict[str, Any]:
    """A copy of ``source`` carrying ``body`` (as API Gateway would: text, or base64 when binary)."""
    result = copy.deepcopy(source)
    if body is None:
        result.pop("body", None)
        result["isBase64Encoded"] = False
        return result
    raw = body.encode() if isinstance(body, str) else body
    if base64_encoded or isinstance(body, bytes):
        result["body"], result["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    else:
        result["body"], result["isBase64Encoded"] = body, False
    result["headers"]["content-length"] = str(len(raw))
    return result


def with_query(source: dict[str, Any], query: dict[str, str] | None) -> dict[str, Any]:
    result = copy.deepcopy(source)
    if query:
        result["queryStringParameters"] = dict(query)
        result["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    else:
        result.pop("queryStringParameters", None)
        result["rawQueryString"] = ""
    return result


@dataclass
class Device:
    id: str
    token: str


@pytest.fixture
def device(stack: Stack) -> Device:
    """A device registered through the operator API."""
    return create_device(stack, "thermostat-1")


def create_device(stack: Stack, name: str) -> Device:
    response = stack.invoke(
        "ManageDevicesFunction", with_body(event("manage/create_device"), json.dumps({"name": name}))
    )
    assert response["statusCode"] == 201, response
    data = json.loads(response["body"])["data"]
    return Device(data["id"], data["credentials"]["accessToken"])


# --------------------------------------------------------------------------- ThingDatas (EMQX Fleets)
AUTH_PLACEHOLDER = "A1_TEST_AUTH"
DEVICE_KEY_PERMISSIONS = [
    {"method": "POST", "path": "/api/v1/thing-datas"},
    {"method": "GET", "path": "/api/v1/thing-datas"},
]


def basic_auth(key_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()


def create_api_key(
    stack: Stack,
    permissions: list[dict[str, str]] | None = None,
    thing_names: list[str] | None = None,
) -> str:
    """A deployment API key made through the operator API; returns its ``Authorization`` header value."""
    body: dict[str, Any] = {"name": "test key", "permissions": permissions or DEVICE_KEY_PERMISSIONS}
    if thing_names is not None:
        body["thingNames"] = thing_names
    response = stack.invoke(
        "ManageApiKeysFunction", with_body(event("manage/create_api_key"), json.dumps(body))
    )
    assert response["statusCode"] == 201, response
    data = json.loads(response["body"])["data"]
    return basic_auth(data["id"], data["secret"])


@pytest.fixture
def auth(stack: Stack) -> str:
    """The ``Authorization`` header of a device key allowed GET and POST on ``/api/v1/thing-datas``."""
    return create_api_key(stack)


def td_event(name: str, auth: str, body: Any = None, **path: str) -> dict[str, Any]:
    """The ThingDatas event ``events/thingdatas/<name>.json`` sent with ``auth``; ``body`` (JSON-encoded
    unless a str) replaces the event's body; ``path`` parameters (``thingName``, ``jobId``) readdress it."""
    result = load_event(EVENTS / "thingdatas" / f"{name}.json", **{AUTH_PLACEHOLDER: auth})
    for param, value in path.items():
        old = result["pathParameters"][param]
        result["pathParameters"][param] = value
        for holder in (result, result["requestContext"]["http"]):
            key = "rawPath" if holder is result else "path"
            holder[key] = holder[key].replace(f"/{old}/", f"/{value}/")
    if body is not None:
        result = with_body(result, body if isinstance(body, str) else json.dumps(body))
    return result


def td_call(
    stack: Stack, function: str, name: str, auth: str, body: Any = None, **path: str
) -> tuple[int, Any]:
    """Invoke a ThingDatas function with the named event; returns the status and the decoded JSON body."""
    response = stack.invoke(function, td_event(name, auth, body, **path))
    text = response.get("body") or ""
    return response["statusCode"], json.loads(text) if text else None
