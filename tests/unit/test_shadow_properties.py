"""Properties of the shadow engine that hold for any JSON-like update.

Rules under test: docs/thingdatas.md, "The shadow rules".

Strategies are bounded so that every generated document stays inside AWS's limits (depth 6, 8 KB):
a section nests at most 3 object levels plus one array level, with at most 3 keys per object.
Arrays never hold null (AWS rejects that); objects in patches may hold null at any level, and
objects made only of nulls are generated on purpose.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetgate.domain.shadow import SECTIONS, Shadow, apply_update, compute_delta, parse_update
from fleetgate.errors import InvalidRequest
from fleetgate.services.shadows import parse_report

T0 = 1_700_000_000
T1 = T0 + 60

_KEYS = st.sampled_from(["a", "b", "c", "d"])  # few names, so patches often meet stored keys
_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-1000, max_value=1000),
    st.floats(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False),
    st.text(alphabet="xyzé1", max_size=4),
)
_LEAVES = st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3))


def _values(levels: int, *, nulls: bool, empty_objects: bool) -> st.SearchStrategy[Any]:
    """Leaves or objects of at most ``levels`` levels; ``nulls`` allows None as an object value."""
    if levels == 0:
        return st.one_of(st.none(), _LEAVES) if nulls else _LEAVES
    inner = _values(levels - 1, nulls=nulls, empty_objects=empty_objects)
    objects = st.dictionaries(_KEYS, inner, min_size=0 if empty_objects else 1, max_size=3)
    if not nulls:
        return st.one_of(_LEAVES, objects)
    all_nulls = st.dictionaries(_KEYS, st.none(), min_size=1, max_size=2)
    return st.one_of(st.none(), _LEAVES, objects, all_nulls)


def _section(*, nulls: bool, empty_objects: bool = True, min_size: int = 0) -> st.SearchStrategy[dict]:
    return st.dictionaries(
        _KEYS,
        _values(2, nulls=nulls, empty_objects=empty_objects),
        min_size=min_size,
        max_size=3,
    )


# A stored state: what a null-free update makes of an empty shadow.
_STORED = st.fixed_dictionaries({}, optional={s: _section(nulls=False) for s in SECTIONS})
# A request state: each section absent, null, or a patch that may delete keys.
_REQUEST = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={s: st.one_of(st.none(), _section(nulls=True)) for s in SECTIONS}),
)


def _shadow(state: dict[str, Any]) -> Shadow:
    shadow, _ = apply_update(Shadow(), parse_update({"state": copy.deepcopy(state)}), T0)
    return shadow


def _canon(value: Any) -> Any:
    """JSON equality as AWS compares it: numbers numerically, booleans apart from numbers."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, list):
        return ("array", tuple(_canon(v) for v in value))
    if isinstance(value, dict):
        return ("object", tuple(sorted((k, _canon(v)) for k, v in value.items())))
    return ("string", value)


