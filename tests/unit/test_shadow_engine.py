"""The shadow engine against AWS IoT Device Shadow's documented and AWS-verified behaviour.

Rules under test: docs/thingdatas.md, "The shadow rules" (documents, merge, delta, metadata, versions,
limits and the exact error strings).
"""

from __future__ import annotations

from typing import Any

import pytest

from fleetgate.domain.shadow import (
    Shadow,
    ShadowUpdate,
    apply_update,
    cleared,
    compute_delta,
    parse_update,
    validate_section,
)
from fleetgate.errors import InvalidRequest, PayloadTooLarge, VersionConflict
from fleetgate.jsonutil import dumps

T0 = 1_700_000_000  # epoch seconds of the first write
T1 = T0 + 60  # epoch seconds of a later write
NOW = T0 + 3600  # epoch seconds of a read


def _ts(t: int) -> dict[str, int]:
    return {"timestamp": t}


def _update(state: Any, **extra: Any) -> ShadowUpdate:
    return parse_update({"state": state, **extra})


def _shadow(state: dict[str, Any], now: int = T0) -> Shadow:
    """A shadow written once, at ``now``, with ``state`` (which must hold no nulls)."""
    shadow, _ = apply_update(Shadow(), _update(state), now)
    assert shadow.state == state  # the fixture itself relies on a plain merge into nothing
    return shadow


def _nested(levels: int) -> dict[str, Any]:
    """A section with ``levels`` non-empty object levels, the section itself counting as level 1."""
    value: Any = 1
    for _ in range(levels):
        value = {"k": value}
    return value


# --------------------------------------------------------------------------- merge
MERGE_CASES = [
    pytest.param(
        {"desired": {"lights": {"color": "red", "on": True}}},
        {"desired": {"lights": {"color": "green"}}},
        {"desired": {"lights": {"color": "green", "on": True}}},
        id="nested-objects-are-merged",
    ),
    pytest.param(
        {"desired": {"a": 1, "b": 2}},
        {"desired": {"a": None}},
        {"desired": {"b": 2}},
        id="null-leaf-deletes-the-key",
    ),
    pytest.param(
        {"desired": {"lights": {"color": "red", "on": True}}},
        {"desired": {"lights": {"color": None}}},
        {"desired": {"lights": {"on": True}}},
        id="null-nested-leaf-deletes-only-that-key",
    ),
    pytest.param(
        {"desired": {"lights": {"color": "red"}, "fan": 1}},
        {"desired": {"lights": {"color": None}}},
        {"desired": {"fan": 1}},
        id="nested-object-emptied-by-deletions-disappears",
    ),
    pytest.param(
        {"desired": {"a": 1}, "reported": {"b": 2}},
        {"desired": {"a": None}},
        {"reported": {"b": 2}},
        id="deleting-the-last-key-removes-the-section",
    ),
    pytest.param(
        {"desired": {"a": 1}, "reported": {"b": 2}},
        {"desired": None},
        {"reported": {"b": 2}},
        id="null-desired-removes-the-section",
    ),
    pytest.param(
        {"desired": {"a": 1}, "reported": {"b": 2}},
        {"reported": None},
        {"desired": {"a": 1}},
        id="null-reported-removes-the-section",
    ),
    pytest.param(
        {"desired": {"a": 1}},
        {"desired": {}},
        {"desired": {"a": 1}},
        id="empty-desired-object-is-a-no-op",
    ),
    pytest.param(
        {},
        {"desired": {}},
        {},
        id="empty-desired-object-on-an-empty-shadow-creates-no-section",
    ),
    pytest.param(
        {"desired": {"a": 1}},
        {"desired": {"b": {"x": None, "y": None}}},
        {"desired": {"a": 1}},
        id="new-key-whose-object-is-all-nulls-is-not-created",
    ),
    pytest.param(
        {"desired": {"a": 1}},
        {"desired": {"b": {"x": None, "y": 2}}},
        {"desired": {"a": 1, "b": {"y": 2}}},
        id="new-key-object-has-its-nulls-stripped",
    ),
    pytest.param(
        {"desired": {"a": 1}},
        {"desired": {"d": {}}},
        {"desired": {"a": 1, "d": {}}},
        id="explicit-empty-object-value-is-stored",
    ),
    pytest.param(
        {"reported": {"arr": [1, 2, 3]}},
        {"reported": {"arr": [4]}},
        {"reported": {"arr": [4]}},
        id="arrays-are-replaced-whole",
    ),
    pytest.param(
        {"reported": {"a": 1}},
        {"reported": {"a": {"b": 2}}},
        {"reported": {"a": {"b": 2}}},
        id="scalar-replaced-by-object",
    ),
    pytest.param(
        {"reported": {"a": {"b": 2, "c": 3}}},
        {"reported": {"a": "x"}},
        {"reported": {"a": "x"}},
        id="object-replaced-by-scalar",
    ),
    pytest.param(
        {"reported": {"a": {"b": 2}}},
        {"reported": {"a": [1, 2]}},
        {"reported": {"a": [1, 2]}},
        id="object-replaced-by-array",
    ),
    pytest.param(
        {"desired": {"a": 1}},
        {"desired": {"absent": None}},
        {"desired": {"a": 1}},
        id="null-for-an-absent-key-is-a-no-op",
    ),
    pytest.param(
        {"desired": {"a": 1}, "reported": {"a": 0}},
        {"reported": {"a": 1}},
        {"desired": {"a": 1}, "reported": {"a": 1}},
        id="updating-one-section-leaves-the-other-alone",
    ),
]


