"""Xyte use cases of files (a model's firmware and other files) and dumps (what a device uploads).

Files:
- ``create_file`` stores a pending file and returns a presigned PUT for its bytes (like OTA packages).
- A pending file is checked with one S3 HEAD when read; an operator read that finds the object records
  its size and S3 version (making it the latest firmware always does). Devices get presigned GETs
  pinned to that version, valid ``DOWNLOAD_URL_SECONDS``, and never see a pending file (404 / left out
  of the list).
- A device reads only its own model's files: the model comes from its Xyte record, so another model's
  file id is simply not found (404).
- ``make_latest`` sets the model's ``latest_fw_version`` / ``latest_fw_file_id`` (the telemetry answer
  and the firmware topic carry them); the file must be an uploaded firmware file. The latest firmware
  cannot be deleted (409) until another file is the latest.

Dumps:
- ``send_dump`` stores the body as the dump's first part; ``append_dump`` adds a part. Both refuse an
  oversized part or dump (413) before writing anything; an append that loses a race for the last room
  removes the object it wrote (that exact version, so nothing is left).
- A dump is addressed by its id under the caller's own device: another device's dump id is 404.
- ``[object Object]`` as the dump id of an append means the device's newest dump: Xyte's sample agent
  parses Send Dump's JSON answer and writes that object into the append's path.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleetgate import clock
from fleetgate.data.xyte_files import DumpRepository, XyteFileRepository, XyteObjects
from fleetgate.domain.paging import check_limit
from fleetgate.domain.xyte import XyteModel
from fleetgate.domain.xyte_files import (
    DOWNLOAD_URL_SECONDS,
    MAX_DUMP_BYTES,
    MAX_FILES_PER_MODEL,
    MAX_PARTS,
    Dump,
    DumpPart,
    XyteFile,
    check_dump_id,
    check_latest,
    check_part,
    is_uuid,
    new_dump_id,
    new_file,
    part_key,
)
from fleetgate.errors import Conflict, NotFound, PayloadTooLarge
from fleetgate.observability import logger
from fleetgate.services import xyte
from fleetgate.services.xyte import XyteCaller
from fleetgate.settings import get_settings

AGENT_DUMP_ALIAS = "[object Object]"  # what Xyte's sample agent sends as the id of its append


def _files() -> XyteFileRepository:
    return XyteFileRepository(get_settings().require("devices_table"))


def _dumps() -> DumpRepository:
    return DumpRepository(get_settings().require("devices_table"))


def _objects() -> XyteObjects:
    return XyteObjects(get_settings().require("files_bucket"))


@dataclass(frozen=True)
class Url:
    url: str
    expires_at: int  # epoch ms


# --------------------------------------------------------------------------- files (operator)
def create_file(
    model_id: str,
    *,
    name: object,
    file_type: object,
    version: object,
    desc: object = None,
    checksum: object = None,
    signature: object = None,
    public_notes: object = None,
) -> tuple[XyteFile, Url]:
    """A pending file of the model and a presigned PUT for its bytes. At most ``MAX_FILES_PER_MODEL``
    files per model (counted before the write: concurrent creations may pass it by their number)."""
    model = _model(model_id)
    created = new_file(
        model.id,
        model.api_version,
        clock.now_ms(),
        name=name,
        file_type=file_type,
        version=version,
        desc=desc,
        checksum=checksum,
        signature=signature,
        public_notes=public_notes,
    )
    repo = _files()
    if repo.count(model.id) >= MAX_FILES_PER_MODEL:
        raise Conflict(f"A model holds at most {MAX_FILES_PER_MODEL} files; delete one first")
    repo.create(created)
    return created, _upload_url(created)


def upload_url(f: XyteFile) -> Url | None:
    """A fresh presigned PUT while the file is pending; None once its bytes were found."""
    return None if f.uploaded else _upload_url(f)


def _upload_url(f: XyteFile) -> Url:
    seconds = get_settings().ota_upload_url_seconds
    return Url(_objects().upload_url(f.object_key, seconds), clock.now_ms() + seconds * 1000)


def get_file(model_id: str, file_id: str) -> XyteFile:
    """A file of the model (checked for its upload while pending); ``NotFound`` otherwise."""
    _model(model_id)
    return _checked(_require(model_id, file_id))


def list_files(model_id: str, limit: int, next_token: str | None) -> tuple[list[XyteFile], str | None]:
    check_limit(limit)
    _model(model_id)
    page, token = _files().list_page(model_id, limit, next_token)
    return [_checked(f) for f in page], token


def delete_file(model_id: str, file_id: str) -> None:
    model = _model(model_id)
    found = _require(model_id, file_id)
    if model.latest_fw_file_id == found.id:
        raise Conflict(f"File '{file_id}' is the model's latest firmware: make another file the latest first")
    _files().delete(found)
    _objects().delete(found.object_key)


def make_latest(model_id: str, file_id: str) -> tuple[XyteModel, XyteFile]:
    """Make an uploaded firmware file the model's latest firmware; the model as saved."""
    model = _model(model_id)
    found = _checked(_require(model_id, file_id))
    check_latest(found, model.api_version)
    if not found.uploaded:
        raise Conflict(f"File '{file_id}' has no data yet: PUT it to its upload_url first")
    saved = model.with_changes(latest_fw_version=found.version, latest_fw_file_id=found.id)
    xyte.repository().save_model(model, saved)
    return saved, found


def _model(model_id: str) -> XyteModel:
    if not is_uuid(model_id):  # model ids are UUIDs too: anything else names no model
        raise NotFound(f"Model '{model_id[:64]}' not found")
    return xyte.get_model(model_id)


