"""Xyte files (firmware and other files of a model) and dumps (files a device sends). Pure: no AWS.

Files:
- A file belongs to one model; its bytes are uploaded by the operator to a presigned S3 URL. Until the
  object exists the file is *pending*: devices do not see it (Get File is 404, Get Files leaves it out).
  The first read that finds the object records its size and S3 version (``uploaded``); from then on the
  device's presigned URL pins that version, so a later PUT to a still-valid upload URL never changes
  what devices download.
- ``file_type`` ``firmware`` files can be the model's latest firmware. Their ``version`` is SemVer for
  models of API version 1.0.4 and later (Xyte's changelog), checked when the file is created and again
  when it is made the latest (the model's API version may have changed in between).

Dumps:
- A dump is a device's upload (a log, a core file): a MIME type, a file name and one or more parts
  (Send Dump, then Append to Dump). Each part is its own S3 object, so an append costs its own size.
- Limits: a part is at most ``MAX_PART_BYTES`` (Lambda's 6 MB request payload carries a binary body
  base64-encoded), a dump at most ``MAX_DUMP_BYTES`` and ``MAX_PARTS`` parts in all; beyond either the
  request is refused (413) and nothing is written.
- Dump ids are UUIDs whose first 48 bits are the creation time (UUIDv7's layout), so a device's dumps
  sort by creation in the table.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, replace
from typing import Any

from fleetgate.domain.xyte import check_firmware
from fleetgate.errors import InvalidRequest, PayloadTooLarge

FIRMWARE_TYPE = "firmware"
MAX_FILES_PER_MODEL = 100
DOWNLOAD_URL_SECONDS = 300  # a device's presigned GET: enough to start a download on a slow link

MAX_NAME = 255
MAX_TEXT = 4096
MAX_CHECKSUM = 256
MAX_SIGNATURE = 4096
FILE_TYPE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}\Z")
VERSION_PATTERN = re.compile(r"[^\x00-\x1f\x7f]{1,64}\Z")
PRINTABLE = re.compile(r"[ -~]+\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # newlines and tabs are allowed in prose

MAX_PART_BYTES = 4 * 1024 * 1024
MAX_DUMP_BYTES = 10 * 1024 * 1024
MAX_PARTS = 1000
# A MIME type as RFC 6838 spells one (type "/" subtype, restricted-name characters); no parameters.
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\Z")
# A file name that is one safe path segment: it can name no other place, and needs no quoting in a
# Content-Disposition header.
_FILE_NAME = re.compile(r"[A-Za-z0-9._+~-]{1,255}\Z")
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
DUMP_ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")


# --------------------------------------------------------------------------- files
@dataclass(frozen=True)
class XyteFile:
    id: str
    model_id: str
    name: str
    file_type: str
    version: str
    created_at: int  # epoch ms
    desc: str = ""
    public_notes: str = ""
    checksum: str | None = None
    signature: str | None = None
    size: int | None = None  # set once the object is found (uploaded)
    object_version: str | None = None  # the S3 version devices download
    uploaded_at: int | None = None

    @property
    def uploaded(self) -> bool:
        return self.size is not None

    @property
    def object_key(self) -> str:
        return file_key(self.model_id, self.id)

    @property
    def is_firmware(self) -> bool:
        return self.file_type == FIRMWARE_TYPE

    def found(self, size: int, object_version: str | None, now_ms: int) -> XyteFile:
        return replace(self, size=size, object_version=object_version, uploaded_at=now_ms)


def file_key(model_id: str, file_id: str) -> str:
    return f"xyte/files/{model_id}/{file_id}"


def new_file(
    model_id: str,
    api_version: str,
    now_ms: int,
    *,
    name: Any,
    file_type: Any,
    version: Any,
    desc: Any = None,
    checksum: Any = None,
    signature: Any = None,
    public_notes: Any = None,
) -> XyteFile:
    """A validated pending file of a model whose API version is ``api_version``."""
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= MAX_NAME
        or _CONTROL.search(name)
        or not name.strip()
    ):
        raise InvalidRequest(f"name must be 1-{MAX_NAME} characters without control characters")
    if not isinstance(file_type, str) or not FILE_TYPE_PATTERN.match(file_type):
        raise InvalidRequest(
            "file_type must be 1-64 lower-case letters, digits or '_', '.', '-' (e.g. firmware)"
        )
    if file_type == FIRMWARE_TYPE:
        version = check_firmware(version, api_version, "version")
    elif not isinstance(version, str) or not VERSION_PATTERN.match(version):
        raise InvalidRequest("version must be a string of 1-64 printable characters")
    return XyteFile(
        id=str(uuid.uuid4()),
        model_id=model_id,
        name=name,
        file_type=file_type,
        version=version,
        created_at=now_ms,
        desc=_prose("desc", desc),
        public_notes=_prose("public_notes", public_notes),
        checksum=_printable("checksum", checksum, MAX_CHECKSUM),
        signature=_printable("signature", signature, MAX_SIGNATURE),
    )


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID in lower-case text, as file, model and device ids are: anything else
    names none of them (and is never sent to DynamoDB)."""
    return bool(UUID_PATTERN.match(value))


