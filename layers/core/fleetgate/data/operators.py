"""Operator sign-in against the Cognito user pool (``OPERATOR_USER_POOL_CLIENT_ID``)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from fleetgate.data.aws import client, translate
from fleetgate.errors import FleetgateError, Forbidden, InvalidRequest, Unauthorized

_ERRORS: dict[str, FleetgateError] = {
    "NotAuthorizedException": Unauthorized("Incorrect name or password"),
    "UserNotFoundException": Unauthorized("Incorrect name or password"),
    "UserNotConfirmedException": Unauthorized("Incorrect name or password"),
    "PasswordResetRequiredException": Forbidden("The password must be reset before signing in"),
    "InvalidParameterException": InvalidRequest("name and password are required"),
}


def password_login(client_id: str, name: str, password: str) -> dict[str, Any]:
    """Cognito's ``AuthenticationResult`` for a name and password (USER_PASSWORD_AUTH)."""
    try:
        result = client("cognito-idp").initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": password},
        )
    except ClientError as exc:
        known = _ERRORS.get(exc.response.get("Error", {}).get("Code", ""))
        raise (type(known)(known.message) if known else translate(exc)) from exc
    if "AuthenticationResult" not in result:
        challenge = result.get("ChallengeName", "a challenge")
        raise Forbidden(f"Sign-in needs {challenge}; set a permanent password for this operator first")
    return dict(result["AuthenticationResult"])