def _require(model_id: str, file_id: str) -> XyteFile:
    found = _files().get(model_id, file_id) if is_uuid(file_id) else None
    if found is None:
        raise NotFound(f"File '{file_id[:64]}' not found")
    return found


def _checked(f: XyteFile, *, record: bool = True) -> XyteFile:
    """``f``, uploaded if its object has appeared since (one HEAD while pending, none after it was
    recorded). Operator reads record the size and version; device reads only look (device functions
    never write the registry), so a file no operator read since its upload costs devices one HEAD."""
    if f.uploaded:
        return f
    stored = _objects().head(f.object_key)
    if stored is None or stored.size == 0:
        return f
    found = f.found(stored.size, stored.version, clock.now_ms())
    if not record:
        return found
    try:
        _files().mark_uploaded(found)
    except Conflict:
        again = _files().get(f.model_id, f.id)  # recorded by another reader, or deleted meanwhile
        if again is None:
            raise NotFound(f"File '{f.id}' not found") from None
        return again
    return found


# --------------------------------------------------------------------------- files (device)
def device_files(caller: XyteCaller) -> list[tuple[XyteFile, Url]]:
    """The uploaded files of the device's model, oldest first, each with a presigned GET."""
    files = [_checked(f, record=False) for f in _files().all_of(caller.record.model_id)]
    return [(f, _download_url(f)) for f in sorted(files, key=lambda f: (f.created_at, f.id)) if f.uploaded]


def device_file(caller: XyteCaller, file_id: str) -> tuple[XyteFile, Url]:
    """One uploaded file of the device's model with a presigned GET; ``NotFound`` for a pending file
    and for any other model's."""
    found = _checked(_require(caller.record.model_id, file_id), record=False)
    if not found.uploaded:
        raise NotFound(f"File '{file_id}' has no data yet")
    return found, _download_url(found)


def _download_url(f: XyteFile) -> Url:
    url = _objects().download_url(f.object_key, DOWNLOAD_URL_SECONDS, version=f.object_version)
    return Url(url, clock.now_ms() + DOWNLOAD_URL_SECONDS * 1000)


# --------------------------------------------------------------------------- dumps (device)
def send_dump(caller: XyteCaller, mime_type: str, filename: str, data: bytes) -> Dump:
    """A new dump of the caller holding ``data`` as its first part."""
    check_part(data)
    now = clock.now_ms()
    dump_id = new_dump_id(now)
    key = part_key(caller.device_id, dump_id)
    _objects().put(key, data, mime_type)
    dump = Dump(
        id=dump_id,
        device_id=caller.device_id,
        mime_type=mime_type,
        filename=filename,
        created_at=now,
        updated_at=now,
        length=len(data),
        parts=(DumpPart(key, len(data)),),
        part_count=1,
    )
    _dumps().create(dump)
    return dump


def append_dump(caller: XyteCaller, dump_id: str, data: bytes) -> Dump:
    """``data`` appended to the caller's dump ``dump_id`` (or its newest, for the agent's alias)."""
    check_part(data)
    repo = _dumps()
    if dump_id == AGENT_DUMP_ALIAS:
        current = repo.latest(caller.device_id)
    else:
        checked = check_dump_id(dump_id)
        current = repo.get(caller.device_id, checked) if checked else None
    if current is None:
        raise NotFound(f"Dump '{dump_id[:64]}' not found")
    _check_room(current, len(data))
    objects = _objects()
    key = part_key(caller.device_id, current.id)
    stored = objects.put(key, data, current.mime_type)
    try:
        return repo.append(current, DumpPart(key, len(data)), clock.now_ms())
    except Conflict:
        _remove(objects, key, stored.version)
        again = repo.get(caller.device_id, current.id)
        if again is None:
            raise NotFound(f"Dump '{dump_id}' not found") from None
        _check_room(again, len(data))
        raise


def _check_room(dump: Dump, adding: int) -> None:
    if dump.length + adding > MAX_DUMP_BYTES:
        raise PayloadTooLarge(
            f"A dump may hold at most {MAX_DUMP_BYTES} bytes: this one has {dump.length}, the part {adding}"
        )
    if dump.part_count >= MAX_PARTS:
        raise PayloadTooLarge(f"A dump may have at most {MAX_PARTS} parts")


def _remove(objects: XyteObjects, key: str, version: str | None) -> None:
    try:
        objects.delete_version(key, version)
    except Exception:  # noqa: BLE001 - the refusal stands; an orphan part is only logged
        logger.exception("Could not remove a refused dump part", extra={"key": key})


# --------------------------------------------------------------------------- dumps (operator)
def list_dumps(device_id: str, limit: int, next_token: str | None) -> tuple[list[Dump], str | None]:
    check_limit(limit)
    if not is_uuid(device_id):  # Xyte device ids are UUIDs
        raise NotFound(f"Device '{device_id[:64]}' is not a Xyte device")
    xyte.record(device_id)
    return _dumps().list_page(device_id, limit, next_token)


def get_dump(device_id: str, dump_id: str) -> tuple[Dump, list[tuple[DumpPart, Url]]]:
    """A dump and a presigned GET per part, in order (their bytes, concatenated, are the dump)."""
    checked = check_dump_id(dump_id)
    found = _dumps().get(device_id, checked) if checked and is_uuid(device_id) else None
    if found is None:
        raise NotFound(f"Dump '{dump_id[:64]}' not found")
    objects, expires = _objects(), clock.now_ms() + DOWNLOAD_URL_SECONDS * 1000
    urls = [
        (
            part,
            Url(
                objects.download_url(
                    part.key, DOWNLOAD_URL_SECONDS, content_type=found.mime_type, file_name=found.filename
                ),
                expires,
            ),
        )
        for part in found.parts
    ]
    return found, urls
