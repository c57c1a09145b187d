"""The operator side: the operator API client (``/manage/v1``) and the loop that changes shared
attributes and desired state, sends RPCs and creates jobs at a configured rate."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from fleetgate_sim.ledger import Ledger
from fleetgate_sim.transport import Http

# Delivery channels (the ledger's names) and the RPC methods the simulated firmware knows.
TB_ATTRIBUTES = "tb.attributes"
TB_RPC_ONEWAY = "tb.rpc.oneway"
TB_RPC_PERSISTENT = "tb.rpc.persistent"
TB_RPC_TWOWAY = "tb.rpc.twoway"
TD_DESIRED = "td.desired"
TD_JOBS = "td.jobs"
RPC_METHODS = {"blink": TB_RPC_ONEWAY, "setConfig": TB_RPC_PERSISTENT, "getState": TB_RPC_TWOWAY}
TWO_WAY_METHODS = ("setConfig", "getState")
RPC_EXPIRY_MS = 60_000  # a queued RPC not taken within a minute expires (and counts as lost)
TWO_WAY_WAIT_MS = 20_000  # how long the operator's synchronous call waits for the reply

# The operator's mix: (channel, weight); a channel with no device to act on is skipped.
MIX: Sequence[tuple[str, int]] = (
    (TB_ATTRIBUTES, 4),
    (TB_RPC_ONEWAY, 2),
    (TB_RPC_PERSISTENT, 2),
    (TB_RPC_TWOWAY, 2),
    (TD_DESIRED, 2),
    (TD_JOBS, 2),
)


class OperatorError(Exception):
    """The operator API refused a setup or teardown step."""


@dataclass(frozen=True)
class Device:
    """A device the simulation created: its registry id, name and (ThingsBoard) access token."""

    id: str
    name: str
    token: str
    dialect: str  # "thingsboard" or "thingdatas"


class OperatorApi:
    """``/manage/v1`` as the signed-in operator; signs in again once when a token expires."""

    def __init__(self, http: Http, name: str, password: str) -> None:
        self.http = http
        self._name = name
        self._password = password
        self._login_lock = threading.Lock()

    def login(self) -> None:
        response = self.http.request(
            "manage POST auth",
            "POST",
            "/manage/v1/auth",
            json={"name": self._name, "password": self._password},
        )
        if response is None or response.status_code != 200:
            raise OperatorError(f"sign-in as {self._name!r} failed: {_describe(response)}")
        self.http.session.headers["Authorization"] = f"Bearer {response.json()['data']['token']}"

    def call(
        self, operation: str, method: str, path: str, *, expected: Sequence[int] = (), **kwargs: Any
    ) -> requests.Response | None:
        response = self.http.request(f"manage {operation}", method, path, expected=expected, **kwargs)
        if response is not None and response.status_code == 401:
            with self._login_lock:
                self.login()
            response = self.http.request(f"manage {operation}", method, path, expected=expected, **kwargs)
        return response

    def create_device(self, name: str, dialect: str) -> Device:
        response = self.call(
            "POST devices", "POST", "/manage/v1/devices", json={"name": name, "type": "simulated"}
        )
        if response is None or response.status_code != 201:
            raise OperatorError(f"creating device {name!r} failed: {_describe(response)}")
        data = response.json()["data"]
        return Device(data["id"], name, data["credentials"]["accessToken"], dialect)

    def delete_device(self, device: Device) -> bool:
        response = self.call("DELETE devices/{id}", "DELETE", f"/manage/v1/devices/{device.id}")
        return response is not None and response.status_code in (200, 204)

    def create_api_key(self, name: str, thing_names: Sequence[str]) -> tuple[str, str]:
        permissions = [{"method": m, "path": "/api/v1/thing-datas"} for m in ("POST", "GET")]
        body = {"name": name, "permissions": permissions, "thingNames": list(thing_names)}
        response = self.call("POST api-keys", "POST", "/manage/v1/api-keys", json=body)
        if response is None or response.status_code != 201:
            raise OperatorError(f"creating API key {name!r} failed: {_describe(response)}")
        data = response.json()["data"]
        return data["id"], data["secret"]

    def delete_api_key(self, key_id: str) -> bool:
        response = self.call("DELETE api-keys/{id}", "DELETE", f"/manage/v1/api-keys/{key_id}")
        return response is not None and response.status_code in (200, 204)

    def rpc_status(self, device: Device, rpc_id: str) -> dict[str, Any] | None:
        response = self.call(
            "GET devices/{id}/rpc/{rpcId}", "GET", f"/manage/v1/devices/{device.id}/rpc/{rpc_id}"
        )
        if response is None or response.status_code != 200:
            return None
        data: dict[str, Any] = response.json()["data"]
        return data


def _describe(response: requests.Response | None) -> str:
    return "no answer" if response is None else f"{response.status_code} {response.text[:200]}"


class OperatorLoop:
    """Acts on the devices at ``rate`` actions per second from ``threads`` worker threads.

    Each action carries a fresh sequence number that the ledger expects on one device. A device gets a
    new shared-attribute or desired-state change only once it received the previous one: both are
    states, and a value changed twice before a device looks arrives once (as it is now), which would
    make a superseded value indistinguishable from a lost one. RPCs and jobs are queued items and are
    sent regardless."""

    def __init__(
        self,
        api: OperatorApi,
        ledger: Ledger,
        devices: Sequence[Device],
        *,
        rate: float,
        threads: int,
        mix: Sequence[tuple[str, int]] = MIX,
        job_prefix: str,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.ledger = ledger
        self.tb = [d for d in devices if d.dialect == "thingsboard"]
        self.td = [d for d in devices if d.dialect == "thingdatas"]
        self.rate = rate
        self.mix = [(c, w) for c, w in mix if (self.td if c.startswith("td.") else self.tb)]
        self.job_prefix = job_prefix
        self.rng = rng or random.Random()  # noqa: S311 (load, not secrets)
        self.clock = clock
        self.measuring = True  # False during a warm-up (see Ledger)
        self.actions = 0  # measured ones
        self.skipped = 0
        self.wrong_replies: list[str] = []
        self.persistent: list[tuple[Device, str, int]] = []  # (device, rpcId, seq) to check at the end
        self.rpc_ids: dict[int, tuple[Device, str]] = {}  # seq -> (device, rpcId) of queued RPCs
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._slots = threading.Semaphore(threads)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="operator")
        self._thread = threading.Thread(target=self._run, name="operator", daemon=True)

    def start(self) -> None:
        if self.mix and self.rate > 0:
            self._thread.start()

    def stop(self) -> None:
        """Stop scheduling and wait for the actions in flight."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._executor.shutdown(wait=True)

    def _run(self) -> None:
        interval = 1.0 / self.rate
        next_at = self.clock()
        while not self._stop.is_set():
            next_at += self.rng.expovariate(1.0) * interval  # Poisson arrivals at the configured rate
            if self._stop.wait(max(0.0, next_at - self.clock())):
                return
            channel = self.rng.choices([c for c, _ in self.mix], [w for _, w in self.mix])[0]
            device = self._pick(channel)
            if device is None:
                with self._lock:
                    self.skipped += 1
                continue
            self._slots.acquire()
            if self._stop.is_set():
                self._slots.release()
                return
            # expected before the next pick, so that no second state change goes to this device
            seq, measured = next(self._seq), self.measuring
            synchronous = channel == TB_RPC_TWOWAY
            self.ledger.expect(
                channel, device.name, seq, self.clock(), synchronous=synchronous, measured=measured
            )
            self._executor.submit(self._act, channel, device, seq, measured)

    def _pick(self, channel: str) -> Device | None:
        pool = self.td if channel.startswith("td.") else self.tb
        if channel in (TB_ATTRIBUTES, TD_DESIRED):
            pool = [d for d in pool if not self.ledger.outstanding(channel, d.name)]
        return self.rng.choice(pool) if pool else None

    def _act(self, channel: str, device: Device, seq: int, measured: bool) -> None:
        acked = False
        try:
            self.ledger.sending(seq, self.clock())
            response = self._send(channel, device, seq)
            if response is not None and response.status_code in (200, 201):
                self.ledger.acked(seq, self.clock())
                acked = True
                self._check(channel, device, seq, response)
            else:
                self.ledger.failed(seq)
            with self._lock:
                self.actions += measured
        except Exception as error:  # noqa: BLE001 (an action's surprise is reported, not lost in a future)
            if not acked:
                self.ledger.failed(seq)
            with self._lock:
                self.wrong_replies.append(f"{device.name} {channel}: {type(error).__name__}: {error}")
        finally:
            self._slots.release()

    def _send(self, channel: str, device: Device, seq: int) -> requests.Response | None:
        base = f"/manage/v1/devices/{device.id}"
        if channel == TB_ATTRIBUTES:
            return self.api.call(
                "PUT devices/{id}/attributes/shared", "PUT", f"{base}/attributes/shared", json={"seq": seq}
            )
        if channel == TB_RPC_ONEWAY:
            body = {"method": "blink", "params": {"seq": seq}, "oneway": True, "timeout": RPC_EXPIRY_MS}
            return self.api.call("POST devices/{id}/rpc (one-way)", "POST", f"{base}/rpc", json=body)
        if channel == TB_RPC_PERSISTENT:
            body = {
                "method": "setConfig",
                "params": {"seq": seq},
                "persistent": True,
                "timeout": RPC_EXPIRY_MS,
            }
            return self.api.call("POST devices/{id}/rpc (persistent)", "POST", f"{base}/rpc", json=body)
        if channel == TB_RPC_TWOWAY:
            body = {"method": "getState", "params": {"seq": seq}, "timeout": TWO_WAY_WAIT_MS}
            return self.api.call("POST devices/{id}/rpc (two-way)", "POST", f"{base}/rpc", json=body)
        if channel == TD_DESIRED:
            body = {"state": {"desired": {"seq": seq}}}
            return self.api.call("PATCH devices/{id}/shadow", "PATCH", f"{base}/shadow", json=body)
        if channel == TD_JOBS:
            body = {
                "jobId": f"{self.job_prefix}-{seq}",
                "document": {"seq": seq, "operation": "reboot"},
                "targets": {"thingNames": [device.name]},
            }
            return self.api.call("POST jobs", "POST", "/manage/v1/jobs", json=body)
        raise ValueError(f"unknown channel {channel}")

    def _check(self, channel: str, device: Device, seq: int, response: requests.Response) -> None:
        data = response.json().get("data", {})
        if channel == TB_RPC_TWOWAY:
            expected = {"method": "reply", "params": {"seq": seq}}
            if data.get("status") != "SUCCESSFUL" or data.get("response") != expected:
                with self._lock:
                    self.wrong_replies.append(
                        f"{device.name} rpc seq {seq}: {data.get('status')} {data.get('response')}"
                    )
        elif channel in (TB_RPC_PERSISTENT, TB_RPC_ONEWAY):
            with self._lock:
                self.rpc_ids[seq] = (device, data["rpcId"])
                if channel == TB_RPC_PERSISTENT:
                    self.persistent.append((device, data["rpcId"], seq))

    def rpc_statuses(self, seqs: Sequence[int]) -> dict[int, str]:
        """The server's status of the queued RPCs with these sequence numbers (QUEUED, DELIVERED, …)."""
        out = {}
        for seq in seqs:
            if seq in self.rpc_ids:
                device, rpc_id = self.rpc_ids[seq]
                state = self.api.rpc_status(device, rpc_id)
                out[seq] = "unknown" if state is None else str(state.get("status"))
        return out

    def check_persistent(self) -> list[str]:
        """Ask for every persistent RPC's final state: each must be SUCCESSFUL with the device's reply."""
        problems = []
        for device, rpc_id, seq in self.persistent:
            state = self.api.rpc_status(device, rpc_id)
            expected = {"method": "reply", "params": {"seq": seq}}
            if state is None or state.get("status") != "SUCCESSFUL" or state.get("response") != expected:
                status = None if state is None else (state.get("status"), state.get("response"))
                problems.append(f"{device.name} persistent rpc seq {seq}: {status}")
        return problems
