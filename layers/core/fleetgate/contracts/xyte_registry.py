"""Xyte device API operations (see ``fleetgate.contracts.xyte``)."""

from __future__ import annotations

from fleetgate.contracts.spec import Operation

OPERATIONS: tuple[Operation, ...] = ()
