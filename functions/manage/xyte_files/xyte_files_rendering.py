"""How Xyte files and dumps look in the operator API (Xyte's own field names, snake_case)."""

from typing import Any

from fleetgate.clock import iso_utc
from fleetgate.domain.xyte import XyteModel
from fleetgate.domain.xyte_files import Dump, DumpPart, XyteFile
from fleetgate.services.xyte_files import Url


def iso(epoch_ms: int | None) -> str | None:
    return None if epoch_ms is None else iso_utc(epoch_ms, milliseconds=True)


def file(f: XyteFile, upload: Url | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f.id,
        "model_id": f.model_id,
        "name": f.name,
        "file_type": f.file_type,
        "version": f.version,
        "desc": f.desc,
        "checksum": f.checksum,
        "signature": f.signature,
        "public_notes": f.public_notes,
        "created_at": iso(f.created_at),
        "uploaded": f.uploaded,
        "size": f.size,
        "uploaded_at": iso(f.uploaded_at),
    }
    if upload is not None:
        out["upload_url"] = upload.url
        out["upload_url_expires_at"] = iso(upload.expires_at)
    return out


def latest_firmware(model: XyteModel) -> dict[str, Any]:
    return {
        "model_id": model.id,
        "latest_fw_version": model.latest_fw_version,
        "latest_fw_file_id": model.latest_fw_file_id,
    }


def dump(d: Dump, urls: list[tuple[DumpPart, Url]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id,
        "device_id": d.device_id,
        "mime_type": d.mime_type,
        "filename": d.filename,
        "length": d.length,
        "parts": d.part_count,
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
    }
    if urls is not None:
        out["download"] = [
            {"url": url.url, "length": part.length, "expires_at": iso(url.expires_at)} for part, url in urls
        ]
    return out