def _leaves(value: dict[str, Any], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            out.update(_leaves(item, (*path, key)))
        else:
            out[(*path, key)] = item
    return out


def _lookup(value: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return False, None
        value = value[key]
    return True, value


def _every_desired_leaf_is_reported(desired: dict[str, Any], reported: dict[str, Any]) -> bool:
    for path, want in _leaves(desired).items():
        found, have = _lookup(reported, path)
        if not found or _canon(have) != _canon(want):
            return False
    return True


def _contains_none(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_contains_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_none(v) for v in value)
    return False


def _assert_metadata_mirrors(state: Any, metadata: Any) -> None:
    if isinstance(state, dict):
        assert isinstance(metadata, dict)
        assert metadata.keys() == state.keys()
        for key, item in state.items():
            _assert_metadata_mirrors(item, metadata[key])
    elif isinstance(state, list):
        assert isinstance(metadata, list)
        assert len(metadata) == len(state)
        for item, meta in zip(state, metadata, strict=True):
            _assert_metadata_mirrors(item, meta)
    else:
        assert metadata in ({"timestamp": T0}, {"timestamp": T1})


@st.composite
def _desired_and_reported(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A desired section (no empty objects) and a reported one: an equal copy (with extra keys and
    integers written as floats), that copy with exactly one leaf changed, or an unrelated section."""
    desired = draw(_section(nulls=False, empty_objects=False, min_size=1))
    kind = draw(st.sampled_from(["equal", "one-leaf-changed", "one-leaf-changed", "independent"]))
    if kind == "independent":
        return desired, draw(_section(nulls=False))
    reported = copy.deepcopy(desired)
    parents = {}
    for path in _leaves(desired):
        parent = reported
        for key in path[:-1]:
            parent = parent[key]
        parents[path] = parent
        value = parent[path[-1]]
        if type(value) is int and draw(st.booleans()):
            parent[path[-1]] = float(value)  # numerically equal, so still no difference
    reported.update(draw(st.dictionaries(st.sampled_from(["u", "v", "w"]), _LEAVES)))
    if kind == "one-leaf-changed":
        path = draw(st.sampled_from(sorted(parents)))
        parent, key = parents[path], path[-1]
        action = draw(st.sampled_from(["retype", "replace", "drop"]))
        if action == "retype":  # equal in Python, different in JSON: True/1, 1/"1"
            parent[key] = int(parent[key]) if isinstance(parent[key], bool) else str(parent[key])
        elif action == "replace":
            parent[key] = draw(_LEAVES)
        else:
            del parent[key]
    return desired, reported


@settings(deadline=None, max_examples=400)
@given(stored=_STORED, request=_REQUEST)
def test_applying_the_same_update_twice_gives_the_same_state(stored, request):
    # Given a stored shadow and an update
    shadow = _shadow(stored)
    update = parse_update({"state": request})

    # When the update is applied once, then again
    once, _ = apply_update(shadow, update, T1)
    twice, _ = apply_update(once, update, T1)

    # Then the second application changes nothing but the version
    assert twice.state == once.state
    assert twice.version == shadow.version + 2


@settings(deadline=None)
@given(sections=_desired_and_reported())
def test_delta_is_none_exactly_when_every_desired_leaf_equals_reported(sections):
    # Given a desired section and a reported section
    desired, reported = sections

    # When the delta is computed
    delta = compute_delta(desired, reported)

    # Then it is None if and only if every desired leaf is reported with an equal value
    assert (delta is None) == _every_desired_leaf_is_reported(desired, reported)


@settings(deadline=None)
@given(stored=_STORED)
def test_reporting_the_desired_state_leaves_no_delta(stored):
    # Given a stored shadow
    shadow = _shadow(stored)

    # When the device reports exactly what is desired
    new, _ = apply_update(shadow, parse_update({"state": {"reported": copy.deepcopy(shadow.desired)}}), T1)

    # Then there is no delta
    assert new.delta is None


@settings(deadline=None)
@given(stored=_STORED, request=_REQUEST)
def test_state_after_an_update_has_no_nulls_and_no_empty_sections(stored, request):
    # Given a stored shadow and an update that may delete keys and sections
    shadow = _shadow(stored)

    # When the update is applied
    new, _ = apply_update(shadow, parse_update({"state": request}), T1)

    # Then no value is null and every section present is a non-empty object
    assert not _contains_none(new.state)
    assert set(new.state) <= set(SECTIONS)
    assert all(isinstance(v, dict) and v for v in new.state.values())


@settings(deadline=None)
@given(stored=_STORED, request=_REQUEST)
def test_metadata_has_the_same_structure_as_the_state(stored, request):
    # Given a stored shadow and an update
    shadow = _shadow(stored)

    # When the update is applied
    new, _ = apply_update(shadow, parse_update({"state": request}), T1)

    # Then metadata has the state's keys at every object level and a timestamp at every leaf
    _assert_metadata_mirrors(new.state, new.metadata)


@settings(deadline=None)
@given(
    patch=st.fixed_dictionaries(
        {}, optional={s: _section(nulls=False, empty_objects=False, min_size=1) for s in SECTIONS}
    )
)
def test_merging_a_null_free_patch_into_an_empty_shadow_gives_the_patch(patch):
    # Given an empty shadow and a patch with no nulls and no empty objects
    # When the patch is applied
    new, _ = apply_update(Shadow(), parse_update({"state": copy.deepcopy(patch)}), T0)

    # Then the state is the patch
    assert new.state == patch


# --------------------------------------------------------------------------- the report endpoint's rules
def _request_leaves(value: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every leaf path a request sends (a null, a scalar, an array or an empty object)."""
    if isinstance(value, dict) and value:
        return set().union(*(_request_leaves(v, (*path, k)) for k, v in value.items()))
    return {path}


def _meta_leaves(value: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every leaf path of request metadata: a ``{"timestamp": T}``, an array's list, an empty object."""
    if isinstance(value, dict) and value and "timestamp" not in value:
        return set().union(*(_meta_leaves(v, (*path, k)) for k, v in value.items()))
    return {path}


@settings(deadline=None, max_examples=300)
@given(
    stored=_STORED, patch=st.one_of(st.none(), _section(nulls=True)), token=st.one_of(st.none(), st.just("t"))
)
def test_a_report_never_touches_desired_and_answers_with_what_it_sent(stored, patch, token):
    # Given a stored shadow and a device's report (the ThingDatas endpoint's document)
    shadow = _shadow(stored)
    document: dict[str, Any] = {"thingName": "t", "state": {"reported": copy.deepcopy(patch)}}
    if token:
        document["clientToken"] = token

    # When it is parsed as a report and applied
    new, accepted = apply_update(shadow, parse_report(document), T1)

    # Then desired and its metadata are untouched, the answer echoes the request's state and token,
    # and its metadata stamps exactly the leaves the request sent
    assert new.desired == shadow.desired
    assert new.metadata.get("desired") == shadow.metadata.get("desired")
    assert accepted["state"] == {"reported": patch}
    assert accepted.get("clientToken") == token
    assert accepted["version"] == shadow.version + 1
    if isinstance(patch, dict):
        assert _meta_leaves(accepted["metadata"]["reported"]) == _request_leaves(patch)
    else:
        assert accepted["metadata"] == {}


@settings(deadline=None)
@given(
    extra=st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).filter(
            lambda k: k != "reported"
        ),
        st.one_of(st.none(), _section(nulls=False)),
        min_size=1,
        max_size=2,
    )
)
def test_a_report_with_any_node_beside_reported_is_refused(extra):
    # Given a report whose state holds another node (desired, delta, anything)
    document = {"state": {"reported": {"a": 1}, **extra}}

    # When it is parsed as a report
    # Then it is refused, naming the first foreign node as AWS does
    try:
        parse_report(document)
    except InvalidRequest as exc:
        assert exc.message == f"State contains an invalid node: '{next(iter(extra))}'"
    else:
        raise AssertionError("accepted a report with a foreign node")
