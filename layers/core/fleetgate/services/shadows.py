"""Shadow use cases over the shadow engine, safe under concurrent writers.

An update reads the document, applies the engine, and writes it back only if the version is unchanged;
when another writer got there first it starts again from the new document. Requests that name an
expected version get the engine's ``VersionConflict`` on the retry instead.
"""

from __future__ import annotations

import random
import time

from fleetgate.data.shadows import ShadowRepository
from fleetgate.domain.shadow import Json, Shadow, ShadowUpdate, apply_update
from fleetgate.errors import Retryable, VersionConflict
from fleetgate.settings import get_settings

MAX_ATTEMPTS = 12


def repository() -> ShadowRepository:
    return ShadowRepository(get_settings().require("shadows_table"))


def read(device_id: str, name: str) -> Shadow:
    return repository().get(device_id, name)


def update(
    device_id: str, name: str, request: ShadowUpdate, *, replace_top_level: bool = False
) -> tuple[Shadow, Json]:
    repo = repository()
    for attempt in range(MAX_ATTEMPTS):
        current = repo.get(device_id, name)
        new, accepted = apply_update(current, request, int(time.time()), replace_top_level=replace_top_level)
        try:
            repo.save(device_id, name, new, expected_version=current.version)
            return new, accepted
        except VersionConflict:
            time.sleep(random.uniform(0, 0.004 * 2 ** min(attempt, 6)))  # noqa: S311 - jitter, not crypto
    raise Retryable("The shadow is being changed by many writers; retry the request")
