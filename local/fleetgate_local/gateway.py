"""The local HTTP API: route, authorize, invoke the route's function, answer as API Gateway would.

``Gateway.handle`` is the API Gateway part (404, 413, 401/403 from the JWT authorizers, payload 2.0
events, 500 when the function fails, 503 when it is throttled), plus the pages that are no route of the
template (``pages``: the API documentation, ``fleetgate_local.apidocs``); ``serve`` puts it behind a
threaded ``http.server`` so slow and long-polling requests never block the others, and whose
connections ``close_connections`` cuts when the stack stops. One log line per request names the *route key*,
never the raw path: device access tokens travel in paths.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from fleetgate_local.authorizers import Forbidden, JwtAuthorizer, Unauthorized
from fleetgate_local.events import (
    HttpResponse,
    MalformedResponseError,
    fold_headers,
    http_api_event,
    http_api_response,
    new_request_id,
)
from fleetgate_local.routing import RouteTable
from fleetgate_local.workers import FunctionPool, InvocationError, Throttled, WorkerManager

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API's payload limit
_MAX_DISCARDED_BYTES = 8 * MAX_BODY_BYTES  # beyond that, a 413 comes with a closed connection
_NO_ROUTE = "(no route)"
# Framing headers are the server's business, whatever the function returns.
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "date", "server", "apigw-requestid"}


_FORWARDED = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}


def forwarded(headers: list[tuple[str, str]], client_ip: str, port: int) -> list[tuple[str, str]]:
    """``headers`` with the ``x-forwarded-*`` headers API Gateway adds: the client's address appended to
    ``x-forwarded-for``; ``x-forwarded-proto`` and ``x-forwarded-port`` are the gateway's own (``http``
    and its port here), never what the client sent, so a function builds its own URL right."""
    kept = [(name, value) for name, value in headers if name.lower() not in _FORWARDED]
    chain = [value for name, value in headers if name.lower() == "x-forwarded-for"]
    return [
        *kept,
        ("x-forwarded-for", ", ".join([*chain, client_ip])),
        ("x-forwarded-port", str(port)),
        ("x-forwarded-proto", "http"),
    ]


@dataclass(frozen=True)
class HttpRequest:
    """A request as received: raw (percent-encoded) path and query, headers in arrival order."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes | None
    source_ip: str = "127.0.0.1"
    request_id: str = field(default_factory=new_request_id)  # also the apigw-requestid header


@dataclass(frozen=True)
class Outcome:
    """A response and what the request log says about it."""

    response: HttpResponse
    route_key: str = _NO_ROUTE
    function_id: str = "-"
    note: str = ""  # why a request was refused or failed; never a secret


@dataclass
class Gateway:
    """API Gateway's behaviour for the template's routes."""

    routes: RouteTable
    authorizers: dict[tuple[str, str], JwtAuthorizer]  # (api logical id, authorizer name)
    functions: dict[str, FunctionPool]
    api_ids: dict[str, str]  # api logical id -> (fake) api id
    workers: WorkerManager  # the pools' shared cap, reaper and stop
    # Pages that are not routes of the template (the API documentation): None when a request is not one
    pages: Callable[[str, str], HttpResponse | None] | None = None

    def handle(self, request: HttpRequest) -> Outcome:
        """Answer one request (the body is already known to be within the size limit)."""
        match = self.routes.match(request.method, request.raw_path)
        if match is None:
            return self._no_route(request)
        route = match.route
        claims, scopes = None, None
        if route.authorizer is not None:
            authorizer = self.authorizers[(route.api, route.authorizer)]
            headers = fold_headers(request.headers)
            try:
                authorized = authorizer.authorize(headers, request.raw_query, route.scopes)
            except Unauthorized as error:
                response = _refusal(401, "Unauthorized", "invalid_token", error)
                return Outcome(response, route.route_key, note=str(error))
            except Forbidden as error:
                response = _refusal(403, "Forbidden", "insufficient_scope", error)
                return Outcome(response, route.route_key, note=str(error))
            claims, scopes = authorized.claims, authorized.scopes
        event = http_api_event(
            request.method,
            request.raw_path,
            route_key=route.route_key,
            path_parameters=match.path_parameters,
            headers=request.headers,
            query=request.raw_query,
            body=request.body,
            jwt_claims=claims,
            jwt_scopes=scopes,
            source_ip=request.source_ip,
            api_id=self.api_ids.get(route.api, "local"),
            request_id=request.request_id,
        )
        try:
            response = http_api_response(self.functions[match.function_id].invoke(event))
        except Throttled as error:  # HTTP API's answer when Lambda throttles the function
            failure = HttpResponse.message(503, "Service Unavailable")
            return Outcome(failure, route.route_key, match.function_id, note=str(error))
        except (InvocationError, MalformedResponseError) as error:
            failure = HttpResponse.message(500, "Internal Server Error")
            return Outcome(failure, route.route_key, match.function_id, note=str(error))
        return Outcome(response, route.route_key, match.function_id)

    def _no_route(self, request: HttpRequest) -> Outcome:
        """A page of the local stack's own (the API documentation), or API Gateway's 404."""
        page = self.pages(request.method, request.raw_path) if self.pages else None
        if page is not None:
            return Outcome(page, f"{request.method} {request.raw_path}", "(docs)")
        return Outcome(HttpResponse.message(404, "Not Found"))

    def close(self) -> None:
        """Stop every function's workers, all at once."""
        self.workers.close()


