"""A simulated ThingsBoard device: ThingsBoard's own Python SDK (``tb_device_http.TBHTTPDevice``),
unmodified, sending telemetry and client attributes, long-polling shared-attribute updates and
server-side RPC with ``subscribe``, and answering the two-way RPCs its firmware knows."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from tb_device_http import TBHTTPDevice

from fleetgate_sim.ledger import Ledger
from fleetgate_sim.operator_api import RPC_METHODS, TB_ATTRIBUTES, TWO_WAY_METHODS, Device
from fleetgate_sim.stats import RequestStats
from fleetgate_sim.transport import instrument_sdk_session

CHANNELS = ("attributes", "rpc")


class PollTimer(HTTPAdapter):
    """Requests' default adapter, noting when each long-poll was sent and answered (or failed)."""

    def __init__(
        self, on_poll: Callable[[str, float, float | None], None], clock: Callable[[], float]
    ) -> None:
        super().__init__()
        self._on_poll = on_poll
        self._clock = clock

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        path = urlsplit(request.url or "").path
        channel = (
            "attributes" if path.endswith("/attributes/updates") else "rpc" if path.endswith("/rpc") else None
        )
        if request.method != "GET" or channel is None:
            return super().send(request, *args, **kwargs)
        sent = self._clock()
        self._on_poll(channel, sent, None)
        try:
            return super().send(request, *args, **kwargs)
        finally:
            self._on_poll(channel, sent, self._clock())


def sdk_internals(sdk: TBHTTPDevice) -> tuple[requests.Session, dict[str, threading.Thread]]:
    """The SDK's session (to count its requests) and its subscription threads (to see whether they
    still run): the SDK keeps both private. Reading them changes nothing about how it behaves."""
    session: requests.Session = sdk._TBHTTPDevice__session
    workers: dict[str, dict[str, Any]] = sdk._TBHTTPDevice__worker
    return session, {channel: workers[channel]["thread"] for channel in CHANNELS}


class ThingsBoardDevice:
    """One device: the SDK's two subscription threads plus a thread that sends telemetry every
    ``telemetry_interval`` seconds (client attributes every third time, a client-side
    ``getCurrentTime`` RPC every tenth)."""

    def __init__(
        self,
        url: str,
        device: Device,
        ledger: Ledger,
        stats: RequestStats,
        *,
        telemetry_interval: float,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.device = device
        self.ledger = ledger
        self.stats = stats
        self.clock = clock
        self.telemetry_interval = telemetry_interval
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self.sdk = TBHTTPDevice(url, device.token, name=device.name)
        session, self.threads = sdk_internals(self.sdk)
        self._stopping = threading.Event()
        instrument_sdk_session(session, stats, device.token, lambda: not self._stopping.is_set())
        self.polls: dict[str, list[tuple[float, float]]] = {channel: [] for channel in CHANNELS}
        self._open_polls: dict[str, float | None] = dict.fromkeys(CHANNELS)
        self._polls_lock = threading.Lock()
        timer = PollTimer(self._on_poll, clock)
        session.mount("http://", timer)
        session.mount("https://", timer)
        self._sender = threading.Thread(target=self._send_loop, name=f"{device.name}-telemetry", daemon=True)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self, attempts: int = 5, backoff_s: float = 2.0) -> None:
        """Connect as firmware does (the SDK's connection test, retried a few times), then subscribe."""
        for attempt in range(1, attempts + 1):
            if self.sdk.test_connection():
                break
            if attempt == attempts:
                raise ConnectionError(
                    f"{self.device.name}: the SDK's connection test failed {attempts} times"
                )
            time.sleep(backoff_s * attempt)
        self.sdk.subscribe("attributes", self._on_attributes)
        self.sdk.subscribe("rpc", self._on_rpc)
        self._sender.start()

    def stop(self) -> None:
        """Unsubscribe: the SDK ends each subscription after its current poll returns (and drops what
        that poll brings), so the operator must have stopped and deliveries have settled before."""
        self._stopping.set()
        for channel in CHANNELS:
            self.sdk.unsubscribe(channel)

    def _on_poll(self, channel: str, sent: float, answered: float | None) -> None:
        with self._polls_lock:
            if answered is None:
                self._open_polls[channel] = sent
            else:
                self._open_polls[channel] = None
                self.polls[channel].append((sent, answered))

    def poll_intervals(self, channel: str) -> list[tuple[float, float]]:
        """Every long-poll of ``channel`` as (sent, answered); one still waiting ends at infinity."""
        with self._polls_lock:
            waiting = self._open_polls[channel]
            return [*self.polls[channel], *([(waiting, math.inf)] if waiting is not None else [])]

    def alive(self) -> dict[str, bool]:
        return {channel: thread.is_alive() for channel, thread in self.threads.items()}

    # ------------------------------------------------------------------ callbacks (in the SDK's threads)
    def _on_attributes(self, update: dict[str, Any]) -> None:
        seq = update.get("seq")
        if isinstance(seq, int):
            self.ledger.received(TB_ATTRIBUTES, self.device.name, seq, self.clock())

    def _on_rpc(self, request: dict[str, Any]) -> None:
        at = self.clock()
        method = request.get("method")
        params = request.get("params") or {}
        seq = params.get("seq") if isinstance(params, dict) else None
        if method in RPC_METHODS and isinstance(seq, int):
            self.ledger.received(RPC_METHODS[method], self.device.name, seq, at)
        if method in TWO_WAY_METHODS:  # an exception here would end the SDK's subscription thread
            self._call(
                "tb POST rpc/{id}", lambda: self.sdk.send_rpc("reply", {"seq": seq}, rpc_id=request["id"])
            )

    # ------------------------------------------------------------------ telemetry and attributes
    def _send_loop(self) -> None:
        count = 0
        while not self._stopping.wait(self.telemetry_interval * self.rng.uniform(0.5, 1.5)):
            count += 1
            values = {"temperature": round(self.rng.uniform(18, 26), 2), "humidity": self.rng.randint(30, 70)}
            self._call(
                "tb POST telemetry",
                partial(self.sdk.send_telemetry, values, timestamp=datetime.now(UTC), queued=False),
            )
            if count % 3 == 0:
                self._call(
                    "tb POST attributes",
                    partial(self.sdk.send_attributes, {"firmware": "sim-1", "uptime": count}),
                )
            if count % 10 == 0:
                self._call("tb POST rpc", partial(self.sdk.send_rpc, "getCurrentTime"))

    def _call(self, operation: str, call: Callable[[], object]) -> None:
        """Run one SDK call: an HTTP error answer was counted by the session's hook; a request with no
        answer is counted here (the SDK raises either way)."""
        started = self.clock()
        try:
            call()
        except requests.HTTPError:
            pass
        except requests.RequestException:
            if not self.stopping:
                self.stats.record(operation, None, self.clock() - started)
