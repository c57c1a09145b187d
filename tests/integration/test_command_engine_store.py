"""The command engine's repository (``fleetgate.data.commands``) on the template's tables, with a
Xyte's vocabulary (``pending → in_progress → done | failed``): a device-reported progress
state awaits a further answer, so the answer's one conditional write accepts two stored words."""

from __future__ import annotations

import boto3
import pytest

from fleetgate.clock import now_ms
from fleetgate.data.commands import CommandRepository
from fleetgate.domain.commands import Answer, CommandSpec, State, new_command
from fleetgate.domain.xyte_sync import VOCABULARY as XYTE
from fleetgate.errors import Conflict
from fleetgate.services import commands as engine
from fleetgate.settings import get_settings
from tests.integration.conftest import Stack

UUID = "3f2e1d0c-9b8a-4765-a432-10fedcba9876"


def test_pending_in_progress_done_with_one_conditional_write_each(stack: Stack) -> None:
    repo = CommandRepository(stack.table("CommandsTable"), XYTE)
    now = now_ms()
    spec = CommandSpec(name="reboot", params_json="{}", created=now, expires=now + 60_000, extras={"x": 1})
    created = new_command(spec, device_id="dev-x", uuid=UUID, seq=None, retention_days=30, pushed=True)
    repo.create(created)

    progress, progress_written = repo.answer("dev-x", UUID, Answer(State.IN_PROGRESS, '{"pct":10}'), now_ms())
    done, done_written = repo.answer("dev-x", UUID, Answer(State.SUCCEEDED, '{"ok":true}', "t-1"), now_ms())
    late, late_written = repo.answer("dev-x", UUID, Answer(State.FAILED), now_ms())

    assert progress is not None and done is not None and late is not None
    assert (progress_written, progress.state, progress.result) == (True, State.IN_PROGRESS, {"pct": 10})
    assert (done_written, done.state, done.result, done.client_token) == (
        True,
        State.SUCCEEDED,
        {"ok": True},
        "t-1",
    )
    assert (late_written, late) == (False, done)  # refused: the stored command comes back, unchanged
    assert done.version == created.version + 2 and done.completed_time is not None
    assert done.extras == {"x": 1}
    stored = boto3.client("dynamodb").get_item(
        TableName=stack.table("CommandsTable"),
        Key={"deviceId": {"S": "dev-x"}, "executionId": {"S": UUID}},
        ConsistentRead=True,
    )["Item"]
    assert stored["status"] == {"S": "done"}
    assert repo.get("dev-x", UUID) == done


def test_a_refused_answer_past_the_expiry_records_it(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMANDS_TABLE", stack.table("CommandsTable"))
    get_settings.cache_clear()
    repo = CommandRepository(stack.table("CommandsTable"), XYTE)
    now = now_ms()
    spec = CommandSpec(name="reboot", params_json="{}", created=now - 2_000, expires=now - 1)
    repo.create(new_command(spec, device_id="dev-y", uuid=UUID, seq=None, retention_days=30, pushed=True))

    with pytest.raises(Conflict, match="is timed_out and can no longer be"):
        engine.answer(XYTE, "dev-y", UUID, Answer(State.SUCCEEDED))

    get_settings.cache_clear()
    recorded = repo.get("dev-y", UUID)
    assert recorded is not None and recorded.state is State.TIMED_OUT
