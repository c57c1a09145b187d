"""A simulated EMQX Fleets (ThingDatas) thing over HTTPS with a deployment API key (Basic): it reads its
shadow and reports the desired state as reached, reports telemetry in its shadow, posts events, and
works through its jobs (``jobs/get``, ``start-next``, ``{jobId}/update``), polling every ``interval``
seconds as Fleets' HTTPS devices must (only MQTT devices are notified).

Commands are not simulated: Fleets delivers them over MQTT (through AWS IoT Core here), and an HTTPS
device has no way to learn of one; answering commands it was told about by the operator API would
prove nothing a device could do."""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from fleetgate_sim.ledger import Ledger
from fleetgate_sim.operator_api import TD_DESIRED, TD_JOBS, Device
from fleetgate_sim.stats import RequestStats
from fleetgate_sim.transport import Http

BASE = "/api/v1/thing-datas"


def basic_auth(key_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()


class ThingDatasDevice:
    """One thing, polling from its own thread."""

    def __init__(
        self,
        url: str,
        device: Device,
        ledger: Ledger,
        stats: RequestStats,
        *,
        authorization: str,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.device = device
        self.ledger = ledger
        self.interval = interval
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self.http = Http(url, stats, {"Authorization": authorization})
        self.completed_jobs: set[str] = set()
        self._seen_desired: set[int] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"{device.name}-thingdatas", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=60)
        self.http.close()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        count = 0
        while not self._stopping.wait(self.interval * self.rng.uniform(0.5, 1.5)):
            count += 1
            self._shadow()
            if count % 5 == 0:
                self._event(count)
                self._post("td POST jobs/get", f"{BASE}/jobs/get", {"thingName": self.device.name})
            self._jobs()

    def _post(self, operation: str, path: str, body: dict[str, Any]) -> Any:
        response = self.http.request(operation, "POST", path, json=body)
        return response.json() if response is not None and response.status_code == 200 else None

    def _shadow(self) -> None:
        response = self.http.request("td GET {thingName}/shadow", "GET", f"{BASE}/{self.device.name}/shadow")
        if response is None or response.status_code != 200:
            return
        shadow = response.json()
        seq = (shadow.get("desired") or {}).get("seq")
        if isinstance(seq, int) and seq not in self._seen_desired:
            self._seen_desired.add(seq)  # a state is seen on every read until it changes: count it once
            self.ledger.received(TD_DESIRED, self.device.name, seq, self.clock())
        reported: dict[str, Any] = {"temperature": round(self.rng.uniform(18, 26), 2)}
        if isinstance(seq, int) and "seq" in (shadow.get("delta") or {}):
            reported["seq"] = seq  # reached: the delta goes away
        body = {
            "thingName": self.device.name,
            "state": {"reported": reported},
            "clientToken": f"c{self.clock()}",
        }
        self._post("td POST shadow/reported", f"{BASE}/shadow/reported", body)

    def _event(self, count: int) -> None:
        body = {
            "thingName": self.device.name,
            "eventType": "sim.heartbeat",
            "severity": "info",
            "timestamp": int(time.time() * 1000),
            "data": {"count": count},
        }
        self._post("td POST events", f"{BASE}/events", body)

    def _jobs(self) -> None:
        """Take every pending job: start it, report progress, succeed."""
        for _ in range(10):  # at most ten jobs a cycle
            answer = self._post(
                "td POST jobs/start-next", f"{BASE}/jobs/start-next", {"thingName": self.device.name}
            )
            execution = (answer or {}).get("execution")
            if not execution:
                return
            job_id = execution["jobId"]
            seq = (execution.get("jobDocument") or {}).get("seq")
            if isinstance(seq, int):  # a job handed out again after it succeeded counts as a duplicate
                self.ledger.received(TD_JOBS, self.device.name, seq, self.clock())
            if job_id in self.completed_jobs:
                return
            name = self.device.name
            self._post("td POST jobs/{jobId}/get", f"{BASE}/jobs/{job_id}/get", {"thingName": name})
            progress = {"thingName": name, "status": "IN_PROGRESS", "statusDetails": {"step": "downloading"}}
            self._post("td POST jobs/{jobId}/update", f"{BASE}/jobs/{job_id}/update", progress)
            done = {"thingName": name, "status": "SUCCEEDED", "statusDetails": {"step": "done"}}
            if self._post("td POST jobs/{jobId}/update", f"{BASE}/jobs/{job_id}/update", done) is not None:
                self.completed_jobs.add(job_id)
