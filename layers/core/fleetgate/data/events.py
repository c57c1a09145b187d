"""Device events in DynamoDB (``EVENTS_TABLE``), keyed ``deviceId`` + ``sk``.

- ``sk = <timestamp ms, 15 digits>#<eventId>``: a device's events sort by the time the device gave
  them, and a time range is one key condition.
- ``eventType``, ``severity``, ``appId``, ``timestamp`` (N), ``receivedAt`` (N, epoch ms) and ``data``
  (the object as compact JSON text); ``expiresAt`` (epoch seconds) is the table's TTL attribute.
- Type and severity filters are FilterExpressions: DynamoDB applies ``Limit`` before them, so a page
  may hold fewer events than asked for (even none) while ``nextToken`` says more may follow.
"""

from __future__ import annotations

from typing import Any

from fleetgate.data.aws import PageKey, client, n, query_page, s, translated_errors
from fleetgate.domain.events import Event, EventQuery


class EventRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def append(self, event: Event) -> None:
        item: dict[str, Any] = {
            "deviceId": s(event.device_id),
            "sk": s(event.sort_key),
            "eventId": s(event.event_id),
            "eventType": s(event.event_type),
            "severity": s(event.severity),
            "timestamp": n(event.timestamp),
            "data": s(event.data_json),
            "receivedAt": n(event.received_at),
            "expiresAt": n(event.retain_until),
        }
        if event.app_id is not None:
            item["appId"] = s(event.app_id)
        with translated_errors():
            client("dynamodb").put_item(TableName=self.table, Item=item)

    def list_page(
        self, device_id: str, query: EventQuery, limit: int, next_token: str | None
    ) -> tuple[list[Event], str | None]:
        low, high = query.key_range()
        values: dict[str, Any] = {":d": s(device_id), ":low": s(low), ":high": s(high)}
        filters = []
        if query.event_type is not None:
            filters.append("eventType = :type")
            values[":type"] = s(query.event_type)
        if query.severity is not None:
            filters.append("severity = :severity")
            values[":severity"] = s(query.severity)
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "deviceId = :d AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not query.newest_first,
            "Limit": limit,
        }
        if filters:
            params["FilterExpression"] = " AND ".join(filters)
        key = PageKey({"deviceId": "S", "sk": "S"}, ("deviceId", device_id))
        items, token = query_page(params, next_token, key)
        return [_event_from(item) for item in items], token


def _event_from(item: dict[str, Any]) -> Event:
    return Event(
        device_id=item["deviceId"]["S"],
        event_id=item["eventId"]["S"],
        event_type=item["eventType"]["S"],
        severity=item["severity"]["S"],
        timestamp=int(item["timestamp"]["N"]),
        data_json=item["data"]["S"],
        app_id=item["appId"]["S"] if "appId" in item else None,
        received_at=int(item["receivedAt"]["N"]),
        retain_until=int(item["expiresAt"]["N"]),
    )