@pytest.mark.parametrize(("before", "request_state", "after"), MERGE_CASES)
def test_update_merges_state_like_aws(before, request_state, after):
    # Given a shadow holding `before`
    shadow = _shadow(before)

    # When the request's state is applied
    new, _ = apply_update(shadow, _update(request_state), T1)

    # Then the stored state is `after`
    assert new.state == after


def test_null_state_clears_both_sections_and_still_bumps_the_version():
    # Given a shadow with both sections at version 1
    shadow = _shadow({"desired": {"a": 1}, "reported": {"b": 2}})

    # When the update says "state": null
    new, _ = apply_update(shadow, _update(None), T1)

    # Then the state and metadata are empty, the shadow still exists, and the version is 2
    assert (new.state, new.metadata, new.version, new.exists) == ({}, {}, 2, True)


def test_replace_top_level_replaces_an_object_value_instead_of_merging_it():
    # Given a shadow whose reported "cfg" is an object with two keys
    shadow = _shadow({"reported": {"cfg": {"a": 1, "b": 2}}})

    # When "cfg" is updated with one key under ThingsBoard attribute semantics
    new, _ = apply_update(shadow, _update({"reported": {"cfg": {"a": 5}}}), T1, replace_top_level=True)

    # Then "cfg" is the new object alone
    assert new.state == {"reported": {"cfg": {"a": 5}}}
    assert new.metadata == {"reported": {"cfg": {"a": _ts(T1)}}}


def test_without_replace_top_level_the_same_update_merges():
    # Given a shadow whose reported "cfg" is an object with two keys
    shadow = _shadow({"reported": {"cfg": {"a": 1, "b": 2}}})

    # When "cfg" is updated with one key under AWS semantics
    new, _ = apply_update(shadow, _update({"reported": {"cfg": {"a": 5}}}), T1)

    # Then the object is merged
    assert new.state == {"reported": {"cfg": {"a": 5, "b": 2}}}


def test_replace_top_level_still_deletes_a_key_set_to_null():
    # Given a shadow with two reported attributes
    shadow = _shadow({"reported": {"cfg": {"a": 1}, "fw": "1.0"}})

    # When "cfg" is set to null under ThingsBoard attribute semantics
    new, _ = apply_update(shadow, _update({"reported": {"cfg": None}}), T1, replace_top_level=True)

    # Then "cfg" is gone from the state and the metadata
    assert new.state == {"reported": {"fw": "1.0"}}
    assert new.metadata == {"reported": {"fw": _ts(T0)}}


