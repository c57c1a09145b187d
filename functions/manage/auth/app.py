"""Operator API ``POST /manage/v1/auth``: ThingsPro's login shape over Cognito.

``{"name", "password"}`` → 200 ``{"data": {"token": <JWT>, "user": {...}}}``; wrong credentials → 401.
The token is a Cognito access token, which the HttpApi JWT authorizer accepts on every /manage route.
"""

import base64
import json
from datetime import UTC, datetime

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from fleetgate.contracts.manage_requests import LoginRequest
from fleetgate.dialects import manage
from fleetgate.observability import logger, metrics
from fleetgate.services.operators import password_login
from fleetgate.settings import get_settings

app = APIGatewayHttpResolver()
manage.install_error_handlers(app)


def _claims(jwt: str) -> dict:
    """The payload of a token Cognito has just issued to us over TLS (no need to verify it again)."""
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@app.post("/manage/v1/auth")
def login() -> Response:
    body = manage.parse_body(app, LoginRequest)
    result = password_login(get_settings().require("operator_user_pool_client_id"), body.name, body.password)
    identity = _claims(result["IdToken"]) if "IdToken" in result else _claims(result["AccessToken"])
    user = {
        "id": identity.get("sub"),
        "name": identity.get("cognito:username") or identity.get("username") or body.name,
        "email": identity.get("email"),
        "isActive": True,
        "loginAt": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    data = {
        "token": result["AccessToken"],
        "tokenType": "Bearer",
        "expiresIn": result.get("ExpiresIn"),
        "user": {k: v for k, v in user.items() if v is not None},
    }
    return manage.envelope(data)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
