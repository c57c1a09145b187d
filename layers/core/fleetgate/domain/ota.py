"""Firmware and software packages (OTA), their assignment to devices and profiles, and the rules of
serving them in chunks. Pure: no AWS.

A package is created PENDING (metadata only), receives its bytes (an operator upload, or a presigned
PUT to S3 followed by ``complete``), and becomes READY once its size and checksum are known and match
what the operator declared. A READY package never changes, so an assignment can carry a copy of it and
a device request needs no second read.

What ThingsBoard devices see of an assignment are the shared attributes ``fw_title``, ``fw_version``,
``fw_size``, ``fw_checksum``, ``fw_checksum_algorithm`` (``sw_*`` for software), with ``fw_url``
removed; checksums are lower-case hex, as ThingsBoard (Guava's ``HashCode.toString()``) writes them.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import zlib
from dataclasses import dataclass, replace
from typing import Any, Protocol

from fleetgate.errors import Conflict, InvalidRequest, PayloadTooLarge

FIRMWARE, SOFTWARE = "FIRMWARE", "SOFTWARE"
TYPES = (FIRMWARE, SOFTWARE)
PREFIX = {FIRMWARE: "fw", SOFTWARE: "sw"}

PENDING, READY = "PENDING", "READY"
DEVICE, PROFILE = "DEVICE", "PROFILE"

DEFAULT_ALGORITHM = "SHA256"
DEFAULT_CONTENT_TYPE = "application/octet-stream"

# The largest body one answer can carry. Lambda's synchronous response limit is 6 MB (6,291,556
# bytes, JSON envelope included) and a binary body travels base64-encoded (4/3 of its size):
# 4 MiB of bytes → 5,592,408 base64 characters + < 1 KB of envelope, which leaves about 0.7 MB of
# margin. The same figure bounds an operator's direct upload (a request is 6 MB at Lambda too).
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MAX_INLINE_UPLOAD_BYTES = 4 * 1024 * 1024
# ``complete`` reads the whole object once to compute its checksum, within one API request (29 s).
MAX_PACKAGE_BYTES = 512 * 1024 * 1024

MAX_TEXT = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\Z")
_FILE_NAME = re.compile(r"[A-Za-z0-9._+~-]{1,255}\Z")  # an HTTP token: safe unquoted in Content-Disposition


# --------------------------------------------------------------------------- checksums
class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class _Crc32:
    """CRC32 as ThingsBoard writes it: Guava's ``HashCode.fromInt(crc).toString()``, i.e. the four
    bytes of the value in little-endian order, as eight lower-case hex digits."""

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = zlib.crc32(data, self._value)

    def hexdigest(self) -> str:
        return (self._value & 0xFFFFFFFF).to_bytes(4, "little").hex()


DIGEST_LENGTHS = {"SHA256": 64, "SHA384": 96, "SHA512": 128, "MD5": 32, "CRC32": 8}
ALGORITHMS = tuple(DIGEST_LENGTHS)


def new_hasher(algorithm: str) -> Hasher:
    if algorithm == "CRC32":
        return _Crc32()
    if algorithm in DIGEST_LENGTHS:
        return hashlib.new(algorithm.lower())
    raise InvalidRequest(f"checksumAlgorithm must be one of {', '.join(ALGORITHMS)}")


def checksum_of(data: bytes, algorithm: str) -> str:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return hasher.hexdigest()


# --------------------------------------------------------------------------- packages
@dataclass(frozen=True)
class OtaPackage:
    id: str
    type: str  # FIRMWARE or SOFTWARE
    title: str
    version: str
    content_type: str
    file_name: str
    checksum_algorithm: str
    checksum: str | None  # declared (PENDING) or verified (READY)
    size: int | None  # declared (PENDING) or measured (READY)
    status: str  # PENDING or READY
    created_at: int  # epoch ms
    ready_at: int | None = None
    object_version: str | None = None  # the S3 object version whose bytes were verified
    assignments: int = 0  # devices and profiles it is assigned to

    @property
    def object_key(self) -> str:
        return object_key(self.id)

    def verified(self, size: int, checksum: str, object_version: str | None, now_ms: int) -> OtaPackage:
        """This package READY with ``size`` and ``checksum`` measured from its bytes; declared values
        must match (else ``InvalidRequest``, and the package stays as it is)."""
        if self.status == READY:
            raise Conflict(f"Package '{self.id}' is already READY; its data cannot change")
        if size == 0:
            raise InvalidRequest("The package data is empty")
        if size > MAX_PACKAGE_BYTES:
            raise PayloadTooLarge(f"A package may hold at most {MAX_PACKAGE_BYTES} bytes, not {size}")
        if self.size is not None and self.size != size:
            raise InvalidRequest(f"Size mismatch: declared {self.size} bytes, uploaded {size}")
        if self.checksum is not None and self.checksum != checksum:
            raise InvalidRequest(
                f"Checksum mismatch ({self.checksum_algorithm}): declared {self.checksum}, uploaded data has "
                f"{checksum}"
            )
        return replace(
            self, size=size, checksum=checksum, status=READY, ready_at=now_ms, object_version=object_version
        )


def object_key(package_id: str) -> str:
    return f"ota/{package_id}"


def new_package(
    package_type: str,
    title: str,
    version: str,
    now_ms: int,
    *,
    content_type: str | None = None,
    file_name: str | None = None,
    checksum_algorithm: str | None = None,
    checksum: str | None = None,
    size: int | None = None,
) -> OtaPackage:
    """A validated PENDING package."""
    check_type(package_type)
    check_title(title)
    _check_text("version", version)
    content_type = DEFAULT_CONTENT_TYPE if content_type is None else content_type
    if not _CONTENT_TYPE.match(content_type):
        raise InvalidRequest("contentType must be a media type such as application/octet-stream")
    file_name = f"{package_type.lower()}.bin" if file_name is None else file_name
    if not _FILE_NAME.match(file_name) or file_name.strip(".") == "":
        raise InvalidRequest("fileName must be 1-255 characters of letters, digits and . _ + - ~")
    algorithm = DEFAULT_ALGORITHM if checksum_algorithm is None else checksum_algorithm.upper()
    new_hasher(algorithm)  # validates the name
    if checksum is not None:
        checksum = checksum.lower()
        if len(checksum) != DIGEST_LENGTHS[algorithm] or not all(c in "0123456789abcdef" for c in checksum):
            raise InvalidRequest(
                f"checksum must be {DIGEST_LENGTHS[algorithm]} hexadecimal digits for {algorithm}"
            )
    if size is not None and not 1 <= size <= MAX_PACKAGE_BYTES:
        raise InvalidRequest(f"size must be between 1 and {MAX_PACKAGE_BYTES} bytes")
    return OtaPackage(
        id=str(uuid.uuid4()),
        type=package_type,
        title=title,
        version=version,
        content_type=content_type,
        file_name=file_name,
        checksum_algorithm=algorithm,
        checksum=checksum,
        size=size,
        status=PENDING,
        created_at=now_ms,
    )


def check_type(package_type: str) -> None:
    if package_type not in TYPES:
        raise InvalidRequest(f"type must be {FIRMWARE} or {SOFTWARE}")


def check_title(title: str) -> None:
    """ThingsBoard's Python SDK saves the download as a file named after the title, in its working
    directory: a title must not be able to name any other place."""
    _check_text("title", title)
    if "/" in title or "\\" in title or title in (".", ".."):
        raise InvalidRequest("title must not contain '/' or '\\' and must not be '.' or '..'")


def _check_text(name: str, value: str) -> None:
    if not 1 <= len(value) <= MAX_TEXT or _CONTROL.search(value) or value.strip() == "":
        raise InvalidRequest(f"{name} must be 1-{MAX_TEXT} characters without control characters")


# --------------------------------------------------------------------------- assignments
@dataclass(frozen=True)
class Assignment:
    """A package assigned to a device or to a device profile (one per type and target)."""

    target_kind: str  # DEVICE or PROFILE
    target_id: str
    package: OtaPackage  # as it was when assigned (READY packages never change)
    assigned_at: int  # epoch ms


def shared_attributes(package_type: str, package: OtaPackage | None) -> dict[str, Any]:
    """The shared attributes a device sees for its effective package of ``package_type``; with no
    package, every one of them set to None (removed). ``fw_url`` is always removed: packages here
    are binary, and ThingsBoard deletes it when it assigns one."""
    prefix = PREFIX[package_type]
    if package is None:
        return dict.fromkeys(
            f"{prefix}_{k}" for k in ("title", "version", "size", "checksum", "checksum_algorithm", "url")
        )
    return {
        f"{prefix}_title": package.title,
        f"{prefix}_version": package.version,
        f"{prefix}_size": package.size,
        f"{prefix}_checksum": package.checksum,
        f"{prefix}_checksum_algorithm": package.checksum_algorithm,
        f"{prefix}_url": None,
    }


def progress_keys(package_type: str) -> tuple[str, str, str]:
    """The telemetry keys a device reports its update progress with."""
    prefix = PREFIX[package_type]
    return f"{prefix}_state", f"current_{prefix}_title", f"current_{prefix}_version"


# --------------------------------------------------------------------------- serving
def chunk_range(package_size: int, size: int, chunk: int) -> tuple[int, int]:
    """The byte range ``[start, end)`` ThingsBoard serves for ``size`` and ``chunk``: ``size < 1`` is
    the whole package; otherwise bytes ``[size*chunk, min(len, size*chunk+size))``, empty past the
    end. An answer that would exceed ``MAX_RESPONSE_BYTES`` is refused (``PayloadTooLarge``) whatever
    the chunk, so a device learns it on its first request."""
    if size < 0 or chunk < 0:
        raise InvalidRequest("size and chunk must not be negative")
    step = package_size if size < 1 else min(size, package_size)
    if step > MAX_RESPONSE_BYTES:
        raise PayloadTooLarge(
            f"Payload size exceeds the limit of {MAX_RESPONSE_BYTES} bytes: "
            f"request the package in chunks of at most {MAX_RESPONSE_BYTES} bytes (size=..&chunk=..)"
        )
    if size < 1:
        return 0, package_size
    start = min(size * chunk, package_size)
    return start, min(package_size, start + size)