def test_replace_top_level_strips_nulls_inside_the_replacing_object():
    # Given a shadow whose reported "cfg" has one key
    shadow = _shadow({"reported": {"cfg": {"a": 1}}})

    # When "cfg" is replaced by an object holding a null
    new, _ = apply_update(
        shadow, _update({"reported": {"cfg": {"a": None, "b": 2}}}), T1, replace_top_level=True
    )

    # Then the stored object has no null
    assert new.state == {"reported": {"cfg": {"b": 2}}}


# --------------------------------------------------------------------------- delta
DELTA_CASES = [
    pytest.param(
        {"color": "RED", "state": "STOP"},
        {"color": "GREEN", "engine": "ON"},
        {"color": "RED", "state": "STOP"},
        id="aws-documented-example",
    ),
    pytest.param({"a": 1, "b": 2}, {"a": 1}, {"b": 2}, id="key-missing-from-reported"),
    pytest.param(
        {"lights": {"color": {"r": 255, "g": 255}}},
        {"lights": {"color": {"r": 255, "g": 0}}},
        {"lights": {"color": {"g": 255}}},
        id="nested-difference-is-the-path-from-the-root",
    ),
    pytest.param(
        {"a": {"x": 1}, "b": 2},
        {"a": {"x": 1}, "b": 3},
        {"b": 2},
        id="equal-nested-objects-are-omitted",
    ),
    pytest.param({"arr": [1, 2, 3]}, {"arr": [1, 9, 3]}, {"arr": [1, 2, 3]}, id="arrays-compared-whole"),
    pytest.param({"arr": [1, 2, 3]}, {"arr": [1, 2]}, {"arr": [1, 2, 3]}, id="array-lengths-differ"),
    pytest.param({"arr": [[1, 2], [3]]}, {"arr": [[1, 2], [3]]}, None, id="equal-nested-arrays-no-delta"),
    pytest.param({"v": 1}, {"v": 1.0}, None, id="int-equals-float-numerically"),
    pytest.param({"v": [1, {"n": 2}]}, {"v": [1.0, {"n": 2.0}]}, None, id="numbers-in-arrays-numerically"),
    pytest.param({"v": 1}, {"v": "1"}, {"v": 1}, id="number-differs-from-string"),
    pytest.param({"v": True}, {"v": 1}, {"v": True}, id="true-differs-from-one"),
    pytest.param({"v": 1}, {"v": True}, {"v": 1}, id="one-differs-from-true"),
    pytest.param({"v": False}, {"v": 0}, {"v": False}, id="false-differs-from-zero"),
    pytest.param({"a": 1}, {"a": 1, "extra": 2}, None, id="keys-only-in-reported-never-in-delta"),
    pytest.param({"a": {"x": 1}}, {"a": 5}, {"a": {"x": 1}}, id="object-against-scalar-is-whole-object"),
    pytest.param(None, {"a": 1}, None, id="no-desired-no-delta"),
    pytest.param({}, {"a": 1}, None, id="empty-desired-no-delta"),
    pytest.param({"a": 1, "b": {"c": 2}}, None, {"a": 1, "b": {"c": 2}}, id="no-reported-delta-is-desired"),
    pytest.param({"a": 1, "d": {}}, None, {"a": 1, "d": {}}, id="explicit-empty-object-is-in-the-delta"),
    pytest.param(
        {"rows": [[1, 2], [3, 4]]},
        {"rows": [[1, 2], [3]]},
        {"rows": [[1, 2], [3, 4]]},
        id="list-of-lists-differs",
    ),
    pytest.param(
        {"arr": [{"x": 1}, {"y": 2}]},
        {"arr": [{"x": 1}, {"y": 3}]},
        {"arr": [{"x": 1}, {"y": 2}]},
        id="array-of-objects",
    ),
]


