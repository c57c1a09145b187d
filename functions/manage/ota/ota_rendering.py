"""How OTA packages and assignments look in the operator API."""

from typing import Any

from fleetgate.clock import iso_utc
from fleetgate.domain.ota import Assignment, OtaPackage


def iso(epoch_ms: int) -> str:
    return iso_utc(epoch_ms, milliseconds=True)


def package(p: OtaPackage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "type": p.type,
        "title": p.title,
        "version": p.version,
        "contentType": p.content_type,
        "fileName": p.file_name,
        "checksumAlgorithm": p.checksum_algorithm,
        "checksum": p.checksum,
        "size": p.size,
        "status": p.status,
        "createdAt": iso(p.created_at),
    }
    if p.ready_at is not None:
        out["readyAt"] = iso(p.ready_at)
    return out


def assignment(a: Assignment | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        **package(a.package),
        "source": a.target_kind,
        "assignedAt": iso(a.assigned_at),
    }
