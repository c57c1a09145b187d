"""The request rules of the shadow APIs, over the engine: a device's report (``state.reported`` only),
an operator's desired update (``state.desired`` only), and shadow names (AWS's pattern).

Rules under test: docs/thingdatas.md, "Shadows" and "The shadow rules" (documents, limits, messages)."""

from __future__ import annotations

from typing import Any

import pytest

from fleetgate.domain.shadow import CLASSIC, ShadowUpdate
from fleetgate.errors import InvalidRequest
from fleetgate.services.shadows import parse_desired, parse_report, shadow_name

SEED = {
    "thingName": "thermostat-001",
    "state": {"reported": {"temperature": 21.5, "humidity": 58}},
    "clientToken": "tok-001",
    "version": 0,
}


def test_the_seed_report_parses():
    # Given the Fleets documentation's report body
    # When it is parsed
    update = parse_report(SEED)

    # Then the state, the token and version 0 (no check) are kept; thingName is not the engine's concern
    assert update == ShadowUpdate(
        state={"reported": {"temperature": 21.5, "humidity": 58}}, version=0, client_token="tok-001"
    )


def test_a_null_reported_section_is_a_valid_report():
    # Given a report that deletes the whole reported section
    # When it is parsed
    update = parse_report({"state": {"reported": None}})

    # Then it is kept as AWS's section delete
    assert update.state == {"reported": None}


REPORT_ERRORS = [
    pytest.param({"reported": {"a": 1}}, "Missing required node: state", id="no-state"),
    pytest.param({"state": None}, "State node must be an object", id="state-null-would-clear-desired"),
    pytest.param({"state": 3}, "State node must be an object", id="state-number"),
    pytest.param({"state": {}}, "Missing required node: reported", id="no-reported"),
    pytest.param({"state": {"reported": []}}, "Reported node must be an object", id="reported-array"),
    pytest.param({"state": {"desired": {"a": 1}}}, "State contains an invalid node: 'desired'", id="desired"),
    pytest.param(
        {"state": {"reported": {"a": 1}, "desired": None}},
        "State contains an invalid node: 'desired'",
        id="desired-null",
    ),
    pytest.param(
        {"state": {"reported": {}, "delta": {}}}, "State contains an invalid node: 'delta'", id="delta"
    ),
    pytest.param({"state": {"reported": {}}, "version": -1}, "Invalid version", id="negative-version"),
    pytest.param({"state": {"reported": {}}, "version": 2.5}, "Invalid version", id="fractional-version"),
    pytest.param({"state": {"reported": {}}, "version": False}, "Invalid version", id="bool-version"),
    pytest.param(
        {"state": {"reported": {}}, "clientToken": "x" * 65}, "Invalid clientToken", id="long-token"
    ),
    pytest.param([SEED], "Invalid JSON", id="not-an-object"),
]


def test_a_version_written_with_a_zero_fraction_is_that_integer():
    # JSON (and JSON Schema's "integer") makes 2.0 the integer 2
    update = parse_report({"state": {"reported": {}}, "version": 2.0})

    assert update.version == 2
    assert type(update.version) is int


@pytest.mark.parametrize(("document", "message"), REPORT_ERRORS)
def test_bad_report_is_refused_with_an_aws_message(document: Any, message: str):
    # Given a report that breaks a rule
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_report(document)

    # Then the message is AWS's (or its pattern, for the report's own rule)
    assert caught.value.message == message


DESIRED_ERRORS = [
    pytest.param({"state": None}, "State node must be an object", id="state-null-would-clear-reported"),
    pytest.param({"state": {}}, "Missing required node: desired", id="no-desired"),
    pytest.param(
        {"state": {"reported": {"a": 1}}}, "State contains an invalid node: 'reported'", id="reported"
    ),
    pytest.param({"state": {"desired": "on"}}, "Desired node must be an object", id="desired-string"),
]


@pytest.mark.parametrize(("document", "message"), DESIRED_ERRORS)
def test_bad_desired_update_is_refused_with_an_aws_message(document: Any, message: str):
    # Given an operator update that breaks a rule
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_desired(document)

    # Then the message is AWS's
    assert caught.value.message == message


@pytest.mark.parametrize(
    "document",
    [{"state": {"desired": {"a": 1}}}, {"state": {"desired": None}, "version": 3, "clientToken": "op"}],
    ids=["merge", "section-delete"],
)
def test_desired_update_parses(document: dict[str, Any]):
    # Given a valid operator update
    # When it is parsed
    update = parse_desired(document)

    # Then its state is the request's
    assert update.state == document["state"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(None, CLASSIC, id="absent-is-the-classic-shadow"),
        pytest.param("firmware", "firmware", id="plain"),
        pytest.param("a:b_c-D9", "a:b_c-D9", id="every-allowed-character"),
        pytest.param("n" * 64, "n" * 64, id="64-characters"),
    ],
)
def test_shadow_name_accepts_aws_names(raw: str | None, expected: str):
    # Given a ?name= value (or none)
    # When it is checked
    # Then it addresses the expected shadow
    assert shadow_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "n" * 65, "a/b", "a b", "a#b", "$aws", CLASSIC, "é"],
    ids=["empty", "65-characters", "slash", "space", "hash", "dollar", "classic-storage-name", "non-ascii"],
)
def test_shadow_name_refuses_anything_else(raw: str):
    # Given a ?name= value outside [a-zA-Z0-9:_-]{1,64}
    # When it is checked
    with pytest.raises(InvalidRequest) as caught:
        shadow_name(raw)

    # Then it is a 400 naming the rule (the classic shadow's storage name cannot be addressed)
    assert caught.value.message.startswith("Invalid shadow name")