@pytest.mark.parametrize(("desired", "reported", "delta"), DELTA_CASES)
def test_delta_follows_aws_rules(desired, reported, delta):
    # Given desired and reported sections
    # When the delta is computed
    result = compute_delta(desired, reported)

    # Then it is exactly the expected delta
    assert result == delta


def test_delta_keeps_the_desired_value_type():
    # Given desired True against reported 1
    # When the delta is computed
    result = compute_delta({"v": True}, {"v": 1})

    # Then the delta carries the boolean, not an integer
    assert result is not None
    assert result["v"] is True


# --------------------------------------------------------------------------- metadata
def test_metadata_restamps_only_the_leaves_an_update_touches():
    # Given a shadow written at T0
    shadow = _shadow({"desired": {"a": 1, "b": {"c": 2, "d": 3}}})

    # When one nested leaf is updated at T1
    new, _ = apply_update(shadow, _update({"desired": {"b": {"c": 5}}}), T1)

    # Then only that leaf has the new timestamp
    assert new.metadata == {"desired": {"a": _ts(T0), "b": {"c": _ts(T1), "d": _ts(T0)}}}


def test_metadata_of_an_array_is_an_array_of_per_element_metadata():
    # Given an empty shadow
    # When an array holding a scalar and an object is reported
    new, _ = apply_update(Shadow(), _update({"reported": {"arr": [1, {"x": 2}]}}), T0)

    # Then its metadata mirrors each element
    assert new.metadata == {"reported": {"arr": [_ts(T0), {"x": _ts(T0)}]}}


def test_metadata_of_a_deleted_leaf_is_removed():
    # Given a shadow with two desired keys written at T0
    shadow = _shadow({"desired": {"a": 1, "b": 2}})

    # When one of them is deleted at T1
    new, _ = apply_update(shadow, _update({"desired": {"a": None}}), T1)

    # Then its metadata is gone and the other keeps its timestamp
    assert new.metadata == {"desired": {"b": _ts(T0)}}


def test_metadata_of_a_deleted_section_is_removed():
    # Given a shadow with both sections
    shadow = _shadow({"desired": {"a": 1}, "reported": {"b": 2}})

    # When the desired section is set to null
    new, _ = apply_update(shadow, _update({"desired": None}), T1)

    # Then only reported metadata remains
    assert new.metadata == {"reported": {"b": _ts(T0)}}


def test_metadata_subtree_is_replaced_when_a_key_changes_type():
    # Given a reported object written at T0
    shadow = _shadow({"reported": {"a": {"b": 1, "c": 2}}})

    # When the key becomes a scalar at T1
    new, _ = apply_update(shadow, _update({"reported": {"a": 7}}), T1)

    # Then its metadata is a single leaf stamp
    assert new.metadata == {"reported": {"a": _ts(T1)}}


def test_shadow_timestamp_is_the_time_of_the_last_update():
    # Given a shadow written at T0
    shadow = _shadow({"desired": {"a": 1}})

    # When it is updated at T1
    new, _ = apply_update(shadow, _update({"desired": {"a": 2}}), T1)

    # Then its timestamp is T1
    assert new.timestamp == T1


# --------------------------------------------------------------------------- /update/accepted
def test_accepted_document_echoes_the_request_with_metadata_of_every_requested_leaf():
    # Given a shadow at version 1
    shadow = _shadow({"desired": {"a": 1, "keep": 0}, "reported": {"x": 1}})
    request_state = {"desired": {"a": None, "b": {"c": 1, "d": None}}, "reported": {"arr": [1, 2]}}

    # When an update with nulls is applied at T1 without a clientToken
    _, accepted = apply_update(shadow, _update(request_state), T1)

    # Then the document echoes the state (nulls included) with metadata for every sent leaf
    assert accepted == {
        "state": {"desired": {"a": None, "b": {"c": 1, "d": None}}, "reported": {"arr": [1, 2]}},
        "metadata": {
            "desired": {"a": _ts(T1), "b": {"c": _ts(T1), "d": _ts(T1)}},
            "reported": {"arr": [_ts(T1), _ts(T1)]},
        },
        "version": 2,
        "timestamp": T1,
    }


