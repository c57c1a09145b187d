"""Bucket-policy conditions in moto, evaluated the way AWS evaluates them where it matters locally.

moto evaluates bucket policies on every object request, but it only understands the ``StringEquals``
condition operator and treats any other (``Bool``, ``IpAddress``, ...) as always true; and a statement
whose condition does not hold comes out as an explicit deny, whatever its effect. So the template's
TLS-only statement (deny ``s3:*`` when ``aws:SecureTransport`` is false) denies every request, even
the signed ones the functions make. In AWS a statement whose condition does not hold, or cannot hold
because its context key is absent, simply does not apply. ``apply()`` makes moto do that: statements
with conditions moto cannot evaluate, and statements whose conditions fail, are neutral.
"""

from __future__ import annotations

import functools
from typing import Any

from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.iam.policy_conditions import CONDITION_OPERATIONS

_MARK = "_fleetgate_conditions"


def apply() -> None:
    """Patch moto's policy statement evaluation (idempotent)."""
    original = IAMPolicyStatement.is_action_permitted
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def is_action_permitted(
        self: IAMPolicyStatement,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> Any:
        conditions = self._statement.get("Condition") or {}
        if conditions and (
            any(operator not in CONDITION_OPERATIONS for operator in conditions)
            or not self._check_conditions(incoming_condition_values)
        ):
            return PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming_condition_values)

    setattr(is_action_permitted, _MARK, True)
    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]
