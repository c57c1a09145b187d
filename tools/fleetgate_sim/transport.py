"""HTTP with accounting: every request the simulation makes is timed and counted in ``RequestStats``,
its own (``Http``) and the ThingsBoard SDK's (``instrument_sdk_session``, a response hook)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import requests

from fleetgate_sim.stats import RequestStats

TIMEOUT_S = 35  # above the server's 25-second long-poll cap and the operator's 25-second RPC wait
LONG_POLL_EMPTY = 408  # a ThingsBoard long-poll with nothing to deliver


class Http:
    """A ``requests.Session`` on one base URL whose requests are recorded under an operation name."""

    def __init__(self, base_url: str, stats: RequestStats, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.stats = stats
        self.session = requests.Session()
        self.session.headers.update(headers or {})

    def request(
        self, operation: str, method: str, path: str, *, expected: Iterable[int] = (), **kwargs: Any
    ) -> requests.Response | None:
        """The response, or None when no answer came (recorded as a connection failure)."""
        kwargs.setdefault("timeout", TIMEOUT_S)
        started = time.monotonic()
        try:
            response = self.session.request(method, f"{self.base_url}{path}", **kwargs)
        except requests.RequestException:
            self.stats.record(operation, None, time.monotonic() - started)
            return None
        self.stats.record(operation, response.status_code, time.monotonic() - started, expected)
        return response

    def close(self) -> None:
        self.session.close()


_RPC_ID = re.compile(r"^rpc/\d+$")


def sdk_operation(method: str, url: str, token: str) -> str:
    """The operation name of a ThingsBoard device request: ``tb GET attributes/updates``, with the token
    (and RPC ids) left out, so that every device's requests add up under one name."""
    path = urlsplit(url).path
    marker = f"/api/v1/{token}/"
    rest = path.split(marker, 1)[1] if marker in path else path.rsplit("/api/v1/", 1)[-1]
    if _RPC_ID.match(rest):
        rest = "rpc/{id}"
    return f"tb {method} {rest}"


def instrument_sdk_session(
    session: requests.Session, stats: RequestStats, token: str, recording: Callable[[], bool]
) -> None:
    """Count every answer the SDK's session gets (the SDK itself is unchanged). Long-polls' 408 is
    expected; ``recording()`` false (the device is being stopped) leaves answers uncounted."""

    def on_response(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if recording():
            method = response.request.method or "GET"
            operation = sdk_operation(method, response.url, token)
            long_poll = method == "GET" and operation in ("tb GET attributes/updates", "tb GET rpc")
            expected = (LONG_POLL_EMPTY,) if long_poll else ()
            stats.record(operation, response.status_code, response.elapsed.total_seconds(), expected)
        return response

    session.hooks["response"].append(on_response)
