"""ThingsPro gateways in the registry table (``DEVICES_TABLE``), their API tokens, and the KMS key that
seals the secrets of their requests.

Item kinds, all keyed ``pk``/``sk``:
- ``DEVICE#<id>`` / ``THINGSPRO``: the gateway side of a registry device (written in the device's own
  create transaction; removed with the device's satellites): when it was registered, its presence as
  the last lifecycle event told it (``connected``, ``presenceVersion``, ``presenceAt``), and how many
  answers it sent that matched no request (``droppedAnswers``);
- ``DEVICE#<id>`` / ``TPEREAD#<path>``: the answer the gateway last confirmed for a read of ``path``
  (masked), with the request it came from;
- ``TPETOKEN#<sha256>`` / ``META``: a ThingsPro API token (``POST /api/v1/auth``), by digest, with its
  operator and expiry (``ttl`` lets DynamoDB delete it).

Files (``FILES_BUCKET``, under ``thingspro/<gateway id>/``): what a multipart request uploaded and what a
gateway sent as a download, encrypted with the ThingsPro key (SSE-KMS).

Secrets are encrypted with ``THINGSPRO_KEY_ID`` under the encryption context ``{"gateway": <id>}``, so a
ciphertext copied to another gateway's request does not decrypt.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetgate.data.aws import client, n, s, translated_errors
from fleetgate.domain.thingspro import Presence
from fleetgate.errors import CallFailed

RECORD = "THINGSPRO"
READ = "TPEREAD#"
META = "META"


def _record_key(gateway_id: str) -> dict[str, Any]:
    return {"pk": s(f"DEVICE#{gateway_id}"), "sk": s(RECORD)}


def _read_key(gateway_id: str, path: str) -> dict[str, Any]:
    return {"pk": s(f"DEVICE#{gateway_id}"), "sk": s(READ + path)}


def _token_key(digest: str) -> dict[str, Any]:
    return {"pk": s(f"TPETOKEN#{digest}"), "sk": s(META)}


@dataclass(frozen=True)
class GatewayRecord:
    gateway_id: str
    registered_at: int
    presence: Presence | None = None
    dropped_answers: int = 0

    @property
    def online(self) -> bool:
        return self.presence is not None and self.presence.connected


@dataclass(frozen=True)
class ConfirmedRead:
    path: str
    status: int
    payload: Any  # masked
    request_id: int
    confirmed_at: int


def record_item(record: GatewayRecord) -> dict[str, Any]:
    return {**_record_key(record.gateway_id), "registeredAt": n(record.registered_at)}


class ThingsProRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------------ gateways
    def get(self, gateway_id: str) -> GatewayRecord | None:
        with translated_errors():
            item = client("dynamodb").get_item(TableName=self.table, Key=_record_key(gateway_id)).get("Item")
        if item is None:
            return None
        presence = None
        if "presenceAt" in item:
            presence = Presence(
                item["connected"]["BOOL"], int(item["presenceVersion"]["N"]), int(item["presenceAt"]["N"])
            )
        return GatewayRecord(
            gateway_id,
            int(item["registeredAt"]["N"]),
            presence,
            int(item.get("droppedAnswers", {}).get("N", "0")),
        )

    def set_presence(self, gateway_id: str, presence: Presence, previous: Presence | None) -> bool:
        """Record ``presence`` if the stored one is still ``previous`` (False when another event got
        there first) and the gateway still exists."""
        values: dict[str, Any] = {
            ":c": {"BOOL": presence.connected},
            ":v": n(presence.version),
            ":a": n(presence.at),
        }
        condition = "attribute_exists(pk) AND attribute_not_exists(presenceAt)"
        if previous is not None:
            condition = "presenceAt = :pa AND presenceVersion = :pv AND connected = :pc"
            values |= {":pa": n(previous.at), ":pv": n(previous.version), ":pc": {"BOOL": previous.connected}}
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key=_record_key(gateway_id),
                UpdateExpression="SET connected = :c, presenceVersion = :v, presenceAt = :a",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            with translated_errors():
                raise
        return True

    def count_dropped(self, gateway_id: str) -> None:
        with translated_errors():
            client("dynamodb").update_item(
                TableName=self.table,
                Key=_record_key(gateway_id),
                UpdateExpression="ADD droppedAnswers :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":one": n(1)},
            )

    # ------------------------------------------------------------------ confirmed reads
    def confirmed(self, gateway_id: str, path: str) -> ConfirmedRead | None:
        with translated_errors():
            item = (
                client("dynamodb")
                .get_item(TableName=self.table, Key=_read_key(gateway_id, path), ConsistentRead=True)
                .get("Item")
            )
        return None if item is None else _read_from(item)

    def confirmed_paths(self, gateway_id: str) -> list[str]:
        with translated_errors():
            items = (
                client("dynamodb")
                .query(
                    TableName=self.table,
                    KeyConditionExpression="pk = :pk AND begins_with(sk, :read)",
                    ExpressionAttributeValues={":pk": s(f"DEVICE#{gateway_id}"), ":read": s(READ)},
                    ProjectionExpression="sk",
                )
                .get("Items", [])
            )
        return [item["sk"]["S"][len(READ) :] for item in items]

    def confirm(self, gateway_id: str, read: ConfirmedRead) -> None:
        """Keep ``read`` unless a later request's answer is already kept for its path."""
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    **_read_key(gateway_id, read.path),
                    "status": n(read.status),
                    "payload": s(json.dumps(read.payload, separators=(",", ":"))),
                    "requestId": n(read.request_id),
                    "confirmedAt": n(read.confirmed_at),
                },
                ConditionExpression="attribute_not_exists(requestId) OR requestId < :r",
                ExpressionAttributeValues={":r": n(read.request_id)},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                with translated_errors():
                    raise

    def forget(self, gateway_id: str, paths: list[str]) -> None:
        with translated_errors():
            for path in paths:
                client("dynamodb").delete_item(TableName=self.table, Key=_read_key(gateway_id, path))

    # ------------------------------------------------------------------ API tokens
    def put_token(self, digest: str, operator: str, expires_ms: int) -> None:
        with translated_errors():
            client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    **_token_key(digest),
                    "operator": s(operator),
                    "expiresAt": n(expires_ms),
                    "ttl": n(expires_ms // 1000 + 3600),
                },
            )

    def token(self, digest: str) -> tuple[str, int] | None:
        with translated_errors():
            item = client("dynamodb").get_item(TableName=self.table, Key=_token_key(digest)).get("Item")
        return None if item is None else (item["operator"]["S"], int(item["expiresAt"]["N"]))


