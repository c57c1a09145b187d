"""Use cases: what handlers call. Each reads its settings and builds its repositories on demand."""

from __future__ import annotations

from fleetgate.data.aws import reset_clients
from fleetgate.settings import get_settings


def reset_caches() -> None:
    """Forget cached settings and AWS clients (tests that change the environment call this)."""
    from fleetgate.services import apikeys  # noqa: PLC0415 - keep this module import-light

    get_settings.cache_clear()
    reset_clients()
    apikeys.forget_cached_keys()