def test_accepted_document_echoes_the_client_token_when_one_was_sent():
    # Given an empty shadow
    # When an update with a clientToken is applied
    _, accepted = apply_update(Shadow(), _update({"reported": {"a": 1}}, clientToken="tok-001"), T0)

    # Then the token is echoed
    assert accepted["clientToken"] == "tok-001"


def test_accepted_document_has_no_client_token_when_none_was_sent():
    # Given an empty shadow
    # When an update without a clientToken is applied
    _, accepted = apply_update(Shadow(), _update({"reported": {"a": 1}}), T0)

    # Then there is no clientToken key
    assert "clientToken" not in accepted


def test_accepted_document_for_null_state_has_only_a_timestamp_as_metadata():
    # Given a shadow at version 1
    shadow = _shadow({"desired": {"a": 1}})

    # When "state": null is applied at T1
    _, accepted = apply_update(shadow, _update(None), T1)

    # Then the document says state null with metadata {"timestamp": T1}
    assert accepted == {"state": None, "metadata": {"timestamp": T1}, "version": 2, "timestamp": T1}


# --------------------------------------------------------------------------- versions
def test_first_update_creates_version_1():
    # Given a shadow never written
    # When the first update is applied
    new, accepted = apply_update(Shadow(), _update({"reported": {"a": 1}}), T0)

    # Then it exists at version 1
    assert (new.version, new.exists, accepted["version"]) == (1, True, 1)


def test_every_update_increments_the_version_even_a_no_op():
    # Given a shadow at version 1
    shadow = _shadow({"desired": {"a": 1}})

    # When three updates are applied, one of which changes nothing
    for request_state in ({"desired": {"a": 2}}, {"desired": {}}, {"reported": {"a": 2}}):
        shadow, _ = apply_update(shadow, _update(request_state), T1)

    # Then the version is 4
    assert shadow.version == 4


@pytest.mark.parametrize("extra", [{"version": 0}, {}], ids=["version-0", "version-absent"])
def test_version_0_or_absent_skips_the_version_check(extra):
    # Given a shadow at version 3
    shadow = Shadow(state={"desired": {"a": 1}}, metadata={"desired": {"a": _ts(T0)}}, version=3, exists=True)

    # When an update with version 0 or no version is applied
    new, _ = apply_update(shadow, _update({"desired": {"a": 2}}, **extra), T1)

    # Then it is accepted as version 4
    assert (new.version, new.state) == (4, {"desired": {"a": 2}})


def test_matching_version_is_accepted():
    # Given a shadow at version 3
    shadow = Shadow(state={"desired": {"a": 1}}, metadata={"desired": {"a": _ts(T0)}}, version=3, exists=True)

    # When an update says version 3
    new, _ = apply_update(shadow, _update({"desired": {"a": 2}}, version=3), T1)

    # Then it is accepted as version 4
    assert new.version == 4


@pytest.mark.parametrize("sent", [2, 4], ids=["older", "newer"])
def test_version_mismatch_raises_version_conflict_with_the_current_version(sent):
    # Given a shadow at version 3
    shadow = Shadow(state={"desired": {"a": 1}}, metadata={"desired": {"a": _ts(T0)}}, version=3, exists=True)

    # When an update says another version
    with pytest.raises(VersionConflict) as caught:
        apply_update(shadow, _update({"desired": {"a": 2}}, version=sent), T1)

    # Then the conflict carries version 3 and AWS's message
    assert caught.value.current_version == 3
    assert caught.value.message == "Version conflict"


