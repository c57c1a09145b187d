"""Delivery accounting: every change the operator makes carries a unique sequence number; the devices
report what they received; the ledger tells delivered, lost, duplicated and misrouted apart, and how long
each delivery took (pure, no I/O; times are ``time.monotonic()`` seconds of one process).

A change is *lost* when its write was acknowledged and no device received it by the end, so that
``sent == delivered + lost``. A change whose write failed or got no answer is not expected anywhere (the
request already counts as an error); if it arrives anyway it counts as ``arrived_anyway``. *Duplicated*
counts extra receptions of one change, *misrouted* receptions by a device it was not sent to,
*unexpected* receptions of a sequence number never sent.

Latency runs from the operator's acknowledgement (the write is durable) to the device's callback. A
reception before the acknowledgement arrived (the server woke the device before answering the operator)
counts as 0 and is counted as ``early``. Changes made during a warm-up (``measured=False``) count for
loss and duplicates but not for the latencies. A synchronous call (a two-way RPC that waits for the reply)
has no acknowledgement before its delivery, so its latency runs from the moment it was sent.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fleetgate_sim.stats import latency_summary

FAST_S = 1.0  # the figure reported as "within 1 s"


@dataclass
class Change:
    channel: str
    device: str
    seq: int
    sent_at: float
    synchronous: bool = False
    measured: bool = True  # False during a warm-up: counted for loss, left out of the latencies
    acked_at: float | None = None
    failed: bool = False
    receptions: list[tuple[str, float]] = field(default_factory=list)  # (device, at)

    @property
    def received(self) -> bool:
        return any(device == self.device for device, _ in self.receptions)

    def latency(self) -> tuple[float, bool] | None:
        """(seconds from acknowledgement, or from sending when synchronous; arrived before the ack)."""
        first = next((at for device, at in self.receptions if device == self.device), None)
        if first is None:
            return None
        start = self.sent_at if self.synchronous else self.acked_at
        if start is None:  # received, but the write's answer never came
            return None
        return max(0.0, first - start), first < start


def between_polls(start: float, end: float, polls: Sequence[tuple[float, float]]) -> bool:
    """Whether the window [start, end] (a write, from sending to its answer) overlaps none of the polls
    [sent, answered]: the change certainly landed while its device had no poll waiting."""
    return not any(sent < end and answered > start for sent, answered in polls)


class Ledger:
    """Thread-safe: operator threads call ``expect``/``acked``/``failed``, device threads ``received``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: dict[int, Change] = {}
        self._by_target: dict[tuple[str, str], list[Change]] = {}
        self._channels: list[str] = []
        self._unexpected: dict[str, int] = {}

    def expect(
        self,
        channel: str,
        device: str,
        seq: int,
        sent_at: float,
        *,
        synchronous: bool = False,
        measured: bool = True,
    ) -> None:
        """Record a change about to be written (before the request, so that a fast device finds it)."""
        with self._lock:
            if seq in self._changes:
                raise ValueError(f"sequence number {seq} was already used")
            change = Change(channel, device, seq, sent_at, synchronous, measured)
            self._changes[seq] = change
            self._by_target.setdefault((channel, device), []).append(change)
            if channel not in self._channels:
                self._channels.append(channel)

    def sending(self, seq: int, at: float) -> None:
        """The write's request is going out now (``expect`` may have come a little earlier)."""
        with self._lock:
            self._changes[seq].sent_at = at

    def acked(self, seq: int, at: float) -> None:
        with self._lock:
            self._changes[seq].acked_at = at

    def failed(self, seq: int) -> None:
        """The write was refused or got no answer: nothing is owed to the device."""
        with self._lock:
            self._changes[seq].failed = True

    def received(self, channel: str, device: str, seq: int, at: float) -> None:
        with self._lock:
            change = self._changes.get(seq)
            if change is None or change.channel != channel:
                self._unexpected[channel] = self._unexpected.get(channel, 0) + 1
                if channel not in self._channels:
                    self._channels.append(channel)
                return
            change.receptions.append((device, at))

    def outstanding(self, channel: str, device: str) -> bool:
        """Whether ``device`` has a change on ``channel`` that is owed and not yet received."""
        with self._lock:
            return any(not c.failed and not c.received for c in self._by_target.get((channel, device), []))

    def pending(self) -> int:
        """Changes owed and not yet received, over all channels."""
        with self._lock:
            return sum(1 for c in self._changes.values() if not c.failed and not c.received)

    def delivered(self) -> int:
        with self._lock:
            return sum(1 for c in self._changes.values() if c.received and not c.failed)

    def sent(self) -> int:
        with self._lock:
            return sum(1 for c in self._changes.values() if not c.failed)

    def changes(self) -> list[Change]:
        """A copy of every change (for analyses outside the ledger)."""
        with self._lock:
            return [
                Change(
                    c.channel,
                    c.device,
                    c.seq,
                    c.sent_at,
                    c.synchronous,
                    c.measured,
                    c.acked_at,
                    c.failed,
                    list(c.receptions),
                )
                for c in self._changes.values()
            ]

    def latencies(self, channels: Sequence[str]) -> list[float]:
        """Delivery latencies (seconds) of the deliveries on ``channels``."""
        with self._lock:
            found = [c.latency() for c in self._changes.values() if c.channel in channels and c.measured]
        return [value for value, _ in filter(None, found)]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per channel: sent (acknowledged writes), delivered, lost, duplicated, misrouted, unexpected,
        failed writes, early, within 1 s, and the latency percentiles of the deliveries."""
        with self._lock:
            changes = [
                (
                    c.channel,
                    c.failed,
                    c.received,
                    list(c.receptions),
                    c.device,
                    c.latency() if c.measured else None,
                )
                for c in self._changes.values()
            ]
            unexpected = dict(self._unexpected)
            channels = list(self._channels)
        out: dict[str, dict[str, Any]] = {}
        for channel in channels:
            mine = [c for c in changes if c[0] == channel]
            latencies = [lat for *_, lat in mine if lat is not None]
            seconds = [value for value, _ in latencies]
            out[channel] = {
                "sent": sum(1 for _, failed, *_ in mine if not failed),
                "failed_writes": sum(1 for _, failed, *_ in mine if failed),
                "delivered": sum(1 for _, failed, received, *_ in mine if received and not failed),
                "arrived_anyway": sum(1 for _, failed, received, *_ in mine if received and failed),
                "lost": sum(1 for _, failed, received, *_ in mine if not failed and not received),
                "duplicated": sum(
                    max(0, sum(1 for device, _ in receptions if device == owner) - 1)
                    for _, _, _, receptions, owner, _ in mine
                ),
                "misrouted": sum(
                    sum(1 for device, _ in receptions if device != owner)
                    for _, _, _, receptions, owner, _ in mine
                ),
                "unexpected": unexpected.get(channel, 0),
                "early": sum(1 for _, early in latencies if early),
                "within_1s": sum(1 for value in seconds if value < FAST_S),
            } | latency_summary(seconds)
        return out
