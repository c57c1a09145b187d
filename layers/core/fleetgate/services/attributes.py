"""Attributes, the ThingsBoard view of the classic shadow: client attributes are the reported side,
shared attributes the desired side. Each attribute is a whole value (a JSON attribute is replaced, not
merged), as in ThingsBoard."""

from __future__ import annotations

from typing import Any

from fleetgate.domain.shadow import CLASSIC, Shadow, ShadowUpdate
from fleetgate.errors import InvalidRequest
from fleetgate.services import shadows


def report_client(device_id: str, values: dict[str, Any]) -> Shadow:
    return _update(device_id, "reported", values)


def set_shared(device_id: str, values: dict[str, Any]) -> Shadow:
    """Merge ``values`` into the shared attributes; a ``null`` value removes that attribute."""
    return _update(device_id, "desired", values)


def delete_shared(device_id: str, keys: list[str]) -> Shadow:
    if not keys:
        raise InvalidRequest("keys must name at least one attribute")
    return _update(device_id, "desired", dict.fromkeys(keys))


def read(device_id: str) -> Shadow:
    return shadows.read(device_id, CLASSIC)


def select(values: dict[str, Any], keys: list[str] | None) -> dict[str, Any]:
    """``values`` restricted to ``keys`` (all of them when ``keys`` is None); unknown keys are absent."""
    if keys is None:
        return dict(values)
    return {k: values[k] for k in keys if k in values}


def _update(device_id: str, section: str, values: dict[str, Any]) -> Shadow:
    for key in values:
        if not key or len(key) > 255:
            raise InvalidRequest("Attribute keys must be 1-255 characters")
    shadow, _ = shadows.update(
        device_id, CLASSIC, ShadowUpdate(state={section: values}), replace_top_level=True
    )
    return shadow
