"""OTA use cases: packages (create, upload, complete, list, delete), their assignment to devices and
device profiles, what a device downloads, and the update progress the operator sees.

A device's effective package of a type is its own assignment, else its profile's. Whenever that can
change, the device's shared attributes (``fw_*`` / ``sw_*``) are set to match, which wakes its
attribute long-poll. The attributes are a view derived from the assignments: after writing them, the
use case reads the assignments again and rewrites on a difference, so concurrent operators converge on
the last assignment instead of leaving a device with the attributes of an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from fleetgate import clock
from fleetgate.data import aws
from fleetgate.data.files import FileStore
from fleetgate.data.ota import OtaRepository
from fleetgate.domain.devices import Device, DeviceIdentity
from fleetgate.domain.ota import (
    DEVICE,
    MAX_INLINE_UPLOAD_BYTES,
    MAX_PACKAGE_BYTES,
    PROFILE,
    READY,
    TYPES,
    Assignment,
    OtaPackage,
    check_type,
    checksum_of,
    chunk_range,
    new_hasher,
    new_package,
    progress_keys,
    shared_attributes,
)
from fleetgate.domain.paging import MAX_PAGE, check_limit
from fleetgate.domain.telemetry import LatestValue
from fleetgate.errors import Conflict, FleetgateError, InvalidRequest, NotFound, PayloadTooLarge
from fleetgate.observability import logger
from fleetgate.services import attributes, devices, telemetry
from fleetgate.settings import get_settings

TARGETS_NAMED = 5  # assignees a 409 on delete names
SYNC_ATTEMPTS = 3
FAN_OUT_THREADS = 8
MAX_PROFILE_ID = 128


def _repo() -> OtaRepository:
    return OtaRepository(get_settings().require("ota_table"))


def _files() -> FileStore:
    return FileStore(get_settings().require("files_bucket"))


# --------------------------------------------------------------------------- packages
@dataclass(frozen=True)
class UploadUrl:
    url: str
    expires_at: int  # epoch ms


def create_package(
    package_type: str,
    title: str,
    version: str,
    *,
    content_type: str | None = None,
    file_name: str | None = None,
    checksum_algorithm: str | None = None,
    checksum: str | None = None,
    size: int | None = None,
) -> tuple[OtaPackage, UploadUrl]:
    """A new PENDING package and a presigned URL to PUT its bytes to (then ``complete``)."""
    package = new_package(
        package_type,
        title,
        version,
        clock.now_ms(),
        content_type=content_type,
        file_name=file_name,
        checksum_algorithm=checksum_algorithm,
        checksum=checksum,
        size=size,
    )
    _repo().create(package)
    return package, _upload_url(package)


def upload_url(package: OtaPackage) -> UploadUrl | None:
    """A fresh presigned PUT for a PENDING package; None once it is READY (its data never changes)."""
    return None if package.status == READY else _upload_url(package)


def _upload_url(package: OtaPackage) -> UploadUrl:
    seconds = get_settings().ota_upload_url_seconds
    return UploadUrl(_files().upload_url(package.object_key, seconds), clock.now_ms() + seconds * 1000)


def get_package(package_id: str) -> OtaPackage:
    return _repo().get(package_id)


def list_packages(
    package_type: str | None, limit: int, next_token: str | None
) -> tuple[list[OtaPackage], str | None]:
    if package_type is not None:
        check_type(package_type)
    check_limit(limit)
    return _repo().list_page(package_type, limit, next_token)


def upload_data(package_id: str, data: bytes) -> OtaPackage:
    """Store a small package's bytes sent through the API and make it READY. Checked before anything
    is written: not empty, at most ``MAX_INLINE_UPLOAD_BYTES``, matching the declared size and
    checksum."""
    if not data:
        raise InvalidRequest("The body must carry the package's bytes")
    if len(data) > MAX_INLINE_UPLOAD_BYTES:
        raise PayloadTooLarge(
            f"A direct upload may carry at most {MAX_INLINE_UPLOAD_BYTES} bytes: PUT larger packages to "
            "the package's uploadUrl, then POST .../complete"
        )
    repo = _repo()
    package = repo.get(package_id)
    _require_pending(package)
    checksum = checksum_of(data, package.checksum_algorithm)
    package.verified(len(data), checksum, None, clock.now_ms())  # refuses before the write
    stored = _files().put(package.object_key, data, package.content_type)
    ready = package.verified(stored.size, checksum, stored.version, clock.now_ms())
    repo.mark_ready(ready)
    return ready


def complete(package_id: str) -> OtaPackage:
    """After a presigned upload: measure the object's size and checksum, check them against the
    declared ones and make the package READY. A READY package is returned as it is (retries are safe);
    a mismatch is a 400 and the package stays PENDING, so a corrected upload can follow."""
    repo = _repo()
    package = repo.get(package_id)
    if package.status == READY:
        return package
    hasher = new_hasher(package.checksum_algorithm)
    try:
        stored = _files().digest(package.object_key, hasher.update, MAX_PACKAGE_BYTES)
    except NotFound as exc:
        raise Conflict(
            f"No data has been uploaded for OTA package '{package_id}': PUT it to the uploadUrl first"
        ) from exc
    ready = package.verified(stored.size, hasher.hexdigest(), stored.version, clock.now_ms())
    repo.mark_ready(ready)
    return ready


def delete_package(package_id: str) -> None:
    """Delete a package that nothing is assigned. Assignments left behind by deleted devices are
    dropped first; any other assignment makes it a 409 that names some assignees."""
    repo = _repo()
    package = repo.get(package_id)
    if package.assignments > 0:
        _forget_deleted_devices(repo, package)
        package = repo.get(package_id)
    if package.assignments > 0:
        named = ", ".join(
            f"{kind.lower()} {target}" for kind, target, _ in repo.targets_of(package_id, TARGETS_NAMED)
        )
        raise Conflict(
            f"OTA package '{package_id}' is assigned to {package.assignments} device(s) or profile(s) "
            f"({named}); unassign it first"
        )
    repo.delete(package)
    _files().delete(package.object_key)


def _forget_deleted_devices(repo: OtaRepository, package: OtaPackage) -> None:
    for kind, target_id, package_type in repo.targets_of(package.id, MAX_PAGE):
        if kind != DEVICE or _device_exists(target_id):
            continue
        previous = repo.assignments_of(DEVICE, target_id).get(package_type)
        if previous is not None and previous.package.id == package.id:
            repo.apply([(None, previous)])


def _device_exists(device_id: str) -> bool:
    try:
        devices.get(device_id)
    except NotFound:
        return False
    return True


def _require_pending(package: OtaPackage) -> None:
    if package.status == READY:
        raise Conflict(f"OTA package '{package.id}' is already READY; its data cannot change")


# --------------------------------------------------------------------------- assignments
@dataclass(frozen=True)
class OtaStatus:
    """One package type of one device: what is assigned (and from where) and what it reported."""

    package_type: str
    assignment: Assignment | None  # the effective one: the device's own, else its profile's
    reported: dict[str, LatestValue]  # fw_state, current_fw_title, current_fw_version (or sw_*)

    @property
    def up_to_date(self) -> bool:
        if self.assignment is None:
            return False
        _, title_key, version_key = progress_keys(self.package_type)
        title, version = self.reported.get(title_key), self.reported.get(version_key)
        package = self.assignment.package
        return (
            title is not None
            and version is not None
            and _same_text(title.value, package.title)
            and _same_text(version.value, package.version)
        )


def _same_text(reported: Any, text: str) -> bool:
    """Whether a reported telemetry value is ``text``: ThingsBoard types a numeric string as a number
    (``"1.10"`` is stored as 1.1), so numbers compare by value."""
    if isinstance(reported, bool) or not isinstance(reported, int | float):
        return reported == text
    try:
        return Decimal(text) == Decimal(str(reported))
    except InvalidOperation:
        return False


def assign_to_device(device_id: str, changes: dict[str, str | None]) -> list[OtaStatus]:
    """Assign (an id) or unassign (None) the device's own firmware and/or software, then bring its
    shared attributes in line. Unassigning falls back to the profile's package, if any."""
    device = devices.get(device_id)
    _apply(DEVICE, device.id, changes)
    _sync_device(device, changes)
    return device_status(device)


