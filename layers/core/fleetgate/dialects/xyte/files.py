"""The Xyte wire shapes of files and dumps (device side).

- A file is ``{id, name, url, desc, file_type, version, checksum?, signature?, created_at,
  public_notes}`` (Xyte's Get File), with ``device_id`` from model API version 1.0.7 on each file
  object (Get Files answers an array of them). ``url`` is a presigned S3 GET.
- Send Dump's body is the file itself, in any content type (Xyte's agent: ``text/plain``), or a
  ``multipart/form-data`` body whose field ``data`` is the file (Xyte's Bruno collection). The answer
  (Send Dump 201, Append 200) is ``{id, length}``: the dump's id and its length so far in bytes.
- The MIME type and file name come from the path tail of the greedy route variable ``dump_path``:
  ``text%2Ftxt/agent.log`` arrives decoded as ``text/txt/agent.log``, whichever way API Gateway and the
  local gateway split the encoded slash, and a literal ``text/txt/agent.log`` works as well.
"""

from __future__ import annotations

from typing import Any

from fleetgate import multipart
from fleetgate.clock import iso_utc
from fleetgate.domain.xyte import XyteDevice, stamped
from fleetgate.domain.xyte_files import Dump, XyteFile
from fleetgate.http import HttpRequest

DATA_FIELD = "data"
MULTIPART_SLACK = 64 * 1024  # room for a multipart body's boundaries and part headers


def file_view(f: XyteFile, url: str, record: XyteDevice) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f.id,
        "name": f.name,
        "url": url,
        "desc": f.desc,
        "file_type": f.file_type,
        "version": f.version,
        "created_at": iso_utc(f.created_at, milliseconds=True),
        "public_notes": f.public_notes,
    }
    if f.checksum is not None:
        out["checksum"] = f.checksum
    if f.signature is not None:
        out["signature"] = f.signature
    return stamped(out, record)


def dump_answer(dump: Dump) -> dict[str, Any]:
    return {"id": dump.id, "length": dump.length}


def dump_body(request: HttpRequest) -> bytes:
    """The dump's bytes: the raw body, or the ``data`` field of a multipart/form-data body."""
    content_type = request.headers.get("content-type", "")
    if not multipart.is_multipart(content_type):
        return request.body
    return multipart.field(request.body, content_type, DATA_FIELD)
