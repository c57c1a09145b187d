"""Device profile use cases: create, read, list, change the provisioning strategy, rotate the
provision secret, delete (only while no device uses the profile), and list a profile's devices."""

from __future__ import annotations

from fleetgate import clock
from fleetgate.data.profiles import ProfileRepository
from fleetgate.domain.devices import Device
from fleetgate.domain.paging import check_limit
from fleetgate.domain.profiles import DeviceProfile, hash_secret, new_profile, new_secret, parse_strategy
from fleetgate.errors import Conflict, InvalidRequest, NotFound
from fleetgate.retry import on_conflict
from fleetgate.services import devices
from fleetgate.settings import get_settings


def repository() -> ProfileRepository:
    return ProfileRepository(get_settings().require("devices_table"))


def create(name: str, strategy: str, provision_key: str | None = None) -> tuple[DeviceProfile, str]:
    """A new profile and its provision secret, which is never available again."""
    profile, secret = new_profile(name, strategy, provision_key, clock.now_ms())
    repository().create(profile)
    return profile, secret


def get(profile_id: str) -> DeviceProfile:
    return repository().get(profile_id)


def require(profile_id: str) -> DeviceProfile:
    """The profile a new device is to join: an unknown id is a bad request, not a missing route."""
    try:
        return repository().get(profile_id)
    except NotFound as exc:
        raise InvalidRequest(f"profileId: no device profile '{profile_id}'") from exc


def list_page(limit: int, next_token: str | None) -> tuple[list[DeviceProfile], str | None]:
    check_limit(limit)
    return repository().list(limit, next_token)


def set_strategy(profile_id: str, strategy: str) -> DeviceProfile:
    """Change the provisioning strategy; an update that lost a race is re-applied to the newer version."""
    wanted = parse_strategy(strategy)
    repo = repository()

    def attempt() -> DeviceProfile:
        current = repo.get(profile_id)
        if current.strategy == wanted:
            return current
        updated = current.with_strategy(wanted, clock.now_ms())
        repo.replace(current, updated)
        return updated

    return on_conflict(attempt, busy=f"Device profile '{profile_id}' is being changed by many writers; retry")


def rotate_secret(profile_id: str) -> tuple[DeviceProfile, str]:
    """A new provision secret; the old one stops working in the same transaction."""
    repo = repository()
    current = repo.get(profile_id)
    secret = new_secret()
    updated = current.with_secret_hash(hash_secret(secret), clock.now_ms())
    repo.replace(current, updated)
    return updated, secret


def delete(profile_id: str) -> None:
    repo = repository()
    profile = repo.get(profile_id)
    in_use, _ = devices.list_profile_page(profile.id, 1, None)
    if in_use:
        raise Conflict(f"Device profile '{profile.name}' is used by devices; delete them first")
    repo.delete(profile)


def devices_page(profile_id: str, limit: int, next_token: str | None) -> tuple[list[Device], str | None]:
    profile = get(profile_id)
    return devices.list_profile_page(profile.id, limit, next_token)