def test_version_sent_to_a_shadow_never_written_is_a_conflict():
    # Given a shadow never written (version 0)
    # When an update says version 1
    with pytest.raises(VersionConflict) as caught:
        apply_update(Shadow(), _update({"desired": {"a": 1}}, version=1), T0)

    # Then the conflict reports version 0
    assert caught.value.current_version == 0


# --------------------------------------------------------------------------- limits
def _sized_state(total_bytes: int) -> dict[str, Any]:
    """desired + reported whose compact JSON is exactly ``total_bytes`` long (``{"a":"…"}`` is 8 + n)."""
    desired_len = total_bytes // 2
    reported_len = total_bytes - desired_len
    state = {"desired": {"a": "x" * (desired_len - 8)}, "reported": {"b": "y" * (reported_len - 8)}}
    assert len(dumps(state["desired"])) + len(dumps(state["reported"])) == total_bytes
    return state


def test_state_of_exactly_8192_bytes_is_accepted():
    # Given an update whose desired + reported is exactly 8192 bytes of compact JSON
    request_state = _sized_state(8192)

    # When it is applied
    new, _ = apply_update(Shadow(), _update(request_state), T0)

    # Then it is stored
    assert new.state == request_state


def test_state_over_8192_bytes_raises_payload_too_large():
    # Given an update whose desired + reported is 8193 bytes of compact JSON
    request_state = _sized_state(8193)

    # When it is applied
    with pytest.raises(PayloadTooLarge) as caught:
        apply_update(Shadow(), _update(request_state), T0)

    # Then AWS's message is given
    assert caught.value.message == "The payload exceeds the maximum size allowed"


def test_size_limit_counts_the_merged_state_not_the_request():
    # Given a shadow whose reported section is 4096 bytes
    shadow = _shadow({"reported": {"b": "y" * (4096 - 8)}})

    # When a desired section of 4097 bytes is added
    with pytest.raises(PayloadTooLarge):
        apply_update(shadow, _update({"desired": {"a": "x" * (4097 - 8)}}), T1)

    # Then the update is refused although the request alone is under the limit


def test_size_limit_counts_utf8_bytes_not_characters():
    # Given a desired value of 4093 two-byte characters: 4101 characters but 8194 bytes
    request_state = {"desired": {"a": "é" * 4093}}

    # When it is applied
    with pytest.raises(PayloadTooLarge):
        apply_update(Shadow(), _update(request_state), T0)

    # Then it is refused


def test_six_levels_of_nesting_pass():
    # Given a section with 6 object levels, the section itself being level 1
    section = _nested(6)

    # When it is validated and applied
    validate_section(section)
    new, _ = apply_update(Shadow(), _update({"desired": section}), T0)

    # Then it is stored
    assert new.state == {"desired": section}


def test_seventh_level_of_nesting_is_rejected():
    # Given a section with 7 object levels
    section = _nested(7)

    # When it is applied
    with pytest.raises(InvalidRequest) as caught:
        apply_update(Shadow(), _update({"desired": section}), T0)

    # Then AWS's nesting message is given
    assert caught.value.message == "JSON contains too many levels of nesting; maximum is 6"


def test_arrays_count_as_nesting_levels():
    # Given a section (level 1) whose value is six nested arrays (levels 2 to 7)
    section = {"k": [[[[[[1]]]]]]}

    # When it is validated
    with pytest.raises(InvalidRequest) as caught:
        validate_section(section)

    # Then it is too deep
    assert caught.value.message == "JSON contains too many levels of nesting; maximum is 6"


def test_empty_containers_do_not_count_as_nesting_levels():
    # Given 6 object levels ending in an empty object
    section = {"a": {"b": {"c": {"d": {"e": {"f": {}}}}}}}

    # When it is validated
    result = validate_section(section)

    # Then it passes
    assert result is None


def test_array_containing_null_is_rejected():
    # Given an update with a null inside an array
    request_state = {"reported": {"arr": [1, None, 3]}}

    # When it is applied
    with pytest.raises(InvalidRequest) as caught:
        apply_update(Shadow(), _update(request_state), T0)

    # Then it is refused as invalid JSON
    assert caught.value.message.startswith("Invalid JSON")


