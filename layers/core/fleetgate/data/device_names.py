"""Finding a device by its name (claiming and provisioning name devices, not ids).

Reads the registry's sparse ``ByKindAndName`` index (``kind=device``, ordered by name), whose key
schema the registry documents; a global secondary index is eventually consistent, which is fine for
devices that were created well before anyone names them.
"""

from __future__ import annotations

from fleetgate.data.aws import client, s, translated_errors

INDEX = "ByKindAndName"


def device_id_by_name(table: str, name: str) -> str | None:
    with translated_errors():
        page = client("dynamodb").query(
            TableName=table,
            IndexName=INDEX,
            KeyConditionExpression="kind = :kind AND #n = :name",
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues={":kind": s("device"), ":name": s(name)},
            ProjectionExpression="id",
            Limit=1,
        )
    items = page.get("Items", [])
    return items[0]["id"]["S"] if items else None
