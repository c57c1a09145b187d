"""Xyte files and dumps over real HTTP against the local stack: the URL-encoded MIME type of Send Dump
(``/dumps/text%2Ftxt/agent.log``, as Xyte's sample agent writes it) reaches the handler whole, a plain
slash works too, the agent's ``[object Object]`` append lands in its dump, and a file's presigned URL
serves the uploaded bytes from the stack's S3."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
import requests

from fleetgate.domain.xyte import Identity
from fleetgate.services import reset_caches, xyte
from fleetgate.services.xyte import Registration
from fleetgate_local.stack import LocalStack
from tests.e2e.conftest import HTTP_TIMEOUT_S, OperatorSession

pytestmark = pytest.mark.e2e


@contextmanager
def core_on(stack: LocalStack) -> Iterator[None]:
    """The core's services in this process, on the stack's moto (to make a model and register a
    device: this branch has no route for either)."""
    assert stack.provisioned is not None
    environment = {
        "AWS_ENDPOINT_URL": stack.moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": stack.region,
        "DEVICES_TABLE": stack.provisioned.physical_ids["DevicesTable"],
    }
    with mock.patch.dict(os.environ, environment):
        reset_caches()
        try:
            yield
        finally:
            reset_caches()


@pytest.fixture
def device(stack: LocalStack) -> dict[str, Any]:
    with core_on(stack):
        unique = uuid.uuid4().hex
        model = xyte.create_model(f"E2E projector {unique}", "1.0.7")[0]
        record, key = xyte.register(model, Registration(Identity(unique, None, None), "1.0.0"))
    return {"id": record.device_id, "key": key, "model": model.id}


def test_the_agents_dump_and_append_over_http(
    stack: LocalStack, operator: OperatorSession, device: dict[str, Any]
) -> None:
    hub = f"{stack.url}/v1/devices/{device['id']}"
    headers = {"Authorization": device["key"], "Content-Type": "text/plain"}

    # When the device posts its log to the agent's exact path, the MIME type's slash URL-encoded
    sent = requests.post(
        f"{hub}/dumps/text%2Ftxt/agent.log", data=b"error log\n", headers=headers, timeout=HTTP_TIMEOUT_S
    )
    # and appends as the agent does when it took the JSON answer for an id
    appended = requests.put(
        f"{hub}/dumps/%5Bobject%20Object%5D", data=b"std log\n", headers=headers, timeout=HTTP_TIMEOUT_S
    )
    # and another device posts with a plain slash
    plain = requests.post(
        f"{hub}/dumps/application/json/state.json", data=b"{}", headers=headers, timeout=HTTP_TIMEOUT_S
    )

    # Then both sends reached the handler with their MIME type and file name
    assert sent.status_code == 201, sent.text
    dump_id = sent.json()["id"]
    assert appended.status_code == 200 and appended.json() == {"id": dump_id, "length": 18}
    assert plain.status_code == 201, plain.text
    listed = operator.get(
        f"{stack.url}/manage/v1/xyte/devices/{device['id']}/dumps", timeout=HTTP_TIMEOUT_S
    ).json()
    assert {(d["mime_type"], d["filename"], d["length"]) for d in listed["data"]} == {
        ("text/txt", "agent.log", 18),
        ("application/json", "state.json", 2),
    }
    # and the operator downloads the dump part by part from the stack's S3
    read = operator.get(
        f"{stack.url}/manage/v1/xyte/devices/{device['id']}/dumps/{dump_id}", timeout=HTTP_TIMEOUT_S
    )
    parts = [requests.get(p["url"], timeout=HTTP_TIMEOUT_S) for p in read.json()["data"]["download"]]
    assert b"".join(p.content for p in parts) == b"error log\nstd log\n"
    assert parts[0].headers["Content-Type"] == "text/txt"
    # and a traversal in the file name, encoded or not, is refused
    for tail in ("text%2Fplain/..%2F..%2Fx", "text/plain/../x", "text%2Fplain/.."):
        refused = requests.post(f"{hub}/dumps/{tail}", data=b"x", headers=headers, timeout=HTTP_TIMEOUT_S)
        assert refused.status_code in (400, 404), (tail, refused.status_code, refused.text)
        if refused.status_code == 400:
            assert refused.json()["code"] == "InvalidRequest"


def test_a_file_over_http(stack: LocalStack, operator: OperatorSession, device: dict[str, Any]) -> None:
    files = f"{stack.url}/manage/v1/xyte/models/{device['model']}/files"
    created = operator.post(
        files, json={"name": "fw", "file_type": "firmware", "version": "2.0.0"}, timeout=HTTP_TIMEOUT_S
    )
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert requests.put(data["upload_url"], data=b"firmware 2.0.0", timeout=HTTP_TIMEOUT_S).status_code == 200
    latest = operator.post(f"{files}/{data['id']}/latest", timeout=HTTP_TIMEOUT_S)
    assert latest.status_code == 200, latest.text

    got = requests.get(
        f"{stack.url}/v1/devices/{device['id']}/files/{data['id']}",
        headers={"Authorization": device["key"]},
        timeout=HTTP_TIMEOUT_S,
    )

    assert got.status_code == 200, got.text
    assert requests.get(got.json()["url"], timeout=HTTP_TIMEOUT_S).content == b"firmware 2.0.0"
