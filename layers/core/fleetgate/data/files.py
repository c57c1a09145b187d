"""Objects in the files bucket (``FILES_BUCKET``): OTA packages under ``ota/``, later other files.

The bucket is versioned, so every write has a version id; readers that pin it get exactly the bytes
that were verified, even if the same key is written again later (a presigned URL stays usable until it
expires). Reads of a part of an object are ranged GETs: a chunk never costs the whole object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from fleetgate.data.aws import client, translate, translated_errors
from fleetgate.errors import NotFound, PayloadTooLarge

READ_BLOCK = 1024 * 1024
_MISSING = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


@dataclass(frozen=True)
class StoredObject:
    size: int
    version: str | None  # None when the bucket does not version objects


def _version(response: dict[str, Any]) -> str | None:
    version = response.get("VersionId")
    return version if version and version != "null" else None


class FileStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def upload_url(self, key: str, expires_in: int) -> str:
        """A presigned PUT for ``key`` (no AWS call: signed with the function's credentials, so it
        also stops working when they expire)."""
        url: str = client("s3").generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in, HttpMethod="PUT"
        )
        return url

    def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        with translated_errors():
            response = client("s3").put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
        return StoredObject(len(data), _version(response))

    def digest(self, key: str, consume: Callable[[bytes], None], max_size: int) -> StoredObject:
        """Stream the current version of ``key`` through ``consume`` block by block; NotFound when the
        object does not exist, PayloadTooLarge (unread) when it is larger than ``max_size``."""
        try:
            response = client("s3").get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise self._translated(exc, key) from exc
        body = response["Body"]
        if int(response.get("ContentLength", 0)) > max_size:
            body.close()
            raise PayloadTooLarge(f"A package may hold at most {max_size} bytes; the upload has more")
        size = 0
        try:
            for block in body.iter_chunks(READ_BLOCK):
                size += len(block)
                consume(block)
        finally:
            body.close()
        return StoredObject(size, _version(response))

    def read_range(self, key: str, version: str | None, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of ``key`` (at ``version`` when given); ``start < end`` required."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Range": f"bytes={start}-{end - 1}"}
        if version:
            params["VersionId"] = version
        try:
            response = client("s3").get_object(**params)
        except ClientError as exc:
            raise self._translated(exc, key) from exc
        data: bytes = response["Body"].read()
        return data

    def delete(self, key: str) -> None:
        """Remove ``key`` (in a versioned bucket: a delete marker; old versions expire by lifecycle)."""
        with translated_errors():
            client("s3").delete_object(Bucket=self.bucket, Key=key)

    @staticmethod
    def _translated(exc: ClientError, key: str) -> Exception:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _MISSING:
            return NotFound(f"No data has been uploaded for '{key}'")
        return translate(exc)
