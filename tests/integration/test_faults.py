"""Injected AWS faults, route by route: a transient fault is retried and the request gets its normal
answer; a fault that lasts is a 503 in the dialect's own error format, with ``Retry-After``, never a 500;
and either way the tables hold exactly the state before the request or the whole state after it.

Faults are injected with botocore's event hooks on the session every client of the core is made from:
``before-call`` raises a ``ClientError`` before the request leaves (botocore does not retry it, so only
fleetgate's own retries can clear it). An HTTP error answer instead of moto's (in moto's own
``before-send`` handler, so that moto does not also carry the request out) goes through botocore's
configured retries, as a throttled request does on AWS. Clients are made afresh after the hooks are
registered, and faults are armed only while the request under test runs.
"""

from __future__ import annotations

import copy
import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto.core.botocore_stubber import BotocoreStubber

from fleetgate import retry
from fleetgate.services import reset_caches
from fleetgate_local.template import Template, load_template_file
from fleetgate_local.worker import LambdaContext
from tests.integration.conftest import (
    ROOT,
    Device,
    Stack,
    create_api_key,
    event,
    td_call,
    td_event,
    with_body,
    with_query,
)
from tests.integration.ota_steps import assign, download, ready_package

REAL_BUDGET = retry.budget_s
SEED_EXECUTION_ID = "8d88790c-9171-4526-8637-e6d6168bce22"  # the execution the command events address
THROTTLING = ("ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded")
TABLES = (
    "DevicesTable",
    "ShadowsTable",
    "ShadowHistoryTable",
    "RpcTable",
    "CommandsTable",
    "JobsTable",
    "TelemetryTable",
)


IOT_DATA_ENDPOINT = "https://data-ats.iot.us-east-1.amazonaws.com"  # the address moto's mock serves


@pytest.fixture
def template() -> Template:
    """The template with ``IotDataEndpoint`` set to moto's, so that commands are published to it."""
    return Template(copy.deepcopy(_template_document()), ROOT, {"IotDataEndpoint": IOT_DATA_ENDPOINT})


@functools.cache
def _template_document() -> dict[str, Any]:
    return load_template_file(ROOT / "template.yaml")


# --------------------------------------------------------------------------- injecting faults
@dataclass
class Fault:
    """One injected fault: ``event`` (e.g. ``before-call.dynamodb.TransactWriteItems``) fails its first
    ``times`` calls while armed (None: every call)."""

    event: str
    make: Callable[[], Any]
    times: int | None = None
    hits: int = 0


@dataclass
class Faults:
    session: boto3.session.Session
    faults: list[Fault] = field(default_factory=list)
    answered: list[Fault] = field(default_factory=list)  # answered in moto's place (``http_error``)
    armed: bool = False

    def _handler(self, fault: Fault) -> Callable[..., Any]:
        def handler(**_: Any) -> Any:
            if not self.armed or (fault.times is not None and fault.hits >= fault.times):
                return None
            fault.hits += 1
            return fault.make()

        return handler

    def _add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        self.session.events.register(fault.event, self._handler(fault), unique_id=f"fault-{id(fault)}")
        reset_caches()  # clients made from now on carry the hook
        return fault

    def error(
        self, service: str, operation: str, code: str, *, times: int | None = None, **extra: Any
    ) -> Fault:
        """``operation`` raises ``ClientError(code)`` before it is sent (``extra``: more of the response)."""

        def make() -> Any:
            raise ClientError({"Error": {"Code": code, "Message": f"injected {code}"}, **extra}, operation)

        return self._add(Fault(f"before-call.{service}.{operation}", make, times))

    def http_error(self, service: str, operation: str, status: int, code: str, *, times: int) -> Fault:
        """``operation`` is answered ``status`` with error ``code`` ``times`` times instead of by moto,
        through botocore's retry handling."""
        body = json.dumps({"__type": code, "message": f"injected {code}"}).encode()

        def make() -> AWSResponse:
            raw = SimpleNamespace(stream=lambda **_: iter([body]))
            headers = {"x-amzn-ErrorType": code, "x-amzn-query-error": f"{code};Sender"}
            return AWSResponse(f"https://{service}.amazonaws.com/", status, headers, raw)

        fault = Fault(f"before-send.{service}.{operation}", make, times)
        self.answered.append(fault)
        return fault

    def answer(self, event_name: str) -> AWSResponse | None:
        """The injected answer to a request moto is about to serve, if one is due."""
        for fault in self.answered:
            if self.armed and fault.event == event_name and (fault.times is None or fault.hits < fault.times):
                fault.hits += 1
                made: AWSResponse = fault.make()
                return made
        return None

    @contextmanager
    def on(self) -> Iterator[None]:
        self.armed = True
        try:
            yield
        finally:
            self.armed = False

    def clear(self) -> None:
        for fault in self.faults:
            self.session.events.unregister(fault.event, unique_id=f"fault-{id(fault)}")
        self.faults.clear()
        reset_caches()


