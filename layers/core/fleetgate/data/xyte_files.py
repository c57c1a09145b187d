"""Xyte files and dumps: their items in the registry table (``DEVICES_TABLE``) and their objects in the
files bucket (``FILES_BUCKET``).

Items, keyed ``pk``/``sk``:
- ``XYTEMODEL#<model id>`` / ``FILE#<file id>``: a model's file (beside the model's own ``META`` item);
  ``size``, ``objectVersion`` and ``uploadedAt`` appear once its object has been found.
- ``DEVICE#<device id>`` / ``DUMP#<dump id>``: a device's dump, its ordered ``parts`` (object key and
  length each), ``length`` and ``partCount``; removed with the device's other satellites. An append is
  one conditional ``UpdateItem`` that checks the limits, so concurrent appends never pass them.

Objects: ``xyte/files/<model id>/<file id>`` and ``xyte/dumps/<device id>/<dump id>/<random>``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from fleetgate.data.aws import PageKey, client, n, query_page, s, translate, translated_errors
from fleetgate.data.files import FileStore, StoredObject
from fleetgate.domain.xyte_files import MAX_DUMP_BYTES, MAX_PARTS, Dump, DumpPart, XyteFile

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
# A listing's attributes (all but the parts), each by placeholder: some are DynamoDB reserved words.
_LISTED = ("pk", "sk", "id", "mimeType", "filename", "createdAt", "updatedAt", "length", "partCount")


# --------------------------------------------------------------------------- objects
class XyteObjects(FileStore):
    """The files bucket, with what Xyte needs beyond OTA: a HEAD, and presigned GETs."""

    def head(self, key: str) -> StoredObject | None:
        """The current version of ``key``, or None when there is none."""
        try:
            response = client("s3").head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") in _MISSING:
                return None
            raise translate(exc) from exc
        version = response.get("VersionId")
        return StoredObject(
            int(response["ContentLength"]), version if version not in (None, "null") else None
        )

    def delete_version(self, key: str, version: str | None) -> None:
        """Remove exactly ``version`` of ``key`` (no delete marker is left); without a version (an
        unversioned bucket), the object."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version:
            params["VersionId"] = version
        with translated_errors():
            client("s3").delete_object(**params)

    def download_url(
        self,
        key: str,
        expires_in: int,
        *,
        version: str | None = None,
        content_type: str | None = None,
        file_name: str | None = None,
    ) -> str:
        """A presigned GET (no AWS call), pinned to ``version`` when given."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version:
            params["VersionId"] = version
        if content_type:
            params["ResponseContentType"] = content_type
        if file_name:
            params["ResponseContentDisposition"] = f"attachment; filename={file_name}"
        url: str = client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return url


# --------------------------------------------------------------------------- files
def _file_key(model_id: str, file_id: str) -> dict[str, Any]:
    return {"pk": s(f"XYTEMODEL#{model_id}"), "sk": s(f"FILE#{file_id}")}


def _file_item(f: XyteFile) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_file_key(f.model_id, f.id),
        "id": s(f.id),
        "modelId": s(f.model_id),
        "name": s(f.name),
        "fileType": s(f.file_type),
        "version": s(f.version),
        "desc": s(f.desc),
        "publicNotes": s(f.public_notes),
        "createdAt": n(f.created_at),
    }
    for attribute, value in (("checksum", f.checksum), ("signature", f.signature)):
        if value is not None:
            item[attribute] = s(value)
    return item


def _file_from(item: dict[str, Any]) -> XyteFile:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    return XyteFile(
        id=item["id"]["S"],
        model_id=item["modelId"]["S"],
        name=item["name"]["S"],
        file_type=item["fileType"]["S"],
        version=item["version"]["S"],
        created_at=int(item["createdAt"]["N"]),
        desc=text("desc") or "",
        public_notes=text("publicNotes") or "",
        checksum=text("checksum"),
        signature=text("signature"),
        size=number("size"),
        object_version=text("objectVersion"),
        uploaded_at=number("uploadedAt"),
    )


class XyteFileRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def create(self, f: XyteFile) -> None:
        with translated_errors(conflict=f"File '{f.id}' already exists"):
            client("dynamodb").put_item(
                TableName=self.table, Item=_file_item(f), ConditionExpression="attribute_not_exists(pk)"
            )

    def get(self, model_id: str, file_id: str) -> XyteFile | None:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_file_key(model_id, file_id), ConsistentRead=True)
                .get("Item")
            )
        return _file_from(item) if item else None

    def count(self, model_id: str) -> int:
        total, start = 0, None
        while True:
            params = self._query(model_id) | {"Select": "COUNT"}
            if start:
                params["ExclusiveStartKey"] = start
            with translated_errors():
                page = client("dynamodb").query(**params)
            total += int(page.get("Count", 0))
            start = page.get("LastEvaluatedKey")
            if not start:
                return total

    def all_of(self, model_id: str) -> list[XyteFile]:
        """Every file of the model (at most ``MAX_FILES_PER_MODEL``: one Query page in practice)."""
        found: list[XyteFile] = []
        start = None
        while True:
            params = self._query(model_id)
            if start:
                params["ExclusiveStartKey"] = start
            with translated_errors():
                page = client("dynamodb").query(**params)
            found += [_file_from(i) for i in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    def list_page(
        self, model_id: str, limit: int, next_token: str | None
    ) -> tuple[list[XyteFile], str | None]:
        params = self._query(model_id) | {"Limit": limit}
        key = PageKey({"pk": "S", "sk": "S"}, ("pk", f"XYTEMODEL#{model_id}"), ("sk", "FILE#"))
        items, cursor = query_page(params, next_token, key)
        return [_file_from(i) for i in items], cursor

    def mark_uploaded(self, f: XyteFile) -> None:
        """Record the found object's size and version, once (a repeat or a deleted file: ``Conflict``)."""
        with translated_errors(conflict=f"File '{f.id}' changed meanwhile"):
            values: dict[str, Any] = {":size": n(f.size or 0), ":at": n(f.uploaded_at or 0)}
            update = "SET #size = :size, uploadedAt = :at"
            if f.object_version is not None:
                update += ", objectVersion = :version"
                values[":version"] = s(f.object_version)
            client("dynamodb").update_item(
                TableName=self.table,
                Key=_file_key(f.model_id, f.id),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#size)",
                ExpressionAttributeNames={"#size": "size"},
                ExpressionAttributeValues=values,
            )

    def delete(self, f: XyteFile) -> None:
        with translated_errors():
            client("dynamodb").delete_item(TableName=self.table, Key=_file_key(f.model_id, f.id))

    def _query(self, model_id: str) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :file)",
            "ExpressionAttributeValues": {":pk": s(f"XYTEMODEL#{model_id}"), ":file": s("FILE#")},
        }


