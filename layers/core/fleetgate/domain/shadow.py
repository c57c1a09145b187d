"""The shadow engine: AWS IoT Device Shadow semantics, pure and storage-free.

Every dialect's device state goes through here: ThingsBoard client attributes are the reported side,
shared attributes the desired side; the ThingDatas shadow is the document itself.

Rules (AWS documentation, Greengrass Shadow Manager, and AWS-verified vectors):
- an update deep-merges ``state.desired`` / ``state.reported``; a ``null`` leaf deletes the key,
  a ``null`` section deletes the section, ``"state": null`` clears both; arrays are replaced whole;
  a section or a nested object emptied by deletions disappears; an explicit ``{}`` value is stored;
- delta: desired keys whose values differ from reported (numbers compare numerically, ``1 != True``);
- metadata mirrors the state with ``{"timestamp": epoch seconds}`` on each leaf touched;
- every accepted update increments ``version``; a supplied version other than 0 must match;
- limits: desired + reported at most 8 KB of compact JSON, nesting depth 6, clientToken 64 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from fleetgate.errors import InvalidRequest, PayloadTooLarge, VersionConflict
from fleetgate.jsonutil import dumps, integer

SECTIONS = ("desired", "reported")
MAX_STATE_BYTES = 8192
MAX_DEPTH = 6
MAX_CLIENT_TOKEN_BYTES = 64
CLASSIC = "~classic"  # storage name of the unnamed shadow; cannot clash with [a-zA-Z0-9:_-]+ names

Json = dict[str, Any]


@dataclass(frozen=True)
class Shadow:
    """A stored shadow document. ``exists`` is False for one never written (version 0)."""

    state: Json = field(default_factory=dict)
    metadata: Json = field(default_factory=dict)
    version: int = 0
    timestamp: int = 0
    exists: bool = False

    @property
    def desired(self) -> Json:
        return self.state.get("desired", {})

    @property
    def reported(self) -> Json:
        return self.state.get("reported", {})

    @property
    def delta(self) -> Json | None:
        return compute_delta(self.state.get("desired"), self.state.get("reported"))

    def get_document(self, now: int) -> Json:
        """The GET / ``/get/accepted`` document: only non-empty sections, delta included."""
        state = {k: v for k, v in self.state.items() if v}
        delta = self.delta
        if delta:
            state["delta"] = delta
        metadata = {k: v for k, v in self.metadata.items() if k in state}
        return {"state": state, "metadata": metadata, "version": self.version, "timestamp": now}


@dataclass(frozen=True)
class ShadowUpdate:
    """A validated update request. ``state`` None means the request said ``"state": null``."""

    state: Json | None
    version: int | None = None
    client_token: str | None = None


def parse_update(document: Any, *, sections: tuple[str, ...] = SECTIONS) -> ShadowUpdate:
    """Validate an update request document with AWS's own error messages."""
    if not isinstance(document, dict):
        raise InvalidRequest("Invalid JSON")
    if "state" not in document:
        raise InvalidRequest("Missing required node: state")
    state = document["state"]
    if state is not None and not isinstance(state, dict):
        raise InvalidRequest("State node must be an object")
    for key, value in (state or {}).items():
        if key not in SECTIONS:
            raise InvalidRequest(f"State contains an invalid node: '{key}'")
        if key not in sections:
            raise InvalidRequest(f"State contains an invalid node: '{key}'")
        if value is not None and not isinstance(value, dict):
            raise InvalidRequest(f"{key.capitalize()} node must be an object")
    raw_version = document.get("version")
    version = integer(raw_version)
    if raw_version is not None and (version is None or version < 0):
        raise InvalidRequest("Invalid version")
    token = document.get("clientToken")
    if token is not None and (
        not isinstance(token, str) or len(token.encode()) > MAX_CLIENT_TOKEN_BYTES or not token
    ):
        raise InvalidRequest("Invalid clientToken")
    return ShadowUpdate(state=state, version=version, client_token=token)


def validate_section(section: Json) -> None:
    """Depth (the section is level 1; only non-empty containers count) and no nulls in arrays."""
    if _depth(section) > MAX_DEPTH:
        raise InvalidRequest(f"JSON contains too many levels of nesting; maximum is {MAX_DEPTH}")


def _depth(value: Any) -> int:
    if isinstance(value, dict) and value:
        return 1 + max(_depth(v) for v in value.values())
    if isinstance(value, list) and value:
        if any(v is None for v in value):
            raise InvalidRequest("Invalid JSON: arrays can't have null values")
        return 1 + max(_depth(v) for v in value)
    return 0


