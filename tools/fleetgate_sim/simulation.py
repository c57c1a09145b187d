"""One simulation run: sign in, create the devices (and an API key for the ThingDatas things), run them
and the operator for the duration, let deliveries settle, check the RPC replies, stop the devices,
delete what was created (unless ``keep``), and summarise."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from fleetgate_sim.ledger import FAST_S, Ledger, between_polls
from fleetgate_sim.operator_api import MIX, TB_ATTRIBUTES, Device, OperatorApi, OperatorLoop
from fleetgate_sim.progress import Progress
from fleetgate_sim.report import LONG_POLL_CHANNELS
from fleetgate_sim.stats import CONNECTION, RequestStats, latency_summary
from fleetgate_sim.thingdatas import ThingDatasDevice, basic_auth
from fleetgate_sim.thingsboard import ThingsBoardDevice
from fleetgate_sim.transport import Http

SETUP_THREADS = 8
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Settings:
    url: str
    name: str
    password: str
    thingsboard: int = 5
    thingdatas: int = 5
    duration: float = 60.0
    rate: float = 2.0  # operator actions per second, over all devices
    operator_threads: int = 8
    telemetry_interval: float = 10.0
    td_interval: float = 2.0
    grace: float = 30.0
    ramp: float = 0.5  # seconds between two devices' start
    warmup: float = 0.0  # seconds of operator activity before the measured run (workers start)
    keep: bool = False
    progress: bool = True
    prefix: str = ""
    seed: int | None = None
    mix: tuple[tuple[str, int], ...] = tuple(MIX)


class ThreadDeaths:
    """Records SDK subscription threads that end with an exception (the SDK does not catch any: one
    5xx or dropped connection on a long-poll ends that subscription for good)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[threading.Thread, tuple[str, str, str, Callable[[], bool]]] = {}
        self.deaths: list[dict[str, Any]] = []
        self.died_at: dict[tuple[str, str], float] = {}  # (device, "attributes" | "rpc") -> monotonic time
        self.started = time.monotonic()
        self._previous = threading.excepthook

    def install(self) -> None:
        self._previous = threading.excepthook
        threading.excepthook = self._hook

    def watch(
        self, thread: threading.Thread, device: str, channel: str, token: str, stopping: Callable[[], bool]
    ) -> None:
        """Watch one SDK thread; its errors are reported with ``token`` (in the SDK's URLs) left out."""
        with self._lock:
            self._owners[thread] = (device, channel, token, stopping)

    def _hook(self, args: threading.ExceptHookArgs) -> None:
        with self._lock:
            owner = self._owners.get(args.thread) if args.thread is not None else None
        if owner is None:
            self._previous(args)
            return
        device, channel, token, stopping = owner
        if stopping():
            return  # the run is over: the stack may be gone already
        error = f"{args.exc_type.__name__}: {args.exc_value}".replace(token, "{token}")
        now = time.monotonic()
        with self._lock:
            self.died_at[(device, channel)] = now
            self.deaths.append(
                {
                    "device": device,
                    "channel": channel,
                    "after_s": round(now - self.started, 1),
                    "error": error,
                }
            )


