"""A progress line on stderr: elapsed / duration, requests by status class, deliveries so far. On a
terminal it is redrawn in place twice a second; otherwise (a pipe, a CI log) a line every 10 seconds."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from fleetgate_sim.ledger import Ledger
from fleetgate_sim.stats import CONNECTION, EMPTY, RequestStats

WIDTH = 24


def clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def progress_line(
    phase: str, elapsed: float, duration: float, stats: RequestStats, ledger: Ledger, *, extra: str = ""
) -> str:
    """``[#####-----] 01:10/05:00 running  req 1,234 (2xx 1,200 4xx 0 5xx 0 408-empty 34 conn 0)
    delivered 120/121``"""
    done = min(1.0, elapsed / duration) if duration > 0 else 1.0
    filled = int(done * WIDTH)
    classes = stats.classes()
    counts = " ".join(f"{name} {classes.get(name, 0):,}" for name in ("2xx", "4xx", "5xx"))
    counts += f" 408-empty {classes.get(EMPTY, 0):,}"
    line = (
        f"[{'#' * filled}{'-' * (WIDTH - filled)}] {clock_text(elapsed)}/{clock_text(duration)} {phase:<8}"
        f" req {stats.requests:,} ({counts} conn {classes.get(CONNECTION, 0):,})"
        f"  delivered {ledger.delivered():,}/{ledger.sent():,}"
    )
    return f"{line}  {extra}" if extra else line


class Progress:
    def __init__(
        self,
        stats: RequestStats,
        ledger: Ledger,
        duration: float,
        *,
        stream: TextIO | None = None,
        extra: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = stats
        self.ledger = ledger
        self.duration = duration
        self.stream = stream or sys.stderr
        self.extra = extra
        self.clock = clock
        self.phase = "setup"
        self.started = clock()
        self.tty = self.stream.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def start(self) -> None:
        self.started = self.clock()
        self._thread.start()

    def running(self) -> None:
        """The measured run begins: elapsed counts from here."""
        self.started = self.clock()
        self.phase = "running"

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._draw(final=True)

    def _run(self) -> None:
        period = 0.5 if self.tty else 10.0
        while not self._stop.wait(period):
            self._draw()

    def _draw(self, final: bool = False) -> None:
        line = progress_line(
            self.phase,
            self.clock() - self.started,
            self.duration,
            self.stats,
            self.ledger,
            extra=self.extra(),
        )
        if self.tty:
            self.stream.write(f"\r\x1b[K{line}" + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