@pytest.mark.parametrize("token", ["", 7, ["t"], {"t": 1}], ids=["empty", "number", "array", "object"])
def test_client_token_that_is_not_a_non_empty_string_is_rejected(token):
    # Given a request whose clientToken is not a non-empty string
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_update({"state": {}, "clientToken": token})

    # Then AWS's message is given
    assert caught.value.message == "Invalid clientToken"


def test_client_token_of_64_bytes_is_accepted():
    # Given a request whose clientToken is 64 bytes
    token = "t" * 64

    # When it is parsed
    update = parse_update({"state": {}, "clientToken": token})

    # Then the token is kept
    assert update.client_token == token


@pytest.mark.parametrize("token", ["t" * 65, "é" * 33], ids=["65-ascii-bytes", "66-utf8-bytes"])
def test_client_token_over_64_bytes_is_rejected(token):
    # Given a request whose clientToken is over 64 bytes
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_update({"state": {}, "clientToken": token})

    # Then AWS's message is given
    assert caught.value.message == "Invalid clientToken"


# --------------------------------------------------------------------------- parse_update
def test_parse_update_reads_state_version_and_client_token():
    # Given a full request document with an ignored extra top-level key
    document = {"state": {"reported": {"a": 1}}, "version": 7, "clientToken": "c1", "thingName": "t"}

    # When it is parsed
    update = parse_update(document)

    # Then the fields are taken as sent
    assert update == ShadowUpdate(state={"reported": {"a": 1}}, version=7, client_token="c1")


def test_parse_update_accepts_null_state():
    # Given a request with "state": null
    # When it is parsed
    update = parse_update({"state": None})

    # Then the update's state is None
    assert update == ShadowUpdate(state=None)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param({"desired": {"a": 1}}, "Missing required node: state", id="missing-state"),
        pytest.param({"state": [1]}, "State node must be an object", id="state-array"),
        pytest.param({"state": "on"}, "State node must be an object", id="state-string"),
        pytest.param({"state": 1}, "State node must be an object", id="state-number"),
        pytest.param({"state": {"desired": 1}}, "Desired node must be an object", id="desired-number"),
        pytest.param({"state": {"desired": [1]}}, "Desired node must be an object", id="desired-array"),
        pytest.param({"state": {"reported": "x"}}, "Reported node must be an object", id="reported-string"),
        pytest.param({"state": {"delta": {"a": 1}}}, "State contains an invalid node: 'delta'", id="delta"),
        pytest.param({"state": {"other": {}}}, "State contains an invalid node: 'other'", id="unknown-node"),
        pytest.param({"state": {}, "version": -1}, "Invalid version", id="version-negative"),
        pytest.param({"state": {}, "version": True}, "Invalid version", id="version-bool"),
        pytest.param({"state": {}, "version": 1.5}, "Invalid version", id="version-float"),
        pytest.param({"state": {}, "version": "1"}, "Invalid version", id="version-string"),
        pytest.param([{"state": {}}], "Invalid JSON", id="document-not-an-object"),
    ],
)
def test_parse_update_rejects_with_aws_message(document, message):
    # Given a malformed request document
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_update(document)

    # Then AWS's exact message is given
    assert caught.value.message == message


def test_parse_update_rejects_a_section_the_caller_does_not_allow():
    # Given a request with a desired section, parsed where only reported is allowed
    # When it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_update({"state": {"desired": {"a": 1}}}, sections=("reported",))

    # Then desired is an invalid node
    assert caught.value.message == "State contains an invalid node: 'desired'"


