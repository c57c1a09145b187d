"""A command vocabulary shaped like Xyte's (``pending → in_progress → done | failed``), for the engine's
tests: it proves the engine carries a vocabulary with a device-reported progress state before the Xyte
dialect exists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from fleetgate.domain.commands import IdScheme, State, Vocabulary


class XyteLike(Vocabulary):
    name = "xyte-like"
    id_scheme = IdScheme.UUID
    statuses: ClassVar[Mapping[State, str]] = {
        State.DELIVERED: "pending",
        State.IN_PROGRESS: "in_progress",
        State.SUCCEEDED: "done",
        State.FAILED: "failed",
        State.TIMED_OUT: "timed_out",
        State.CANCELED: "canceled",
    }
    cancelable = frozenset({State.DELIVERED, State.IN_PROGRESS})


XYTE = XyteLike()