@pytest.fixture
def faults(
    stack: Stack, _boto3_session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Faults]:
    # botocore's own retries nap for real (up to seconds for throttling): not in these tests
    monkeypatch.setattr(
        botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None, time=__import__("time").time)
    )
    # fleetgate's lost-race budget: 2 s instead of 8, so that lasting contention ends sooner
    monkeypatch.setattr(retry, "budget_s", lambda limit=retry.BUDGET_S: 2.0)
    injected = Faults(_boto3_session)
    serve = BotocoreStubber.__call__

    def stubbed(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        return injected.answer(event_name) or serve(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", stubbed)
    yield injected
    injected.clear()


def state(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """Every item of the tables a device request can write, in a stable order."""
    ddb = boto3.client("dynamodb")
    out = {}
    for logical in TABLES:
        items = ddb.scan(TableName=stack.table(logical)).get("Items", [])
        out[logical] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return out


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


# --------------------------------------------------------------------------- the routes under fault
@dataclass(frozen=True)
class Route:
    name: str
    send: Callable[[Stack, dict[str, Any]], dict[str, Any]]  # the request; its raw API Gateway answer
    writes: frozenset[str]  # the tables a successful request changes
    dialect: str  # thingsboard | thingdatas | manage


@pytest.fixture
def world(stack: Stack) -> dict[str, Any]:
    """A device that is also a ThingDatas thing, a device key for it, a started job execution, a sent
    command and an RPC it has taken."""
    response = stack.invoke(
        "ManageDevicesFunction",
        with_body(event("manage/create_device"), json.dumps({"name": "thermostat-001"})),
    )
    data = json.loads(response["body"])["data"]
    device = Device(data["id"], data["credentials"]["accessToken"])
    auth = create_api_key(stack, thing_names=["thermostat-001"])
    job = stack.invoke(
        "ManageJobsFunction",
        with_body(
            event("manage/create_job"),
            json.dumps(
                {"jobId": "fw-1", "document": {"v": 1}, "targets": {"thingNames": ["thermostat-001"]}}
            ),
        ),
    )
    assert job["statusCode"] == 201, job
    status, started = td_call(
        stack, "TdPostJobsStartNextFunction", "post_jobs_start_next", auth, {"thingName": "thermostat-001"}
    )
    assert status == 200, started
    sent = stack.invoke(
        "ManageCommandsFunction",
        with_body(
            event("manage/send_command", device_id=device.id), json.dumps({"action": "reboot", "ttl": 600})
        ),
    )
    assert sent["statusCode"] == 201, sent
    rpc = stack.invoke(
        "ManageRpcFunction",
        with_body(
            event("manage/send_persistent_rpc", device_id=device.id),
            json.dumps({"method": "setGpio", "params": {"pin": 1}, "persistent": True, "timeout": 600000}),
        ),
    )
    assert rpc["statusCode"] == 200, rpc
    polled = stack.invoke(
        "TbGetRpcFunction", with_query(event("thingsboard/get_rpc", token=device.token), {"timeout": "1"})
    )
    assert polled["statusCode"] == 200, polled
    return {
        "device": device,
        "auth": auth,
        "execution": json.loads(sent["body"])["data"]["executionId"],
        "rpc": json.loads(polled["body"])["id"],
    }


def _tb_attributes(stack: Stack, w: dict[str, Any]) -> dict[str, Any]:
    return stack.invoke(
        "TbPostAttributesFunction",
        with_body(event("thingsboard/post_attributes", token=w["device"].token), '{"fw":"1.2"}'),
    )


def _td_report(stack: Stack, w: dict[str, Any]) -> dict[str, Any]:
    body = {"thingName": "thermostat-001", "state": {"reported": {"temperature": 21.5}}, "clientToken": "t-1"}
    return stack.invoke("TdPostShadowReportedFunction", td_event("post_shadow_reported", w["auth"], body))


def _td_job_update(stack: Stack, w: dict[str, Any]) -> dict[str, Any]:
    body = {"thingName": "thermostat-001", "status": "SUCCEEDED"}
    return stack.invoke("TdPostJobUpdateFunction", td_event("post_job_update", w["auth"], body, jobId="fw-1"))


def _td_command_response(stack: Stack, w: dict[str, Any]) -> dict[str, Any]:
    body = {
        "thingName": "thermostat-001",
        "executionId": w["execution"],
        "status": "SUCCEEDED",
        "result": {"ok": 1},
    }
    return stack.invoke("TdPostCommandResponseFunction", td_event("post_command_response", w["auth"], body))


def _tb_rpc_reply(stack: Stack, w: dict[str, Any]) -> dict[str, Any]:
    reply = event("thingsboard/post_rpc_reply", token=w["device"].token)
    reply["pathParameters"]["requestId"] = str(w["rpc"])
    return stack.invoke("TbPostRpcReplyFunction", with_body(reply, '{"result":"ok"}'))


def _manage_shared(stack: Stack, w: dict[str, Any]) -> dict[str, Any]:
    return stack.invoke(
        "ManageDevicesFunction",
        with_body(event("manage/put_shared_attributes", device_id=w["device"].id), '{"interval": 60}'),
    )


def _manage_desired(stack: Stack, w: dict[str, Any]) -> dict[str, Any]:
    return stack.invoke(
        "ManageShadowsFunction",
        with_body(
            event("manage/update_shadow_desired", device_id=w["device"].id),
            '{"state":{"desired":{"mode":"eco"}}}',
        ),
    )


ROUTES = {
    "tb-attributes": Route(
        "tb-attributes", _tb_attributes, frozenset({"ShadowsTable", "ShadowHistoryTable"}), "thingsboard"
    ),
    "td-report": Route(
        "td-report", _td_report, frozenset({"ShadowsTable", "ShadowHistoryTable"}), "thingdatas"
    ),
    "td-job-update": Route("td-job-update", _td_job_update, frozenset({"JobsTable"}), "thingdatas"),
    "td-command-response": Route(
        "td-command-response", _td_command_response, frozenset({"CommandsTable"}), "thingdatas"
    ),
    "tb-rpc-reply": Route("tb-rpc-reply", _tb_rpc_reply, frozenset({"RpcTable"}), "thingsboard"),
    "manage-shared": Route("manage-shared", _manage_shared, frozenset({"ShadowsTable"}), "manage"),
    "manage-desired": Route("manage-desired", _manage_desired, frozenset({"ShadowsTable"}), "manage"),
}
# the DynamoDB call each route's write makes
WRITE_CALL = {
    "tb-attributes": "TransactWriteItems",
    "td-report": "TransactWriteItems",
    "td-job-update": "TransactWriteItems",
    "td-command-response": "UpdateItem",
    "tb-rpc-reply": "UpdateItem",
    "manage-shared": "UpdateItem",
    "manage-desired": "UpdateItem",
}


def assert_unavailable(route: Route, response: dict[str, Any]) -> None:
    """A 503 in the route's dialect, with ``Retry-After``."""
    assert response["statusCode"] == 503, response
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    headers.update({k.lower(): v[0] for k, v in (response.get("multiValueHeaders") or {}).items()})
    assert headers.get("retry-after") == "1", response
    body = response.get("body") or ""
    if route.dialect == "thingsboard":
        assert body == ""  # ThingsBoard answers its errors with a status and no body
    elif route.dialect == "thingdatas":
        assert json.loads(body)["code"] == "ServiceUnavailable"
    else:
        assert json.loads(body)["error"]["code"] == 503


# --------------------------------------------------------------------------- DynamoDB throttling
@pytest.mark.parametrize("code", THROTTLING)
@pytest.mark.parametrize("route_name", sorted(ROUTES))
@pytest.mark.parametrize("call", ["read", "write"])
def test_lasting_throttling_is_a_503_and_writes_nothing(
    stack: Stack, faults: Faults, world: dict[str, Any], *, route_name: str, code: str, call: str
) -> None:
    # Given DynamoDB throttling every read (GetItem, Query) or every write of the route
    route = ROUTES[route_name]
    operations = ["GetItem", "Query"] if call == "read" else [WRITE_CALL[route_name]]
    for operation in operations:
        faults.error("dynamodb", operation, code)
    before = state(stack)

    # When the request is sent
    with faults.on():
        response = route.send(stack, world)

    # Then it is a 503 in the dialect's format and nothing was written
    assert_unavailable(route, response)
    assert state(stack) == before


@pytest.mark.parametrize("code", THROTTLING)
@pytest.mark.parametrize("route_name", sorted(ROUTES))
def test_throttling_that_clears_within_botocores_retries_gives_the_normal_answer(
    stack: Stack, faults: Faults, world: dict[str, Any], route_name: str, code: str
) -> None:
    # Given the route's write throttled twice, then accepted (botocore's standard mode tries three times)
    route = ROUTES[route_name]
    fault = faults.http_error("dynamodb", WRITE_CALL[route_name], 400, code, times=2)
    before = state(stack)

    # When the request is sent
    with faults.on():
        response = route.send(stack, world)

    # Then it succeeds after the retries and changed exactly the tables it writes
    assert fault.hits == 2
    assert response["statusCode"] in (200, 201), response
    assert changed_tables(before, state(stack)) == route.writes


# --------------------------------------------------------------------------- transaction conflicts
CONFLICT = {"CancellationReasons": [{"Code": "TransactionConflict", "Message": "injected"}, {"Code": "None"}]}
TRANSACTIONS = ["tb-attributes", "td-report", "td-job-update"]


@pytest.mark.parametrize("route_name", TRANSACTIONS)
@pytest.mark.parametrize("times", [1, 2])
def test_a_transaction_conflict_that_clears_is_retried(
    stack: Stack, faults: Faults, world: dict[str, Any], route_name: str, times: int
) -> None:
    route = ROUTES[route_name]
    fault = faults.error(
        "dynamodb", "TransactWriteItems", "TransactionCanceledException", times=times, **CONFLICT
    )
    before = state(stack)

    with faults.on():
        response = route.send(stack, world)

    assert fault.hits == times
    assert response["statusCode"] == 200, response
    after = state(stack)
    assert changed_tables(before, after) == route.writes
    if "ShadowHistoryTable" in route.writes:  # one shadow version, one history entry: no more
        assert len(after["ShadowHistoryTable"]) == len(before["ShadowHistoryTable"]) + 1


@pytest.mark.parametrize("route_name", TRANSACTIONS)
def test_lasting_transaction_conflicts_are_a_503_and_write_nothing(
    stack: Stack, faults: Faults, world: dict[str, Any], route_name: str
) -> None:
    route = ROUTES[route_name]
    faults.error("dynamodb", "TransactWriteItems", "TransactionCanceledException", **CONFLICT)
    before = state(stack)

    with faults.on():
        response = route.send(stack, world)

    assert_unavailable(route, response)
    assert state(stack) == before


@pytest.mark.parametrize(
    "reason", ["ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"]
)
@pytest.mark.parametrize("route_name", TRANSACTIONS)
def test_a_transaction_cancelled_by_throttling_is_a_503_not_a_conflict(
    stack: Stack, faults: Faults, world: dict[str, Any], route_name: str, reason: str
) -> None:
    route = ROUTES[route_name]
    reasons = {"CancellationReasons": [{"Code": reason, "Message": "injected"}, {"Code": "None"}]}
    faults.error("dynamodb", "TransactWriteItems", "TransactionCanceledException", **reasons)
    before = state(stack)

    with faults.on():
        response = route.send(stack, world)

    assert_unavailable(route, response)
    assert state(stack) == before


# --------------------------------------------------------------------------- SQS wake-ups
def attribute_updates(stack: Stack, token: str, timeout_ms: int) -> dict[str, Any]:
    return stack.invoke(
        "TbGetAttributeUpdatesFunction",
        with_query(event("thingsboard/get_attribute_updates", token=token), {"timeout": str(timeout_ms)}),
    )


@pytest.mark.parametrize("code", ["AWS.SimpleQueueService.ServiceUnavailable", "ThrottlingException"])
def test_a_failed_wake_up_still_writes_and_the_poll_still_finds_it(
    stack: Stack, faults: Faults, world: dict[str, Any], code: str
) -> None:
    # Given the wake-up queue refusing every message
    faults.error("sqs", "SendMessage", code)

    # When the operator sets a shared attribute, which wakes the device's poller
    with faults.on():
        response = _manage_shared(stack, world)

    # Then the change is answered and kept (a wake-up is only a hint), and the next poll delivers it
    assert response["statusCode"] == 200, response
    polled = attribute_updates(stack, world["device"].token, 1000)
    assert polled["statusCode"] == 200 and json.loads(polled["body"]) == {"interval": 60}


def test_a_queued_rpc_whose_wake_up_failed_is_found_by_the_poll(
    stack: Stack, faults: Faults, world: dict[str, Any]
) -> None:
    faults.error("sqs", "SendMessage", "AWS.SimpleQueueService.ServiceUnavailable")
    _tb_rpc_reply(stack, world)  # the RPC the device took is answered: the queue is empty again

    with faults.on():
        sent = stack.invoke(
            "ManageRpcFunction",
            with_body(
                event("manage/send_persistent_rpc", device_id=world["device"].id),
                json.dumps({"method": "reboot", "params": {}, "persistent": True, "timeout": 600000}),
            ),
        )

    assert sent["statusCode"] == 200, sent
    polled = stack.invoke(
        "TbGetRpcFunction",
        with_query(event("thingsboard/get_rpc", token=world["device"].token), {"timeout": "1000"}),
    )
    assert polled["statusCode"] == 200 and json.loads(polled["body"])["method"] == "reboot"


def test_a_failing_wake_up_receive_ends_the_poll_with_408_not_an_error(
    stack: Stack, faults: Faults, world: dict[str, Any]
) -> None:
    # Given nothing to deliver and a queue that fails every receive
    faults.error("sqs", "ReceiveMessage", "AWS.SimpleQueueService.ServiceUnavailable")
    assert attribute_updates(stack, world["device"].token, 1)["statusCode"] == 408  # nothing pending

    # When the device long-polls
    with faults.on():
        response = attribute_updates(stack, world["device"].token, 2000)

    # Then it waits out its timeout on the store alone and answers ThingsBoard's empty 408
    assert response["statusCode"] == 408, response


# --------------------------------------------------------------------------- iot-data (commands)
def published() -> list[tuple[str, bytes]]:
    from moto.core import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
    from moto.iotdata.models import iotdata_backends  # noqa: PLC0415

    return list(iotdata_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].published_payloads)


def send_command(stack: Stack, device_id: str) -> dict[str, Any]:
    return stack.invoke(
        "ManageCommandsFunction",
        with_body(
            event("manage/send_command", device_id=device_id), json.dumps({"action": "reboot", "ttl": 60})
        ),
    )


def stored_command(stack: Stack, device_id: str, execution_id: str) -> dict[str, Any]:
    read = event("manage/get_command", device_id=device_id)
    read["pathParameters"]["executionId"] = execution_id
    for holder, key in ((read, "rawPath"), (read["requestContext"]["http"], "path")):
        holder[key] = holder[key].replace(SEED_EXECUTION_ID, execution_id)
    response = stack.invoke("ManageCommandsFunction", read)
    assert response["statusCode"] == 200, response
    found: dict[str, Any] = json.loads(response["body"])["data"]
    return found


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "InternalFailureException", "ServiceUnavailableException"]
)
def test_a_command_whose_publish_fails_is_failed_never_sent(
    stack: Stack, faults: Faults, world: dict[str, Any], code: str
) -> None:
    faults.error("iot-data-plane", "Publish", code)
    count = len(published())

    with faults.on():
        response = send_command(stack, world["device"].id)

    assert response["statusCode"] == 502, response
    execution_id = response["headers"]["Location"].rsplit("/", 1)[1]
    assert stored_command(stack, world["device"].id, execution_id)["status"] == "FAILED"
    assert len(published()) == count