# --------------------------------------------------------------------------- dumps
def _dump_key(device_id: str, dump_id: str) -> dict[str, Any]:
    return {"pk": s(f"DEVICE#{device_id}"), "sk": s(f"DUMP#{dump_id}")}


def _part(p: DumpPart) -> dict[str, Any]:
    return {"M": {"key": s(p.key), "length": n(p.length)}}


def _dump_from(item: dict[str, Any]) -> Dump:
    parts = tuple(
        DumpPart(p["M"]["key"]["S"], int(p["M"]["length"]["N"])) for p in item.get("parts", {}).get("L", [])
    )
    return Dump(
        id=item["id"]["S"],
        device_id=item["pk"]["S"].removeprefix("DEVICE#"),
        mime_type=item["mimeType"]["S"],
        filename=item["filename"]["S"],
        created_at=int(item["createdAt"]["N"]),
        updated_at=int(item["updatedAt"]["N"]),
        length=int(item["length"]["N"]),
        parts=parts,
        part_count=int(item["partCount"]["N"]),
    )


class DumpRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def create(self, dump: Dump) -> None:
        item = {
            **_dump_key(dump.device_id, dump.id),
            "id": s(dump.id),
            "mimeType": s(dump.mime_type),
            "filename": s(dump.filename),
            "createdAt": n(dump.created_at),
            "updatedAt": n(dump.updated_at),
            "length": n(dump.length),
            "partCount": n(len(dump.parts)),
            "parts": {"L": [_part(p) for p in dump.parts]},
        }
        with translated_errors(conflict=f"Dump '{dump.id}' already exists"):
            client("dynamodb").put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )

    def get(self, device_id: str, dump_id: str) -> Dump | None:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_dump_key(device_id, dump_id), ConsistentRead=True)
                .get("Item")
            )
        return _dump_from(item) if item else None

    def latest(self, device_id: str) -> Dump | None:
        """The device's newest dump (ids sort by creation time), without its parts."""
        params = self._query(device_id, listed=True) | {"ScanIndexForward": False, "Limit": 1}
        with translated_errors():
            items = client("dynamodb").query(**params).get("Items", [])
        return _dump_from(items[0]) if items else None

    def list_page(self, device_id: str, limit: int, next_token: str | None) -> tuple[list[Dump], str | None]:
        """The device's dumps newest first, without their parts."""
        params = self._query(device_id, listed=True) | {"ScanIndexForward": False, "Limit": limit}
        key = PageKey({"pk": "S", "sk": "S"}, ("pk", f"DEVICE#{device_id}"), ("sk", "DUMP#"))
        items, cursor = query_page(params, next_token, key)
        return [_dump_from(i) for i in items], cursor

    def append(self, current: Dump, part: DumpPart, now_ms: int) -> Dump:
        """Add ``part`` at the end of ``current``'s parts if the dump still exists and stays within
        ``MAX_DUMP_BYTES`` and ``MAX_PARTS``; ``Conflict`` otherwise (the caller tells which). Asks
        only for the updated attributes back: the device functions may touch no other."""
        with translated_errors(conflict=f"Dump '{current.id}' cannot take this part"):
            updated = client("dynamodb").update_item(
                TableName=self.table,
                Key=_dump_key(current.device_id, current.id),
                UpdateExpression=(
                    "SET parts = list_append(parts, :part), #length = #length + :n, "
                    "partCount = partCount + :one, updatedAt = :now"
                ),
                ConditionExpression="attribute_exists(pk) AND #length <= :room AND partCount < :parts",
                ExpressionAttributeNames={"#length": "length"},
                ExpressionAttributeValues={
                    ":part": {"L": [_part(part)]},
                    ":n": n(part.length),
                    ":one": n(1),
                    ":now": n(now_ms),
                    ":room": n(MAX_DUMP_BYTES - part.length),
                    ":parts": n(MAX_PARTS),
                },
                ReturnValues="UPDATED_NEW",
            )["Attributes"]
        return _dump_from(
            {
                **_dump_key(current.device_id, current.id),
                "id": s(current.id),
                "mimeType": s(current.mime_type),
                "filename": s(current.filename),
                "createdAt": n(current.created_at),
                **updated,
            }
        )

    def _query(self, device_id: str, *, listed: bool) -> dict[str, Any]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :dump)",
            "ExpressionAttributeValues": {":pk": s(f"DEVICE#{device_id}"), ":dump": s("DUMP#")},
        }
        if listed:
            params["ProjectionExpression"] = ", ".join(f"#p{i}" for i in range(len(_LISTED)))
            params["ExpressionAttributeNames"] = {f"#p{i}": name for i, name in enumerate(_LISTED)}
        return params
