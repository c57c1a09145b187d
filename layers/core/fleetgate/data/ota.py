"""OTA packages and their assignments in DynamoDB (``OTA_TABLE``), keyed ``pk``/``sk``.

- ``PACKAGE#<id>`` / ``META``: a package. ``kind=package`` and ``listKey=<type>#<createdAt>#<id>``
  put it in the sparse ``ByKind`` index (listing by type, newest first). ``assignments`` counts the
  devices and profiles it is assigned to: a package can only be deleted at zero.
- ``TITLE#<type>#["<title>","<version>"]`` / ``META``: claims a title and version per type, so two
  packages can never share them.
- ``ASSIGN#DEVICE#<id>`` or ``ASSIGN#PROFILE#<id>`` / ``FIRMWARE`` or ``SOFTWARE``: an assignment,
  carrying a copy of the (immutable, READY) package so that serving a device takes one read.
  ``assignedPackageId`` puts it in the sparse ``ByPackage`` index.
An assignment and the counters it moves are written in one transaction, conditioned on what was read,
so concurrent operators never leave a counter or an assignment wrong.
"""

from __future__ import annotations

import json
from typing import Any

from fleetgate.data.aws import (
    PageKey,
    cancellation_codes,
    client,
    create_all,
    n,
    query_page,
    s,
    translated_errors,
)
from fleetgate.domain.ota import READY, Assignment, OtaPackage
from fleetgate.errors import Conflict, NotFound, Retryable

META = "META"
KIND_INDEX = "ByKind"
PACKAGE_INDEX = "ByPackage"
PACKAGE_KIND = "package"
_BATCH_ATTEMPTS = 5


def _package_key(package_id: str) -> dict[str, Any]:
    return {"pk": s(f"PACKAGE#{package_id}"), "sk": s(META)}


def _title_key(package_type: str, title: str, version: str) -> dict[str, Any]:
    claim = json.dumps([title, version], ensure_ascii=False, separators=(",", ":"))
    return {"pk": s(f"TITLE#{package_type}#{claim}"), "sk": s(META)}


def _assignment_key(target_kind: str, target_id: str, package_type: str) -> dict[str, Any]:
    return {"pk": s(f"ASSIGN#{target_kind}#{target_id}"), "sk": s(package_type)}


def _package_attributes(package: OtaPackage) -> dict[str, Any]:
    """The package's own attributes (shared by package items and the copies in assignments)."""
    item: dict[str, Any] = {
        "id": s(package.id),
        "type": s(package.type),
        "title": s(package.title),
        "version": s(package.version),
        "contentType": s(package.content_type),
        "fileName": s(package.file_name),
        "checksumAlgorithm": s(package.checksum_algorithm),
        "status": s(package.status),
        "createdAt": n(package.created_at),
    }
    if package.checksum is not None:
        item["checksum"] = s(package.checksum)
    if package.size is not None:
        item["size"] = n(package.size)
    if package.ready_at is not None:
        item["readyAt"] = n(package.ready_at)
    if package.object_version is not None:
        item["objectVersion"] = s(package.object_version)
    return item


def _package_item(package: OtaPackage) -> dict[str, Any]:
    return {
        **_package_key(package.id),
        **_package_attributes(package),
        "kind": s(PACKAGE_KIND),
        "listKey": s(f"{package.type}#{package.created_at:015d}#{package.id}"),
        "assignments": n(package.assignments),
    }


def _package_from(item: dict[str, Any]) -> OtaPackage:
    return OtaPackage(
        id=item["id"]["S"],
        type=item["type"]["S"],
        title=item["title"]["S"],
        version=item["version"]["S"],
        content_type=item["contentType"]["S"],
        file_name=item["fileName"]["S"],
        checksum_algorithm=item["checksumAlgorithm"]["S"],
        checksum=item["checksum"]["S"] if "checksum" in item else None,
        size=int(item["size"]["N"]) if "size" in item else None,
        status=item["status"]["S"],
        created_at=int(item["createdAt"]["N"]),
        ready_at=int(item["readyAt"]["N"]) if "readyAt" in item else None,
        object_version=item["objectVersion"]["S"] if "objectVersion" in item else None,
        assignments=int(item["assignments"]["N"]) if "assignments" in item else 0,
    )


