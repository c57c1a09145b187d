"""Operator sign-in: the operator API's login route goes through here, never to Cognito itself."""

from __future__ import annotations

from typing import Any

from fleetgate.data import operators


def password_login(client_id: str, name: str, password: str) -> dict[str, Any]:
    """Cognito's ``AuthenticationResult`` for a name and password; ``Unauthorized`` when they are wrong."""
    return operators.password_login(client_id, name, password)
