"""What API Gateway itself answers, before or instead of a function: ``{"message": ...}`` bodies for a
body over its 10 MB limit (413), a request it cannot read (400), a JWT the authorizer refuses (401),
and a function that failed or returned something unusable (500)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from fleetgate.contracts.spec import Body, model


class GatewayMessage(BaseModel):
    """API Gateway's own error body, e.g. ``{"message": "Unauthorized"}``."""

    message: str = Field(examples=["Internal Server Error"])


GATEWAY: Body = model(GatewayMessage)
BEARER_CHALLENGE = {
    "description": "The JWT authorizer's challenge: Bearer, with the reason of the refusal",
    "schema": {"type": "string"},
}