def test_a_publish_that_fails_once_is_retried_and_the_command_sent_once(
    stack: Stack, faults: Faults, world: dict[str, Any]
) -> None:
    fault = faults.http_error("iot-data-plane", "Publish", 503, "ServiceUnavailableException", times=1)
    count = len(published())

    with faults.on():
        response = send_command(stack, world["device"].id)

    assert fault.hits == 1
    assert response["statusCode"] == 201, response
    assert json.loads(response["body"])["data"]["status"] == "SENT"
    assert len(published()) == count + 1


# --------------------------------------------------------------------------- S3 (OTA packages)
PACKAGE = bytes(range(256)) * 4


@pytest.fixture
def firmware(stack: Stack, world: dict[str, Any]) -> dict[str, Any]:
    package = ready_package(stack, PACKAGE, title="thermostat-fw", version="1.2.0", fileName="fw.bin")
    status, _ = assign(stack, world["device"].id, firmwareId=package["id"])
    assert status == 200
    return package


@pytest.mark.parametrize(
    ("code", "status"), [("SlowDown", 503), ("ServiceUnavailable", 503), ("InternalError", 500)]
)
def test_a_package_store_that_keeps_failing_is_a_503_for_the_device(
    stack: Stack, faults: Faults, world: dict[str, Any], firmware: dict[str, Any], *, code: str, status: int
) -> None:
    faults.error("s3", "GetObject", code, ResponseMetadata={"HTTPStatusCode": status})

    with faults.on():
        response = download(stack, world["device"].token, {"title": "thermostat-fw", "version": "1.2.0"})

    assert_unavailable(ROUTES["tb-attributes"], response)  # ThingsBoard's empty 503