# --------------------------------------------------------------------------- get_document
def test_get_document_has_both_sections_their_metadata_and_the_delta():
    # Given a shadow whose desired differs from reported
    shadow = _shadow({"desired": {"a": 1}, "reported": {"a": 2, "b": 3}})

    # When the document is read at NOW
    document = shadow.get_document(NOW)

    # Then it holds state with delta, metadata, the version and the read time
    assert document == {
        "state": {"desired": {"a": 1}, "reported": {"a": 2, "b": 3}, "delta": {"a": 1}},
        "metadata": {"desired": {"a": _ts(T0)}, "reported": {"a": _ts(T0), "b": _ts(T0)}},
        "version": 1,
        "timestamp": NOW,
    }


def test_get_document_omits_delta_when_desired_matches_reported():
    # Given a shadow whose desired equals reported
    shadow = _shadow({"desired": {"a": 1}, "reported": {"a": 1.0}})

    # When the document is read
    document = shadow.get_document(NOW)

    # Then there is no delta
    assert document["state"] == {"desired": {"a": 1}, "reported": {"a": 1.0}}


def test_get_document_omits_empty_sections():
    # Given a stored shadow with an empty desired section
    shadow = Shadow(
        state={"desired": {}, "reported": {"a": 1}},
        metadata={"desired": {}, "reported": {"a": _ts(T0)}},
        version=5,
        exists=True,
    )

    # When the document is read
    document = shadow.get_document(NOW)

    # Then only the reported section and its metadata appear
    assert document == {
        "state": {"reported": {"a": 1}},
        "metadata": {"reported": {"a": _ts(T0)}},
        "version": 5,
        "timestamp": NOW,
    }


def test_get_document_with_only_desired_has_delta_equal_to_desired():
    # Given a shadow with only a desired section
    shadow = _shadow({"desired": {"a": 1, "b": {"c": 2}}})

    # When the document is read
    document = shadow.get_document(NOW)

    # Then delta is the whole desired section
    assert document["state"] == {"desired": {"a": 1, "b": {"c": 2}}, "delta": {"a": 1, "b": {"c": 2}}}


def test_empty_state_creates_an_empty_shadow_at_version_1():
    # Given a shadow never written
    # When the update says "state": {} (AWS-verified vector "No data")
    new, accepted = apply_update(Shadow(), _update({}), T0)

    # Then the shadow exists, empty, at version 1, and GET returns the empty document
    assert (new.exists, new.state, new.version) == (True, {}, 1)
    assert accepted == {"state": {}, "metadata": {}, "version": 1, "timestamp": T0}
    assert new.get_document(NOW) == {"state": {}, "metadata": {}, "version": 1, "timestamp": NOW}


def test_version_0_on_a_shadow_never_written_is_accepted():
    # Given a shadow never written
    # When an update says version 0 (EMQX Fleets: "0 auto-increments")
    new, _ = apply_update(Shadow(), _update({"reported": {"a": 1}}, version=0), T0)

    # Then it is version 1
    assert new.version == 1


def test_cleared_shadow_keeps_its_version_so_the_next_write_carries_on():
    # Given a shadow at version 2 that is deleted
    shadow, _ = apply_update(_shadow({"desired": {"a": 1}}), _update({"desired": {"a": 2}}), T1)
    gone = cleared(shadow)

    # When it is written again
    new, accepted = apply_update(gone, _update({"reported": {"b": 1}}), NOW)

    # Then the deleted shadow no longer exists, and the new document is version 3 with only the new state
    assert (gone.exists, gone.state, gone.metadata, gone.version) == (False, {}, {}, 2)
    assert (new.version, accepted["version"], new.state, new.exists) == (3, 3, {"reported": {"b": 1}}, True)


def test_get_document_of_a_cleared_shadow_is_empty_with_its_version():
    # Given a shadow emptied by "state": null (version 2)
    shadow, _ = apply_update(_shadow({"desired": {"a": 1}}), _update(None), T1)

    # When the document is read
    document = shadow.get_document(NOW)

    # Then it is the AWS-verified empty document
    assert document == {"state": {}, "metadata": {}, "version": 2, "timestamp": NOW}