def apply_update(
    shadow: Shadow, update: ShadowUpdate, now: int, *, replace_top_level: bool = False
) -> tuple[Shadow, Json]:
    """Merge ``update`` into ``shadow``. Returns the new shadow and the ``/update/accepted`` document.

    ``replace_top_level`` makes each top-level key of a section a whole value (replaced, never merged),
    which is how ThingsBoard attributes behave; deeper levels keep AWS semantics.
    """
    if update.version not in (None, 0) and update.version != shadow.version:
        raise VersionConflict(current_version=shadow.version)

    state = dict(shadow.state)
    metadata = dict(shadow.metadata)
    if update.state is None:
        state, metadata = {}, {}
    else:
        for section, patch in update.state.items():
            if patch is None:
                state.pop(section, None)
                metadata.pop(section, None)
                continue
            validate_section(patch)
            merged, merged_meta = _merge(
                state.get(section, {}), patch, metadata.get(section, {}), now, replace_top_level
            )
            if merged:
                state[section], metadata[section] = merged, merged_meta
            else:
                state.pop(section, None)
                metadata.pop(section, None)

    size = sum(len(dumps(state[s]).encode()) for s in SECTIONS if s in state)
    if size > MAX_STATE_BYTES:
        raise PayloadTooLarge("The payload exceeds the maximum size allowed")

    new = Shadow(state=state, metadata=metadata, version=shadow.version + 1, timestamp=now, exists=True)
    accepted: Json = {"state": update.state, "version": new.version, "timestamp": now}
    if update.state is None:
        accepted["metadata"] = {"timestamp": now}
    else:
        accepted["metadata"] = {
            s: _request_metadata(p, now) for s, p in update.state.items() if isinstance(p, dict)
        }
    if update.client_token is not None:
        accepted["clientToken"] = update.client_token
    return new, accepted


def cleared(shadow: Shadow) -> Shadow:
    """The shadow after a delete: no state, but the version carries on when it is written again."""
    return replace(shadow, state={}, metadata={}, exists=False)


def _merge(old: Json, patch: Json, meta: Json, now: int, replace_top_level: bool) -> tuple[Json, Json]:
    result, result_meta = dict(old), dict(meta)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
            result_meta.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict) and not replace_top_level:
            child_meta = result_meta.get(key)
            merged, merged_meta = _merge(
                result[key], value, child_meta if isinstance(child_meta, dict) else {}, now, False
            )
            if merged or not value:
                result[key], result_meta[key] = merged, merged_meta
            else:  # emptied by deletions
                result.pop(key, None)
                result_meta.pop(key, None)
        elif isinstance(value, dict):
            stripped = _strip_nulls(value)
            if stripped or not value:
                result[key], result_meta[key] = stripped, _leaf_metadata(stripped, now)
            else:  # an object made only of nulls creates nothing
                result.pop(key, None)
                result_meta.pop(key, None)
        else:
            result[key], result_meta[key] = value, _leaf_metadata(value, now)
    return result, result_meta


def _strip_nulls(value: Json) -> Json:
    out: Json = {}
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, dict):
            stripped = _strip_nulls(item)
            if stripped or not item:
                out[key] = stripped
        else:
            out[key] = item
    return out


def _leaf_metadata(value: Any, now: int) -> Any:
    if isinstance(value, dict):
        return {k: _leaf_metadata(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_leaf_metadata(v, now) for v in value]
    return {"timestamp": now}


def _request_metadata(value: Any, now: int) -> Any:
    """Metadata of the request itself: every leaf sent, nulls included."""
    if isinstance(value, dict):
        return {k: _request_metadata(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_request_metadata(v, now) for v in value]
    return {"timestamp": now}


def compute_delta(desired: Json | None, reported: Json | None) -> Json | None:
    """Desired keys whose value differs from reported; None when there is no difference."""
    if not desired:
        return None
    if reported is None:
        return dict(desired)
    return _diff(reported, desired)


def _diff(reported: Json, desired: Json) -> Json | None:
    out: Json = {}
    for key, want in desired.items():
        if key not in reported:
            out[key] = want
            continue
        have = reported[key]
        if isinstance(want, dict) and isinstance(have, dict):
            nested = _diff(have, want)
            if nested is not None:
                out[key] = nested
        elif not _same(have, want):
            out[key] = want
    return out or None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