def check_latest(file: XyteFile, api_version: str) -> None:
    """``file`` may become the latest firmware of a model of ``api_version`` (else ``InvalidRequest``;
    a pending file is the caller's ``Conflict``)."""
    if not file.is_firmware:
        raise InvalidRequest(f"Only a file_type '{FIRMWARE_TYPE}' file can be the latest firmware")
    check_firmware(file.version, api_version, "version")


def _prose(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT or _CONTROL.search(value):
        raise InvalidRequest(f"{name} must be at most {MAX_TEXT} characters without control characters")
    return value


def _printable(name: str, value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit or not PRINTABLE.match(value):
        raise InvalidRequest(f"{name} must be 1-{limit} printable ASCII characters")
    return value


# --------------------------------------------------------------------------- dumps
@dataclass(frozen=True)
class DumpPart:
    key: str  # the S3 object
    length: int


@dataclass(frozen=True)
class Dump:
    id: str
    device_id: str
    mime_type: str
    filename: str
    created_at: int  # epoch ms
    updated_at: int
    length: int = 0
    parts: tuple[DumpPart, ...] = ()
    part_count: int = 0  # len(parts), also known when a listing leaves the parts out


def new_dump_id(now_ms: int) -> str:
    """A UUID with the UUIDv7 layout: 48 bits of ``now_ms``, the version, 74 random bits."""
    value = (now_ms & (2**48 - 1)) << 80 | 0x7 << 76 | secrets.randbits(12) << 64
    value |= 0b10 << 62 | secrets.randbits(62)
    return str(uuid.UUID(int=value))


def part_key(device_id: str, dump_id: str) -> str:
    """A new part's object: random, so a retried or concurrent append never overwrites another part."""
    return f"xyte/dumps/{device_id}/{dump_id}/{secrets.token_hex(8)}"


def dump_target(path: str) -> tuple[str, str]:
    """The MIME type and file name of a Send Dump path tail ``<type>/<subtype>/<filename>`` (the tail is
    decoded: ``text%2Ftxt/agent.log`` arrives as ``text/txt/agent.log``)."""
    parts = path.split("/")
    if len(parts) != 3:
        raise InvalidRequest(
            "The path must end in /dumps/<MIME type, URL-encoded>/<file name>, "
            "e.g. /dumps/text%2Fplain/agent.log"
        )
    mime_type, filename = f"{parts[0]}/{parts[1]}", parts[2]
    if not _MIME.match(mime_type):
        raise InvalidRequest("The MIME type must be <type>/<subtype>, e.g. text/plain")
    check_filename(filename)
    return mime_type.lower(), filename


def check_filename(filename: str) -> None:
    if not _FILE_NAME.match(filename) or filename.strip(".") == "":
        raise InvalidRequest(
            "The file name must be 1-255 letters, digits or '.', '_', '+', '~', '-', not only dots"
        )


def check_dump_id(dump_id: str) -> str:
    """A dump id as this service issues them (anything else names no dump: ``NotFound`` is the
    caller's, so a malformed id and a foreign one are answered alike)."""
    return dump_id.lower() if DUMP_ID_PATTERN.match(dump_id.lower()) else ""


def check_part(data: bytes) -> None:
    if not data:
        raise InvalidRequest("The body must carry the dump's bytes")
    if len(data) > MAX_PART_BYTES:
        raise PayloadTooLarge(
            f"A dump part may hold at most {MAX_PART_BYTES} bytes: send more with PUT .../dumps/<id>"
        )
