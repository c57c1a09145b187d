"""``multipart/form-data`` bodies (RFC 7578), read without a library: the parts' names and contents.

Strict on the frame (the boundary from ``Content-Type``, each delimiter a line of its own, the closing
delimiter), lenient on part headers (only ``Content-Disposition``'s ``name`` is read). Anything else is
``InvalidRequest``.
"""

from __future__ import annotations

import re

from fleetgate.errors import InvalidRequest

MULTIPART = "multipart/form-data"
_BOUNDARY = re.compile(r'boundary=(?:"([^"\r\n]{1,70})"|([^\s;",]{1,70}))', re.IGNORECASE)
_NAME = re.compile(r';\s*name="?([^";\r\n]*)"?', re.IGNORECASE)


def is_multipart(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == MULTIPART


def parts(body: bytes, content_type: str) -> list[tuple[str | None, bytes]]:
    """Every part of ``body``, in order: its field name (None when it has none) and its content."""
    match = _BOUNDARY.search(content_type)
    if not match:
        raise InvalidRequest("A multipart/form-data body needs its boundary in Content-Type")
    # the delimiter is CRLF, "--" and the boundary (RFC 2046): a part's content may hold "--<boundary>"
    # anywhere else; the body's first delimiter has no CRLF before it
    delimiter = b"\r\n--" + (match[1] or match[2]).encode("latin-1")
    sections = (b"\r\n" + body).split(delimiter)
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise InvalidRequest("Malformed multipart/form-data body")
    found: list[tuple[str | None, bytes]] = []
    for section in sections[1:-1]:
        if not section.startswith(b"\r\n"):
            raise InvalidRequest("Malformed multipart/form-data body")
        head, separator, content = section[2:].partition(b"\r\n\r\n")
        if not separator:
            raise InvalidRequest("Malformed multipart/form-data body")
        found.append((_part_name(head), content))
    return found


def field(body: bytes, content_type: str, name: str) -> bytes:
    """The content of the first part named ``name``."""
    for part_name, content in parts(body, content_type):
        if part_name == name:
            return content
    raise InvalidRequest(f"The multipart/form-data body has no field '{name}'")


def _part_name(head: bytes) -> str | None:
    for line in head.decode("latin-1").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            found = _NAME.search(value)
            return found[1] if found else None
    return None
