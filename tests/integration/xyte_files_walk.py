"""A walk over the Xyte files and dumps routes, well and badly, for the document-conformance tests
(``tests/integration/test_openapi_conformance.py`` walks the operator routes with it too)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import requests

from fleetgate.domain.xyte import Identity
from fleetgate.services import xyte
from fleetgate.services.xyte import Registration
from fleetgate.settings import get_settings
from tests.integration.conftest import DEVICE_PLACEHOLDER, TOKEN_PLACEHOLDER, Stack

MODEL = "6d1f3c2a-8b4e-4f7a-9c5d-0e1a2b3c4d5e"  # the placeholders of events/
FILE = "3f2b8c1e-5d4a-4e6b-9c7d-2a1b0c9d8e7f"
DUMP = "019ad2c4-5e80-7a3b-8c4d-5e6f7a8b9c0d"


@contextmanager
def services_of(stack: Stack) -> Iterator[None]:
    """The core's services on the stack's tables (to set up what no route of this branch creates: a
    model and a registered device)."""
    environment = {"DEVICES_TABLE": stack.table("DevicesTable"), "FILES_BUCKET": stack.table("FilesBucket")}
    with mock.patch.dict(os.environ, environment):
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


def walk_xyte_files(stack: Stack, call: Any) -> None:
    """Drive every files and dumps route through ``call`` (``Walk.call``): successes and refusals."""
    with services_of(stack):
        model = xyte.create_model("Walked projector", "1.0.7")[0]
        record, key = xyte.register(model, Registration(Identity("walk-cloud-id", None, None), "1.0.0"))
    to = {MODEL: model.id, DEVICE_PLACEHOLDER: record.device_id, TOKEN_PLACEHOLDER: key}

    # files
    status, created = call("manage/xyte_files_create_file", **to)
    assert status == 201, created
    to[FILE] = created["data"]["id"]
    assert call("manage/xyte_files_create_file", {"name": ""}, **to)[0] == 400
    assert call("manage/xyte_files_create_file", **{**to, MODEL: FILE})[0] == 404
    assert call("manage/xyte_files_make_latest_firmware", **to)[0] == 409  # not uploaded yet
    assert call("xyte/files_get_file", **to)[0] == 404
    assert call("xyte/files_get_file", **{**to, TOKEN_PLACEHOLDER: "unknown"})[0] == 401
    assert requests.put(created["data"]["upload_url"], data=b"firmware", timeout=10).status_code == 200
    assert call("manage/xyte_files_list_files", **to)[0] == 200
    assert call("manage/xyte_files_get_file", **to)[0] == 200
    assert call("xyte/files_get_files", **to)[0] == 200
    assert call("xyte/files_get_file", **to)[0] == 200
    assert call("manage/xyte_files_make_latest_firmware", **to)[0] == 200
    assert call("manage/xyte_files_delete_file", **to)[0] == 409  # the latest firmware
    status, other = call(
        "manage/xyte_files_create_file", {"name": "Manual", "file_type": "manual", "version": "2"}, **to
    )
    assert status == 201
    assert call("manage/xyte_files_delete_file", **{**to, FILE: other["data"]["id"]})[0] == 204
    assert call("manage/xyte_files_get_file", **{**to, FILE: other["data"]["id"]})[0] == 404

    # dumps
    status, sent = call("xyte/dumps_send_dump", **to)
    assert status == 201, sent
    to[DUMP] = sent["id"]
    assert call("xyte/dumps_send_dump", **{**to, "agent.log": ".."})[0] == 400
    assert call("xyte/dumps_append_dump", **to)[0] == 200
    assert call("xyte/dumps_append_dump", **{**to, DUMP: FILE})[0] == 404
    assert call("manage/xyte_files_list_dumps", **to)[0] == 200
    assert call("manage/xyte_files_list_dumps", query={"limit": "0"}, **to)[0] == 400
    assert call("manage/xyte_files_get_dump", **to)[0] == 200
    assert call("manage/xyte_files_get_dump", **{**to, DUMP: FILE})[0] == 404
