"""The command engine's rules (``fleetgate.domain.commands``) as one table over three vocabularies:
ThingsBoard's RPC (poll queue, integer ids), ThingDatas' commands (MQTT push, UUIDs) and a small one
shaped like Xyte's (``pending → in_progress → done | failed``), which proves the engine carries a
vocabulary with a device-reported progress state. Ids and times are constants: collection is
deterministic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pytest

from fleetgate.dialects.thingdatas.commands import VOCABULARY as THINGDATAS
from fleetgate.dialects.thingsboard.rpc import VOCABULARY as THINGSBOARD
from fleetgate.domain.commands import (
    Answer,
    Command,
    CommandSpec,
    IdScheme,
    State,
    Vocabulary,
    answer,
    cancel,
    deliver,
    delivery_failed,
    new_command,
    settle,
)
from fleetgate.domain.xyte_sync import VOCABULARY as XYTE
from fleetgate.errors import FleetgateError

NOW = 1_760_000_000_000
EXPIRES = NOW + 10_000
LIVE = NOW + 1_000
UUID = "0b9a5c3e-4f1d-4e2a-9c7b-6d5e4f3a2b1c"

VOCABULARIES: dict[str, tuple[Vocabulary, bool]] = {  # name: (vocabulary, pushed)
    "thingsboard": (THINGSBOARD, False),
    "thingdatas": (THINGDATAS, True),
    "xyte": (XYTE, True),
}
REPORTS = {
    "ok": Answer(State.SUCCEEDED, '{"t":24}', "tok-1"),
    "ok-again": Answer(State.SUCCEEDED, '{"t":24}', "tok-1"),
    "ok-untokened": Answer(State.SUCCEEDED, '{"t":24}'),
    "ok-other": Answer(State.SUCCEEDED, '{"t":25}', "tok-2"),
    "failed": Answer(State.FAILED, '{"why":"x"}'),
    "rejected": Answer(State.REJECTED),
    "progress": Answer(State.IN_PROGRESS, '{"pct":10}'),
    "progress-again": Answer(State.IN_PROGRESS, '{"pct":10}'),
    "progress-more": Answer(State.IN_PROGRESS, '{"pct":50}'),
}


def created(vocabulary: str, *, oneway: bool = False) -> Command:
    _, pushed = VOCABULARIES[vocabulary]
    spec = CommandSpec(name="reboot", params_json="{}", created=NOW, expires=EXPIRES, oneway=oneway)
    sequence = VOCABULARIES[vocabulary][0].id_scheme is IdScheme.SEQUENCE
    return new_command(
        spec, device_id="dev", uuid=UUID, seq=1 if sequence else None, retention_days=30, pushed=pushed
    )


def apply(vocabulary: Vocabulary, command: Command, step: str, at: int) -> Command:
    if step == "deliver":
        return deliver(command, at)
    if step == "cancel":
        return cancel(command, at, vocabulary)
    if step == "settle":
        return settle(command, at) or command
    if step == "fail":
        return delivery_failed(command, "Publish failed: x", at, vocabulary)
    return answer(command, REPORTS[step], at, vocabulary)


# vocabulary, steps before (at LIVE), the step under test, when, outcome: the status word afterwards,
# "same" (a repeat: nothing to record) or "refused:<status word>"
TABLE = [
    # ThingsBoard: QUEUED → DELIVERED → SUCCESSFUL; EXPIRED / TIMEOUT; cancel only while QUEUED
    ("thingsboard", [], "deliver", LIVE, "DELIVERED"),
    ("thingsboard", ["deliver"], "deliver", LIVE, "DELIVERED"),  # head-of-line re-delivery
    ("thingsboard", ["deliver"], "ok", LIVE, "SUCCESSFUL"),
    ("thingsboard", ["deliver", "ok"], "ok-again", LIVE, "same"),
    ("thingsboard", ["deliver", "ok"], "ok-untokened", LIVE, "same"),  # same state and result
    ("thingsboard", ["deliver", "ok"], "ok-other", LIVE, "refused:SUCCESSFUL"),
    ("thingsboard", [], "ok", LIVE, "refused:QUEUED"),  # not delivered yet
    ("thingsboard", [], "cancel", LIVE, "CANCELED"),
    ("thingsboard", ["deliver"], "cancel", LIVE, "refused:DELIVERED"),
    ("thingsboard", [], "cancel", EXPIRES, "refused:EXPIRED"),
    ("thingsboard", [], "settle", EXPIRES - 1, "QUEUED"),
    ("thingsboard", [], "settle", EXPIRES, "EXPIRED"),
    ("thingsboard", ["deliver"], "settle", EXPIRES, "TIMEOUT"),
    ("thingsboard", ["deliver"], "ok", EXPIRES, "refused:TIMEOUT"),
    ("thingsboard", ["cancel"], "ok", LIVE, "refused:CANCELED"),
    # ThingDatas: SENT → SUCCEEDED | FAILED | REJECTED; TIMED_OUT; cancel while SENT
    ("thingdatas", [], "ok", LIVE, "SUCCEEDED"),
    ("thingdatas", [], "failed", LIVE, "FAILED"),
    ("thingdatas", [], "rejected", LIVE, "REJECTED"),
    ("thingdatas", [], "ok", EXPIRES - 1, "SUCCEEDED"),
    ("thingdatas", [], "ok", EXPIRES, "refused:TIMED_OUT"),
    ("thingdatas", ["ok"], "ok-again", EXPIRES + 5, "same"),  # a repeat is answered even after expiry
    ("thingdatas", ["ok"], "ok-untokened", LIVE, "same"),  # a tokened answer retried without its token
    ("thingdatas", ["failed"], "failed", LIVE, "same"),  # no token: same status and result
    ("thingdatas", ["failed"], "rejected", LIVE, "refused:FAILED"),
    ("thingdatas", [], "cancel", LIVE, "CANCELED"),
    ("thingdatas", [], "cancel", EXPIRES, "refused:TIMED_OUT"),
    ("thingdatas", ["ok"], "cancel", LIVE, "refused:SUCCEEDED"),
    ("thingdatas", [], "fail", LIVE, "FAILED"),
    ("thingdatas", ["cancel"], "fail", LIVE, "refused:CANCELED"),
    ("thingdatas", [], "settle", EXPIRES - 1, "SENT"),
    ("thingdatas", [], "settle", EXPIRES, "TIMED_OUT"),
    ("thingdatas", ["settle"], "ok", LIVE, "SUCCEEDED"),  # settling before expiry ends nothing
    # Xyte-like: pending → in_progress → done | failed
    ("xyte", [], "progress", LIVE, "in_progress"),
    ("xyte", ["progress"], "progress-again", LIVE, "same"),
    ("xyte", ["progress"], "progress-more", LIVE, "in_progress"),
    ("xyte", ["progress"], "ok", LIVE, "done"),
    ("xyte", ["progress"], "failed", LIVE, "failed"),
    ("xyte", [], "failed", LIVE, "failed"),
    ("xyte", ["progress", "ok"], "progress", LIVE, "refused:done"),
    ("xyte", ["progress"], "cancel", LIVE, "canceled"),
    ("xyte", ["progress"], "settle", EXPIRES, "timed_out"),
    ("xyte", ["progress"], "ok", EXPIRES, "refused:timed_out"),
]


def _id(row: tuple[str, list[str], str, int, str]) -> str:
    vocabulary, before, step, at, outcome = row
    when = {LIVE: "live", EXPIRES: "at-expiry", EXPIRES - 1: "before-expiry", EXPIRES + 5: "after-expiry"}[at]
    return f"{vocabulary}:{'+'.join(before) or 'new'}:{step}@{when}->{outcome}"


@pytest.mark.parametrize(
    ("vocabulary", "before", "step", "at", "outcome"), TABLE, ids=[_id(r) for r in TABLE]
)
def test_transition_table(vocabulary: str, before: list[str], step: str, at: int, outcome: str) -> None:
    words, _ = VOCABULARIES[vocabulary]
    command = created(vocabulary)
    for earlier in before:
        command = apply(words, command, earlier, LIVE)

    if outcome.startswith("refused:"):
        with pytest.raises(FleetgateError) as refused:
            apply(words, command, step, at)
        assert refused.value.status == 409
        assert outcome.removeprefix("refused:") in refused.value.message
        return
    after = apply(words, command, step, at)
    if outcome == "same":
        assert after is command
        return
    assert words.status(after.state) == outcome
    assert after.version == command.version + (after is not command)
    assert (after.completed_time is not None) == (not after.open)


@pytest.mark.parametrize("vocabulary", sorted(VOCABULARIES))
def test_expiry_is_enforced_on_read_at_the_exact_boundary(vocabulary: str) -> None:
    words, pushed = VOCABULARIES[vocabulary]
    command = created(vocabulary)

    assert command.effective_state(EXPIRES - 1) == (State.DELIVERED if pushed else State.QUEUED)
    assert command.effective_state(EXPIRES) == (State.TIMED_OUT if pushed else State.EXPIRED)
    assert command.state == (State.DELIVERED if pushed else State.QUEUED)  # reading records nothing
    assert words.status(command.effective_state(EXPIRES))  # every reachable state has a word


@pytest.mark.parametrize("vocabulary", sorted(VOCABULARIES))
def test_a_refusal_names_the_status_in_the_dialects_word(vocabulary: str) -> None:
    words, pushed = VOCABULARIES[vocabulary]
    command = created(vocabulary)
    if not pushed:
        command = deliver(command, LIVE)
    done = answer(command, REPORTS["failed"], LIVE, words)

    with pytest.raises(FleetgateError) as refused:
        answer(done, REPORTS["rejected"], LIVE, words)

    assert words.status(State.FAILED) in refused.value.message


def test_a_one_way_command_succeeds_when_delivered_and_accepts_no_answer() -> None:
    delivered = deliver(created("thingsboard", oneway=True), LIVE)

    assert delivered.state is State.SUCCEEDED
    with pytest.raises(FleetgateError):
        answer(delivered, REPORTS["ok"], LIVE, THINGSBOARD)


def test_a_pushed_command_starts_delivered_once_and_a_polled_one_queued() -> None:
    pushed, polled = created("thingdatas"), created("thingsboard")

    assert (pushed.state, pushed.deliveries, pushed.delivered_time) == (State.DELIVERED, 1, NOW)
    assert (polled.state, polled.deliveries, polled.delivered_time) == (State.QUEUED, 0, None)
    assert (pushed.key, polled.key) == (UUID, 1)


def test_a_vocabulary_must_name_each_state_with_its_own_word() -> None:
    class Ambiguous(Vocabulary):
        name = "ambiguous"
        id_scheme = IdScheme.UUID
        statuses: ClassVar[Mapping[State, str]] = {State.DELIVERED: "pending", State.QUEUED: "pending"}

    with pytest.raises(ValueError, match="distinct"):
        Ambiguous()