def _parallel(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    with ThreadPoolExecutor(max_workers=SETUP_THREADS, thread_name_prefix="setup") as pool:
        return list(pool.map(function, items))


class Simulation:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.stats = RequestStats()
        self.ledger = Ledger()
        self.deaths = ThreadDeaths()
        self.rng = random.Random(settings.seed)  # noqa: S311 (load, not secrets)
        self.prefix = settings.prefix or f"sim-{secrets.token_hex(3)}"
        self.devices: list[Device] = []
        self.tb: list[ThingsBoardDevice] = []
        self.td: list[ThingDatasDevice] = []
        self.api_key: str | None = None
        self.problems: list[str] = []
        self.lost_causes: dict[str, dict[str, Any]] = {}
        self.interrupted = False
        self._progress: Progress | None = None

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        s = self.settings
        http = Http(s.url, self.stats)
        api = OperatorApi(http, s.name, s.password)
        progress = (
            Progress(self.stats, self.ledger, s.duration, extra=self._threads_text) if s.progress else None
        )
        self._progress = progress
        self.deaths.install()
        self.deaths.started = self.clock()
        operator: OperatorLoop | None = None
        elapsed = settle = 0.0
        if progress:
            progress.start()
        try:
            api.login()
            self._create(api)
            self._start_devices()
            operator = OperatorLoop(
                api,
                self.ledger,
                self.devices,
                rate=s.rate,
                threads=s.operator_threads,
                mix=s.mix,
                job_prefix=self.prefix,
                rng=random.Random(self.rng.random()),  # noqa: S311
                clock=self.clock,
            )
            operator.start()
            started = self.clock()
            try:
                if s.warmup > 0:  # changes made now count for loss, not for latency
                    operator.measuring = False
                    self._phase("warm-up")
                    time.sleep(s.warmup)
                    operator.measuring = True
                started = self.clock()
                if progress:
                    progress.running()
                time.sleep(s.duration)
            except KeyboardInterrupt:
                self.interrupted = True
            elapsed = self.clock() - started
            self._phase("settling")
            operator.stop()
            stopped = self.clock()
            self._settle(stopped + s.grace)
            settle = self.clock() - stopped
            self.lost_causes = self._lost_causes(operator)
            self.problems.extend(operator.wrong_replies)
            self.problems.extend(operator.check_persistent())
        finally:
            self._phase("teardown")
            running = self._sdk_threads_running()
            for device in self.tb:
                device.stop()
            for thing in self.td:
                thing.stop()
            if not s.keep:
                self._delete(api)
            if progress:
                progress.stop()
            http.close()
        return self._summary(operator, elapsed, settle, running)

    def _phase(self, name: str) -> None:
        if self._progress:
            self._progress.phase = name

    def _threads_text(self) -> str:
        if not self.tb:
            return ""
        return f"SDK threads {self._sdk_threads_running()}/{2 * len(self.tb)}"

    def _sdk_threads_running(self) -> int:
        return sum(sum(device.alive().values()) for device in self.tb)

    def _create(self, api: OperatorApi) -> None:
        s = self.settings
        names = [(f"{self.prefix}-tb-{i:03d}", "thingsboard") for i in range(1, s.thingsboard + 1)]
        names += [(f"{self.prefix}-td-{i:03d}", "thingdatas") for i in range(1, s.thingdatas + 1)]
        results = _parallel(lambda item: _attempt(lambda: api.create_device(*item)), names)
        self.devices = [r for r in results if isinstance(r, Device)]
        errors = [r for r in results if not isinstance(r, Device)]
        if errors:
            raise RuntimeError(f"could not create the devices: {errors[0]}")
        things = [d.name for d in self.devices if d.dialect == "thingdatas"]
        if things:
            key_id, secret = api.create_api_key(f"{self.prefix}-key", things)
            self.api_key = key_id
            authorization = basic_auth(key_id, secret)
        for device in self.devices:
            rng = random.Random(self.rng.random())  # noqa: S311
            if device.dialect == "thingsboard":
                tb = ThingsBoardDevice(
                    s.url,
                    device,
                    self.ledger,
                    self.stats,
                    telemetry_interval=s.telemetry_interval,
                    rng=rng,
                    clock=self.clock,
                )
                for channel, thread in tb.threads.items():
                    self.deaths.watch(thread, device.name, channel, device.token, partial(_stopping, tb))
                self.tb.append(tb)
            else:
                self.td.append(
                    ThingDatasDevice(
                        s.url,
                        device,
                        self.ledger,
                        self.stats,
                        authorization=authorization,
                        interval=s.td_interval,
                        rng=rng,
                        clock=self.clock,
                    )
                )

    def _start_devices(self) -> None:
        """Start the devices one after the other, ``ramp`` seconds apart: as devices boot, and so that
        the stack starts its warm workers a few at a time (each takes a second of CPU to start, and a
        worker not ready within Lambda's 10-second init limit fails its request)."""
        everyone: list[ThingsBoardDevice | ThingDatasDevice] = [*self.tb, *self.td]
        for index, device in enumerate(everyone):
            if index:
                time.sleep(self.settings.ramp)
            device.start()

    def _settle(self, deadline: float) -> None:
        """Wait until every acknowledged change has arrived, or the deadline."""
        while self.ledger.pending() and self.clock() < deadline:
            time.sleep(0.2)

    def _delete(self, api: OperatorApi) -> None:
        if self.api_key and not api.delete_api_key(self.api_key):
            self.problems.append(f"could not revoke API key {self.api_key}")
        for device, deleted in zip(self.devices, _parallel(api.delete_device, self.devices), strict=True):
            if not deleted:
                self.problems.append(f"could not delete device {device.name} ({device.id})")

    # ------------------------------------------------------------------ summary
    def _lost_causes(self, operator: OperatorLoop, max_lookups: int = 300) -> dict[str, dict[str, Any]]:
        """Why each lost ThingsBoard change was lost: made after its device's SDK thread for that channel
        had died (the SDK would never get it), made before the death (the poll that died may have carried
        it), or lost with the subscription running; and for queued RPCs, the server's status of each."""
        out: dict[str, dict[str, Any]] = {}
        lost = [
            c
            for c in self.ledger.changes()
            if not c.failed and not c.received and c.channel.startswith("tb.")
        ]
        statuses = operator.rpc_statuses([c.seq for c in lost][:max_lookups])
        for change in lost:
            died = self.deaths.died_at.get((change.device, _poll_channel(change.channel)))
            cause = (
                "subscription_running"
                if died is None
                else "after_the_sdk_thread_died"
                if change.sent_at >= died
                else "before_the_sdk_thread_died"
            )
            row = out.setdefault(change.channel, {})
            row[cause] = row.get(cause, 0) + 1
            if change.seq in statuses:
                by_status = row.setdefault("server_status", {})
                key = f"{cause}: {statuses[change.seq]}"
                by_status[key] = by_status.get(key, 0) + 1
        return out

    def _between_polls(self) -> dict[str, dict[str, int]]:
        """Per ThingsBoard channel: the acknowledged changes whose write (sent to answered) overlapped no
        long-poll of their device, so that they landed between two polls, and how many arrived."""
        devices = {device.device.name: device for device in self.tb}
        out: dict[str, dict[str, int]] = {}
        for change in self.ledger.changes():
            device = devices.get(change.device)
            if device is None or change.failed or change.acked_at is None or change.synchronous:
                continue  # a synchronous call is answered after the delivery: never between polls
            polls = device.poll_intervals(_poll_channel(change.channel))
            if between_polls(change.sent_at, change.acked_at, polls):
                row = out.setdefault(change.channel, {"changes": 0, "delivered": 0})
                row["changes"] += 1
                row["delivered"] += change.received
        return out

    def _summary(
        self, operator: OperatorLoop | None, elapsed: float, settle: float, running: int
    ) -> dict[str, Any]:
        s = self.settings
        order = [channel for channel, _ in MIX]
        deliveries = dict(
            sorted(
                self.ledger.summary().items(),
                key=lambda item: (item[0] not in order, order.index(item[0]) if item[0] in order else 0),
            )
        )
        wake = self.ledger.latencies(LONG_POLL_CHANNELS)
        classes = self.stats.classes()
        totals = {
            key: sum(row[key] for row in deliveries.values())
            for key in ("lost", "duplicated", "misrouted", "unexpected")
        }
        actions = operator.actions if operator else 0
        summary: dict[str, Any] = {
            "url": s.url,
            "prefix": self.prefix,
            "devices": {"thingsboard": s.thingsboard, "thingdatas": s.thingdatas},
            "duration_s": s.duration,
            "warmup_s": s.warmup,
            "elapsed_s": round(elapsed, 2),
            "settle_s": round(settle, 2),
            "interrupted": self.interrupted,
            "operator": {
                "rate": s.rate,
                "actions": actions,
                "skipped": operator.skipped if operator else 0,
                "achieved_rate": round(actions / elapsed, 3) if elapsed else 0.0,
            },
            "requests": self.stats.requests,
            "status_classes": classes,
            "errors_5xx": self.stats.errors_at_least(500),
            "errors_4xx": sum(row["errors"] for row in self.stats.summary().values())
            - self.stats.errors_at_least(500)
            - classes.get(CONNECTION, 0),
            "connection_failures": classes.get(CONNECTION, 0),
            "operations": self.stats.summary(),
            "deliveries": deliveries,
            **totals,
            "long_poll_wake": {"delivered": len(wake), "within_1s": sum(1 for v in wake if v < FAST_S)}
            | latency_summary(wake),
            "between_polls": self._between_polls(),
            "lost_causes": self.lost_causes,
            "sdk_threads": {"started": 2 * len(self.tb), "running": running},
            "sdk_threads_died": list(self.deaths.deaths),
            "problems": list(self.problems),
        }
        summary["ok"] = not any(
            (
                summary["errors_5xx"],
                summary["connection_failures"],
                *totals.values(),
                summary["sdk_threads_died"],
                self.problems,
            )
        )
        return summary


def _poll_channel(channel: str) -> str:
    return "attributes" if channel == TB_ATTRIBUTES else "rpc"


def _stopping(device: ThingsBoardDevice) -> bool:
    return device.stopping


def _attempt(call: Callable[[], T]) -> T | Exception:
    try:
        return call()
    except Exception as error:  # noqa: BLE001 (collected and reported by the caller)
        return error