def test_a_package_read_that_fails_once_is_retried(
    stack: Stack, faults: Faults, world: dict[str, Any], firmware: dict[str, Any]
) -> None:
    fault = faults.http_error("s3", "GetObject", 503, "SlowDown", times=1)

    with faults.on():
        response = download(stack, world["device"].token, {"title": "thermostat-fw", "version": "1.2.0"})

    assert fault.hits == 1
    assert response["statusCode"] == 200, response


# --------------------------------------------------------------------------- the function's deadline
def invoke_near_deadline(
    stack: Stack, logical_id: str, request: dict[str, Any], remaining_ms: int
) -> dict[str, Any]:
    """Invoke a handler as Lambda would with only ``remaining_ms`` left of its timeout."""
    spec = stack.template.function(logical_id)
    stack.functions._enter(spec)
    handler = getattr(stack.functions._module(spec), spec.handler.rsplit(".", 1)[1])
    context = LambdaContext(f"arn:aws:lambda:us-east-1:123456789012:function:{logical_id}", "req", 0)
    context._deadline_ms = int(time.time() * 1000) + remaining_ms
    result: dict[str, Any] = handler(request, context)
    return result


def test_a_long_poll_near_its_deadline_answers_408_before_it(stack: Stack, world: dict[str, Any]) -> None:
    # Given a device asking to wait 20 s, in an invocation with 3 s left
    request = with_query(
        event("thingsboard/get_attribute_updates", token=world["device"].token), {"timeout": "20000"}
    )
    assert attribute_updates(stack, world["device"].token, 1)["statusCode"] == 408  # nothing pending

    # When it polls
    started = time.monotonic()
    response = invoke_near_deadline(stack, "TbGetAttributeUpdatesFunction", request, 3000)
    elapsed = time.monotonic() - started

    # Then it answers its 408 while the function can still answer
    assert response["statusCode"] == 408, response
    assert elapsed < 3.0


def test_lasting_contention_near_the_deadline_is_a_503_before_it(
    stack: Stack, faults: Faults, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given every shadow transaction losing its race, the real budget, and an invocation with 2.5 s left
    monkeypatch.setattr(retry, "budget_s", REAL_BUDGET)
    faults.error("dynamodb", "TransactWriteItems", "TransactionCanceledException", **CONFLICT)
    request = with_body(event("thingsboard/post_attributes", token=world["device"].token), '{"fw":"1.2"}')
    before = state(stack)

    # When the device posts its attributes
    started = time.monotonic()
    with faults.on():
        response = invoke_near_deadline(stack, "TbPostAttributesFunction", request, 2500)
    elapsed = time.monotonic() - started

    # Then the retries stop a reserve before the deadline and answer the 503, having written nothing
    assert_unavailable(ROUTES["tb-attributes"], response)
    # (no attempt starts inside the reserve; the one in flight when it begins may, on two loaded cores
    # running moto in process, take longer than the reserve a Lambda's DynamoDB calls need)
    assert 2.5 - retry.RESERVE_S - 0.5 < elapsed < 2.5 + 1.0
    assert state(stack) == before