def _assignment_item(assignment: Assignment) -> dict[str, Any]:
    return {
        **_assignment_key(assignment.target_kind, assignment.target_id, assignment.package.type),
        **_package_attributes(assignment.package),
        "targetKind": s(assignment.target_kind),
        "targetId": s(assignment.target_id),
        "assignedPackageId": s(assignment.package.id),
        "assignedAt": n(assignment.assigned_at),
    }


def _assignment_from(item: dict[str, Any]) -> Assignment:
    return Assignment(
        target_kind=item["targetKind"]["S"],
        target_id=item["targetId"]["S"],
        package=_package_from(item),
        assigned_at=int(item["assignedAt"]["N"]),
    )


class OtaRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------------ packages
    def create(self, package: OtaPackage) -> None:
        """The package and its title-and-version claim at once; a taken claim is a Conflict."""
        create_all(
            self.table,
            [
                _title_key(package.type, package.title, package.version) | {"packageId": s(package.id)},
                _package_item(package),
            ],
            {
                0: f"A {package.type} package titled '{package.title}' with version '{package.version}' "
                "already exists"
            },
        )

    def get(self, package_id: str) -> OtaPackage:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_package_key(package_id), ConsistentRead=True)
                .get("Item")
            )
        if not item:
            raise NotFound(f"OTA package '{package_id}' not found")
        return _package_from(item)

    def list_page(
        self, package_type: str | None, limit: int, next_token: str | None
    ) -> tuple[list[OtaPackage], str | None]:
        """Packages newest first (by type: firmware, or software; without a type, software first)."""
        condition = "kind = :kind"
        values: dict[str, Any] = {":kind": s(PACKAGE_KIND)}
        if package_type:
            condition += " AND begins_with(listKey, :type)"
            values[":type"] = s(f"{package_type}#")
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": KIND_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        key = PageKey(
            {"pk": "S", "sk": "S", "kind": "S", "listKey": "S"},
            ("kind", PACKAGE_KIND),
            ("listKey", f"{package_type}#") if package_type else None,
        )
        items, cursor = query_page(params, next_token, key)
        return [_package_from(i) for i in items], cursor

    def mark_ready(self, package: OtaPackage) -> None:
        """Store ``package`` (READY, with its measured size and checksum) if it is still PENDING."""
        values: dict[str, Any] = {
            ":ready": s(READY),
            ":pending": s("PENDING"),
            ":size": n(package.size or 0),
            ":checksum": s(package.checksum or ""),
            ":readyAt": n(package.ready_at or 0),
        }
        update = "SET #status = :ready, #size = :size, checksum = :checksum, readyAt = :readyAt"
        if package.object_version is not None:
            update += ", objectVersion = :version"
            values[":version"] = s(package.object_version)
        with translated_errors(conflict=f"OTA package '{package.id}' was completed concurrently"):
            client("dynamodb").update_item(
                TableName=self.table,
                Key=_package_key(package.id),
                UpdateExpression=update,
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status", "#size": "size"},
                ExpressionAttributeValues=values,
            )

    def delete(self, package: OtaPackage) -> None:
        """Remove the package and its title claim, only while nothing is assigned it."""
        with translated_errors(conflict=f"OTA package '{package.id}' is assigned; unassign it first"):
            client("dynamodb").transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _package_key(package.id),
                            "ConditionExpression": "assignments = :zero",
                            "ExpressionAttributeValues": {":zero": n(0)},
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _title_key(package.type, package.title, package.version),
                        }
                    },
                ]
            )

    # ------------------------------------------------------------------ assignments
    def assignments_of(self, target_kind: str, target_id: str) -> dict[str, Assignment]:
        """A device's or profile's assignments by package type (one consistent query)."""
        with translated_errors():
            page = client("dynamodb").query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": s(f"ASSIGN#{target_kind}#{target_id}")},
                ConsistentRead=True,
            )
        found = [_assignment_from(i) for i in page.get("Items", [])]
        return {a.package.type: a for a in found}

    def first_of(self, package_type: str, targets: list[tuple[str, str]]) -> Assignment | None:
        """The assignment of ``package_type`` of the first target that has one (targets in order of
        precedence, e.g. the device, then its profile), read in one BatchGetItem."""
        keys = [_assignment_key(kind, target_id, package_type) for kind, target_id in targets]
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        items: list[dict[str, Any]] = []
        ddb = client("dynamodb")
        for _ in range(_BATCH_ATTEMPTS):
            with translated_errors():
                response = ddb.batch_get_item(RequestItems=request)
            items += response.get("Responses", {}).get(self.table, [])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise Retryable("The OTA table is busy; retry the request")
        by_target = {(i["targetKind"]["S"], i["targetId"]["S"]): i for i in items}
        for target in targets:
            if target in by_target:
                return _assignment_from(by_target[target])
        return None

    def apply(self, changes: list[tuple[Assignment | None, Assignment | None]]) -> None:
        """Replace assignments in one transaction: each change is (new, previous), ``previous`` being
        what the caller read (None: nothing was assigned) and ``new`` None to unassign. A new package
        must still be READY; every package's counter moves with its assignments; a target changed
        since it was read makes the whole transaction a Conflict."""
        items: list[dict[str, Any]] = []
        taken: dict[int, str] = {}  # index of a new package's counter update → that package's id
        for new, previous in changes:
            if new is None and previous is None:
                continue
            if new is not None and previous is not None and new.package.id == previous.package.id:
                continue
            if new is not None:
                taken[len(items)] = new.package.id
                items.append(self._take(new.package.id))
            if previous is not None:
                items.append(self._release(previous.package.id))
            items.append(self._write(new, previous))
        if not items:
            return
        try:
            with translated_errors():
                client("dynamodb").transact_write_items(TransactItems=items)
        except Conflict as exc:
            for index, code in enumerate(cancellation_codes(exc)):
                if code == "ConditionalCheckFailed" and index in taken:
                    raise Conflict(f"OTA package '{taken[index]}' is not READY (or was deleted)") from exc
            raise Conflict("The assignment was changed concurrently; retry the request") from exc

    def _take(self, package_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": _package_key(package_id),
                "UpdateExpression": "ADD assignments :one",
                "ConditionExpression": "#status = :ready",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":one": n(1), ":ready": s(READY)},
            }
        }

    def _release(self, package_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": _package_key(package_id),
                "UpdateExpression": "ADD assignments :minus",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":minus": n(-1)},
            }
        }

    def _write(self, new: Assignment | None, previous: Assignment | None) -> dict[str, Any]:
        condition: dict[str, Any]
        if previous is None:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "assignedPackageId = :previous",
                "ExpressionAttributeValues": {":previous": s(previous.package.id)},
            }
        if new is not None:
            return {"Put": {"TableName": self.table, "Item": _assignment_item(new), **condition}}
        if previous is None:
            raise ValueError("a change needs a new or a previous assignment")
        key = _assignment_key(previous.target_kind, previous.target_id, previous.package.type)
        return {"Delete": {"TableName": self.table, "Key": key, **condition}}

    def targets_of(self, package_id: str, limit: int) -> list[tuple[str, str, str]]:
        """Up to ``limit`` (target kind, target id, package type) the package is assigned to."""
        with translated_errors():
            page = client("dynamodb").query(
                TableName=self.table,
                IndexName=PACKAGE_INDEX,
                KeyConditionExpression="assignedPackageId = :p",
                ExpressionAttributeValues={":p": s(package_id)},
                Limit=limit,
            )
        found = []
        for item in page.get("Items", []):
            _, kind, target_id = item["pk"]["S"].split("#", 2)
            found.append((kind, target_id, item["sk"]["S"]))
        return found