def _refusal(status: int, message: str, error: str, reason: Exception) -> HttpResponse:
    response = HttpResponse.message(status, message)
    challenge = f'Bearer scope="" error="{error}" error_description="{reason}"'
    return HttpResponse(status, [*response.headers, ("www-authenticate", challenge)], response.body)


_Request = socket.socket | tuple[bytes, socket.socket]  # what socketserver hands a server


class _BodyTooLarge(Exception):
    pass


class GatewayServer(ThreadingHTTPServer):
    """The threaded HTTP server in front of a ``Gateway``; knows its open connections."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], gateway: Gateway, log: Callable[[str], None]) -> None:
        super().__init__(address, _RequestHandler)
        self.gateway = gateway
        self.log = log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._closing = False

    def process_request(self, request: _Request, client_address: Any) -> None:
        if isinstance(request, socket.socket):  # always, for a TCP server
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: _Request) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open connection, idle keep-alive ones and those awaiting an answer alike."""
        with self._connections_lock:
            self._closing = True
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # its thread's next read or write fails and it ends

    def handle_error(self, request: _Request, client_address: Any) -> None:
        if not self._closing:  # a connection cut on purpose is no error worth a traceback
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave in two writes: no 40 ms delayed-ACK stall
    server_version = "fleetgate-local"
    sys_version = ""

    def _serve(self) -> None:
        server = cast(GatewayServer, self.server)
        started = time.monotonic()
        raw_path, _, raw_query = self.path.partition("?")
        request_id = new_request_id()
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True
            outcome = Outcome(HttpResponse.message(413, "Request Entity Too Large"))
        except ValueError:
            self.close_connection = True
            outcome = Outcome(HttpResponse.message(400, "Bad Request"))
        else:
            headers = forwarded(list(self.headers.items()), self.client_address[0], server.server_address[1])
            request = HttpRequest(
                self.command, raw_path, raw_query, headers, body, self.client_address[0], request_id
            )
            outcome = server.gateway.handle(request)
        elapsed_ms = (time.monotonic() - started) * 1000
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        route = outcome.route_key  # "POST /path/{var}" (never the raw path: it may hold a device token)
        if not route.startswith(f"{self.command} "):
            route = f"{self.command} {route}"  # "$default" and "(no route)" carry no method
        line = f"{stamp} {route} {outcome.response.status} {elapsed_ms:.0f}ms {outcome.function_id}"
        server.log(line + (f" ({outcome.note})" if outcome.note else ""))
        self._write(outcome.response, request_id)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        """Any other method (``TRACE``, ``CONNECT``, ``FOO``) is routed too, as API Gateway routes it: no
        route matches, so it gets API Gateway's 404, never ``http.server``'s HTML 501."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._discard(length)  # so that a client still sending its body reads the 413
            raise _BodyTooLarge
        return self.rfile.read(length) if length > 0 else None

    def _discard(self, length: int) -> None:
        if length <= _MAX_DISCARDED_BYTES:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    return
                length -= len(chunk)

    def _read_chunked(self) -> bytes | None:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass  # trailers
                return bytes(body) or None
            if len(body) + size > MAX_BODY_BYTES:
                raise _BodyTooLarge
            body += self.rfile.read(size)
            self.rfile.readline()  # the CRLF after each chunk

    def _write(self, response: HttpResponse, request_id: str) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                if name.lower() not in _HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(response.body)))
            self.send_header("apigw-requestid", request_id)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        """Silence http.server's own access log: ``_serve`` logs one line per request."""


def serve(gateway: Gateway, host: str, port: int, log: Callable[[str], None]) -> GatewayServer:
    """Bind ``host:port`` (0 picks a free port); the caller runs ``serve_forever``."""
    return GatewayServer((host, port), gateway, log)