def assign_to_profile(profile_id: str, changes: dict[str, str | None]) -> tuple[dict[str, Assignment], int]:
    """Assign or unassign a profile's firmware and/or software, then bring the shared attributes of
    each of its devices in line (those with their own assignment of a type keep it). Returns the
    profile's assignments and the number of devices checked. Repeating the request is safe."""
    check_profile_id(profile_id)
    _apply(PROFILE, profile_id, changes)
    checked = 0
    next_token: str | None = None
    for service in ("dynamodb", "sqs"):  # created here, once: creating boto3 clients is not thread-safe
        aws.client(service)
    with ThreadPoolExecutor(max_workers=FAN_OUT_THREADS) as pool:
        while True:
            page, next_token = devices.list_profile_page(profile_id, MAX_PAGE, next_token)
            list(pool.map(lambda device: _sync_device(device, changes), page))
            checked += len(page)
            if not next_token:
                break
    return _repo().assignments_of(PROFILE, profile_id), checked


def profile_assignments(profile_id: str) -> dict[str, Assignment]:
    check_profile_id(profile_id)
    return _repo().assignments_of(PROFILE, profile_id)


def check_profile_id(profile_id: str) -> None:
    if not 1 <= len(profile_id) <= MAX_PROFILE_ID:
        raise InvalidRequest(f"A profile id has 1-{MAX_PROFILE_ID} characters")


