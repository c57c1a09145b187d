"""API Gateway HTTP API (payload format 2.0) requests and responses, for handlers that do not need a
router. Device endpoints use this: it costs nothing to import."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from fleetgate.errors import InvalidRequest, PayloadTooLarge


@dataclass(frozen=True)
class HttpRequest:
    method: str
    route_key: str
    path: str
    path_parameters: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    request_id: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> HttpRequest:
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidRequest("Body is not valid base64") from exc
        else:
            body = raw.encode()
        context = event.get("requestContext") or {}
        return cls(
            method=(context.get("http") or {}).get("method", ""),
            route_key=event.get("routeKey", ""),
            path=event.get("rawPath") or (context.get("http") or {}).get("path", ""),
            path_parameters=event.get("pathParameters") or {},
            query=event.get("queryStringParameters") or {},
            headers=event.get("headers") or {},
            body=body,
            request_id=context.get("requestId", ""),
        )

    def check_size(self, limit: int) -> None:
        if len(self.body) > limit:
            raise PayloadTooLarge(f"Payload size exceeds the limit of {limit} bytes")

    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidRequest("Body is not valid UTF-8") from exc

    def query_list(self, name: str) -> list[str] | None:
        """A comma-separated (or repeated, which API Gateway joins with commas) parameter as a list;
        None when absent or empty. Items are not trimmed."""
        value = self.query.get(name)
        if not value:
            return None
        return value.split(",")


def response(
    status: int,
    body: str | bytes = "",
    *,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    all_headers = dict(headers or {})
    if content_type:
        all_headers["content-type"] = content_type
    if isinstance(body, bytes):
        return {
            "statusCode": status,
            "headers": all_headers,
            "body": base64.b64encode(body).decode(),
            "isBase64Encoded": True,
        }
    return {"statusCode": status, "headers": all_headers, "body": body, "isBase64Encoded": False}
