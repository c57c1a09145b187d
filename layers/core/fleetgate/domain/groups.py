"""Static thing groups: named sets of devices that jobs target (AWS IoT's static thing groups, the
"Thing Group" of EMQX Fleets). Names follow AWS's thing-group rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fleetgate.errors import InvalidRequest

NAME_PATTERN = re.compile(r"[a-zA-Z0-9:_-]{1,128}\Z")
MAX_DESCRIPTION = 2028


@dataclass(frozen=True)
class ThingGroup:
    name: str
    description: str
    created_at: int  # epoch milliseconds


def new_group(name: str, description: str | None, now_ms: int) -> ThingGroup:
    check_name(name)
    description = description or ""
    if len(description) > MAX_DESCRIPTION:
        raise InvalidRequest(f"description must be at most {MAX_DESCRIPTION} characters")
    return ThingGroup(name, description, now_ms)


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise InvalidRequest("A thing group name is 1-128 characters of letters, digits, ':', '_' or '-'")
