"""API Gateway HTTP API payload format 2.0, both ways: the event a route's function receives
(``http_api_event``, the one builder the gateway and the tests share) and how API Gateway turns the
function's return value into an HTTP response (``http_api_response``)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from fleetgate_local.template import ACCOUNT_ID

_TEXT_TYPES = {"application/json", "application/xml", "application/javascript"}

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def http_api_event(
    method: str,
    path: str,
    *,
    route_key: str,
    path_parameters: Mapping[str, str] | None = None,
    headers: Headers | None = None,
    query: str | None = None,
    body: bytes | None = None,
    jwt_claims: Mapping[str, Any] | None = None,
    jwt_scopes: list[str] | None = None,
    source_ip: str = "127.0.0.1",
    api_id: str = "local",
    request_id: str | None = None,
) -> dict[str, Any]:
    """The event API Gateway sends for one request.

    ``path`` is the raw (still percent-encoded) path, ``query`` the raw query string without ``?``;
    ``headers`` may repeat a name (pass pairs) and are folded the way API Gateway folds them.
    """
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers or [])
    folded = fold_headers((name, value) for name, value in pairs if name.lower() != "cookie")
    cookies = [
        cookie.strip()
        for name, value in pairs
        if name.lower() == "cookie"
        for cookie in value.split(";")
        if cookie.strip()
    ]
    host = folded.get("host", "localhost")
    now = time.time()
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": method.upper(),
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": folded.get("user-agent", ""),
        },
        "requestId": request_id or new_request_id(),
        "routeKey": route_key,
        "stage": "$default",
        "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if jwt_claims is not None:
        claims = {name: _claim_text(value) for name, value in jwt_claims.items()}
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": jwt_scopes}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query or "",
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = folded
    if query:
        event["queryStringParameters"] = _fold_pairs(parse_qsl(query, keep_blank_values=True))
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["requestContext"] = context
    if body:
        text = _as_text_body(body, folded.get("content-type"))
        event["body"] = text if text is not None else base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    return event


def new_request_id() -> str:
    """An id shaped like API Gateway's (``JKJaXmPLvHcESHA=``), also sent as ``apigw-requestid``."""
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")


def http_date() -> str:
    """The current time in an HTTP ``date`` header's format."""
    return format_datetime(datetime.now(UTC), usegmt=True)


def fold_headers(headers: Headers) -> dict[str, str]:
    """Header names lower-cased, repeated headers joined with commas (payload 2.0's ``headers``)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return _fold_pairs((name.lower(), value) for name, value in pairs)


def _fold_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Repeated names become one comma-joined value, as in payload 2.0."""
    folded: dict[str, str] = {}
    for name, value in pairs:
        folded[name] = f"{folded[name]},{value}" if name in folded else value
    return folded


def _as_text_body(body: bytes, content_type: str | None) -> str | None:
    """The body as text if API Gateway would pass it as text, else None (it is base64-encoded)."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    is_text = media_type.startswith("text/") or media_type in _TEXT_TYPES or media_type.endswith("+json")
    if not is_text:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _claim_text(value: Any) -> str:
    """API Gateway hands claims over as strings; lists look like ``[a b]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass(frozen=True)
class HttpResponse:
    """A response ready to be written to the client."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @classmethod
    def message(cls, status: int, message: str) -> HttpResponse:
        """API Gateway's own error shape: ``{"message":"Not Found"}``."""
        body = json.dumps({"message": message}, separators=(",", ":")).encode()
        return cls(status, [("content-type", "application/json")], body)


class MalformedResponseError(ValueError):
    """The function returned something API Gateway would answer with a 500."""


def http_api_response(result: Any) -> HttpResponse:
    """Interpret a function's return value as API Gateway does for payload format 2.0."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return HttpResponse(200, [("content-type", "application/json")], json.dumps(result).encode())
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponseError(f"statusCode {status!r} is not an HTTP status code")
    headers = result.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str | int | float) for v in headers.values()):
        raise MalformedResponseError("headers must be a map of strings")
    pairs = [(str(name), str(value)) for name, value in headers.items()]
    pairs += [("set-cookie", str(cookie)) for cookie in result.get("cookies") or []]
    body = result.get("body")
    if body is None:
        return HttpResponse(status, pairs, b"")
    if not isinstance(body, str):
        raise MalformedResponseError(f"body must be a string, not {type(body).__name__}")
    try:
        data = base64.b64decode(body, validate=True) if result.get("isBase64Encoded") else body.encode()
    except ValueError as error:
        raise MalformedResponseError(f"isBase64Encoded body is not base64: {error}") from None
    return HttpResponse(status, pairs, data)
