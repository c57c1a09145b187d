"""Attributes, the ThingsBoard view of the classic shadow: client attributes are the reported side,
shared attributes the desired side. Each attribute is a whole value (a JSON attribute is replaced, not
merged), as in ThingsBoard."""

from __future__ import annotations

from typing import Any

from fleetgate.data import wakeups
from fleetgate.domain.devices import Device
from fleetgate.domain.shadow import CLASSIC, Shadow, ShadowUpdate
from fleetgate.errors import InvalidRequest
from fleetgate.jsonutil import dumps
from fleetgate.services import shadows


def report_client(device_id: str, values: dict[str, Any]) -> Shadow:
    """Merge ``values`` into the client attributes (the reported side); kept in the shadow's history
    like any other report."""
    return _update(device_id, "reported", values)


def set_shared(device: Device, values: dict[str, Any]) -> Shadow:
    """Merge ``values`` into the shared attributes; a ``null`` value removes that attribute. The
    device's attribute poller is woken."""
    shadow = _update(device.id, "desired", values)
    wakeups.notify(device.queues.get("attributes"), "attributes")
    return shadow


def delete_shared(device: Device, keys: list[str]) -> Shadow:
    if not keys:
        raise InvalidRequest("keys must name at least one attribute")
    return set_shared(device, dict.fromkeys(keys))


def next_update(device_id: str) -> dict[str, Any] | None:
    """What the device has not been sent yet of its shared attributes, as ThingsBoard's
    ``attributes/updates`` body: the changed keys with their values, or ``{"deleted": [...]}``
    (changes first; deletions in the next response, as the format holds only one kind). None when
    the device is up to date. What is returned is recorded as delivered, so nothing that changes
    between polls is ever lost, and a value changed twice is sent once, as it is now."""
    repo = shadows.repository()
    shadow, delivered = repo.get_with_delivered(device_id, CLASSIC)
    desired = shadow.desired
    changed = {k: v for k, v in desired.items() if k not in delivered or dumps(delivered[k]) != dumps(v)}
    if changed:
        repo.save_delivered(device_id, CLASSIC, {**delivered, **changed})
        return changed
    deleted = [k for k in delivered if k not in desired]
    if deleted:
        repo.save_delivered(device_id, CLASSIC, {k: v for k, v in delivered.items() if k in desired})
        return {"deleted": deleted}
    return None


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
        device_id,
        CLASSIC,
        ShadowUpdate(state={section: values}),
        replace_top_level=True,
        source="thingsboard",
    )
    return shadow