def device_status(device: Device) -> list[OtaStatus]:
    """For each package type: the effective assignment and the progress the device reported."""
    effective = _effective(device)
    keys = [key for package_type in TYPES for key in progress_keys(package_type)]
    reported = telemetry.latest(device.id, keys)
    return [
        OtaStatus(
            package_type,
            effective.get(package_type),
            {k: reported[k] for k in progress_keys(package_type) if k in reported},
        )
        for package_type in TYPES
    ]


def sync_device(device: Device) -> None:
    """Set the device's ``fw_*``/``sw_*`` shared attributes from its assignments (for use cases that
    change a device's profile)."""
    _sync_device(device, TYPES)


def adopt_profile_packages(device: Device) -> None:
    """A device new to a profile gets the profile's firmware/software as shared attributes (``fw_*``),
    as the profile's other devices got them on assignment. Best effort: the device exists either way,
    and repeating the profile's assignment brings every device of the profile up to date."""
    if not device.profile_id:
        return
    try:
        sync_device(device)
    except FleetgateError:
        logger.warning("Could not set the profile's OTA attributes", extra={"deviceId": device.id})


def _apply(target_kind: str, target_id: str, changes: dict[str, str | None]) -> None:
    """Validate every change, then write them all in one transaction."""
    if not changes:
        raise InvalidRequest("Name firmwareId and/or softwareId (an id to assign, null to unassign)")
    repo = _repo()
    now = clock.now_ms()
    current = repo.assignments_of(target_kind, target_id)
    writes: list[tuple[Assignment | None, Assignment | None]] = []
    for package_type, package_id in changes.items():
        check_type(package_type)
        new = None
        if package_id is not None:
            package = repo.get(package_id)
            if package.type != package_type:
                raise InvalidRequest(f"OTA package '{package_id}' is {package.type}, not {package_type}")
            if package.status != READY:
                raise Conflict(f"OTA package '{package_id}' is not READY: upload its data first")
            new = Assignment(target_kind, target_id, package, now)
        writes.append((new, current.get(package_type)))
    repo.apply(writes)


def _effective(device: Device) -> dict[str, Assignment]:
    repo = _repo()
    found = dict(repo.assignments_of(PROFILE, device.profile_id)) if device.profile_id else {}
    found.update(repo.assignments_of(DEVICE, device.id))
    return found


def _desired_attributes(device: Device, package_types: Iterable[str]) -> dict[str, Any]:
    effective = _effective(device)
    values: dict[str, Any] = {}
    for package_type in package_types:
        assignment = effective.get(package_type)
        values |= shared_attributes(package_type, assignment.package if assignment else None)
    return values


def _sync_device(device: Device, package_types: Iterable[str]) -> None:
    types = list(package_types)
    for _ in range(SYNC_ATTEMPTS):
        wanted = _desired_attributes(device, types)
        shared = attributes.read(device.id).desired
        if all(shared.get(key) == value for key, value in wanted.items()):
            return
        attributes.set_shared(device, wanted)
        if _desired_attributes(device, types) == wanted:
            return


# --------------------------------------------------------------------------- devices
def download(
    device: DeviceIdentity, package_type: str, title: str, version: str, *, size: int, chunk: int
) -> tuple[OtaPackage, bytes]:
    """What a device gets for ``GET .../firmware`` (or software): its effective package's bytes
    ``[size*chunk, size*chunk+size)``, or all of them for ``size < 1``; empty past the end."""
    targets = [(DEVICE, device.id)]
    if device.profile_id:
        targets.append((PROFILE, device.profile_id))
    assignment = _repo().first_of(package_type, targets)
    if assignment is None:
        raise NotFound(f"No {package_type.lower()} is assigned to this device")
    package = assignment.package
    if title != package.title or version != package.version:
        raise InvalidRequest(
            f"title and version must be those of the assigned {package_type.lower()} "
            f"(the fw_title/fw_version or sw_title/sw_version shared attributes)"
        )
    start, end = chunk_range(package.size or 0, size, chunk)
    if start >= end:
        return package, b""
    return package, _files().read_range(package.object_key, package.object_version, start, end)