def _read_from(item: dict[str, Any]) -> ConfirmedRead:
    return ConfirmedRead(
        path=item["sk"]["S"][len(READ) :],
        status=int(item["status"]["N"]),
        payload=json.loads(item["payload"]["S"]),
        request_id=int(item["requestId"]["N"]),
        confirmed_at=int(item["confirmedAt"]["N"]),
    )


# --------------------------------------------------------------------------- files
def keep_file(bucket: str, key: str, data: bytes, key_id: str) -> str:
    """Store ``data`` at ``key`` encrypted with the ThingsPro key (SSE-KMS); its version id."""
    with translated_errors():
        response = client("s3").put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentType="application/octet-stream",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key_id,
        )
    return str(response.get("VersionId") or "")


# --------------------------------------------------------------------------- secrets
def encrypt(key_id: str, gateway_id: str, plaintext: str) -> str:
    """KMS ciphertext (base64) of ``plaintext``, bound to the gateway."""
    try:
        blob = client("kms").encrypt(
            KeyId=key_id, Plaintext=plaintext.encode("utf-8"), EncryptionContext={"gateway": gateway_id}
        )["CiphertextBlob"]
    except (ClientError, BotoCoreError) as exc:
        raise CallFailed(f"KMS Encrypt failed: {_code(exc)}") from exc
    return base64.b64encode(blob).decode()


def decrypt(gateway_id: str, ciphertext: str) -> str:
    try:
        plain = client("kms").decrypt(
            CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext={"gateway": gateway_id}
        )["Plaintext"]
    except (ClientError, BotoCoreError) as exc:
        raise CallFailed(f"KMS Decrypt failed: {_code(exc)}") from exc
    return bytes(plain).decode("utf-8")


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "") or "Unknown")
    return type(exc).__name__
