"""HTTP API JWT authorizers, validated like API Gateway does before a route's function runs.

Order of checks (API Gateway's): a token in the identity source (``Bearer `` prefix optional), an
RS256 signature by a key of the issuer's JWKS (matched by ``kid``), ``iss`` equal to the configured
issuer, ``aud`` (or ``client_id`` when there is no ``aud``) in the audience list, ``exp`` in the
future, ``nbf`` and ``iat`` not in the future, and one of the route's scopes if it has any.
Cognito issuers are served by moto, at ``{moto}/{user pool id}/.well-known/jwks.json``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet


@dataclass(frozen=True)
class Authorized:
    """A valid token: its claims (raw) and scopes, for ``requestContext.authorizer.jwt``."""

    claims: dict[str, Any]
    scopes: list[str] | None


class Unauthorized(Exception):
    """401: no token, or a token that fails validation (the message says why, for the log)."""


class Forbidden(Exception):
    """403: a valid token without any of the route's scopes."""


class JwtAuthorizer:
    """One authorizer of an HttpApi, with its issuer and audience already resolved."""

    def __init__(self, *, issuer: str, audience: list[str], identity_source: str, moto_url: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self._source_kind, _, self._source_name = identity_source.removeprefix("$request.").partition(".")
        if self._source_kind not in ("header", "querystring"):
            raise ValueError(f"identity source {identity_source!r}: only $request.header.* / querystring.*")
        self._jwks_url = _jwks_url(issuer, moto_url)
        self._keys: KeySet | None = None
        self._lock = threading.Lock()

    def authorize(self, headers: dict[str, str], query: str, scopes: tuple[str, ...] = ()) -> Authorized:
        """Validate the request's token; ``headers`` are lower-cased and folded."""
        token = self._token(headers, query)
        try:
            decoded = jwt.decode(token, self._key_set(), algorithms=["RS256"])
        except (JoseError, ValueError) as error:
            raise Unauthorized(f"invalid token: {error}") from None
        claims = decoded.claims
        self._check_claims(claims)
        token_scopes = _scopes(claims)
        if scopes and not set(scopes) & set(token_scopes or []):
            raise Forbidden(f"token has none of the route's scopes {list(scopes)}")
        return Authorized(claims=claims, scopes=token_scopes)

    def _token(self, headers: dict[str, str], query: str) -> str:
        if self._source_kind == "header":
            value = headers.get(self._source_name.lower(), "")
        else:
            value = dict(parse_qsl(query)).get(self._source_name, "")
        token = value.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise Unauthorized("no token in the identity source")
        return token

    def _check_claims(self, claims: dict[str, Any]) -> None:
        if claims.get("iss") != self.issuer:
            raise Unauthorized("the token's issuer is not the authorizer's")
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        audiences = audience if isinstance(audience, list) else [audience]
        if not set(self.audience) & {a for a in audiences if isinstance(a, str)}:
            raise Unauthorized("the token does not have a valid audience")
        now = time.time()
        expires, not_before, issued = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not isinstance(expires, int | float) or isinstance(expires, bool) or expires <= now:
            raise Unauthorized("the token is expired (or has no exp)")
        if not_before is not None and (not _is_time(not_before) or not_before > now):
            raise Unauthorized("the token is not valid yet (nbf)")
        if issued is not None and (not _is_time(issued) or issued > now):
            raise Unauthorized("the token was issued in the future (iat)")

    def _key_set(self) -> KeySet:
        with self._lock:
            if self._keys is None:
                try:
                    with urllib.request.urlopen(self._jwks_url, timeout=5) as response:  # noqa: S310 (our URL)
                        self._keys = KeySet.import_key_set(json.load(response))
                except OSError as error:
                    raise Unauthorized(f"cannot fetch the JWKS {self._jwks_url}: {error}") from None
            return self._keys


def _jwks_url(issuer: str, moto_url: str) -> str:
    parts = urlsplit(issuer)
    host = parts.hostname or ""
    if host.startswith("cognito-idp.") and host.endswith(".amazonaws.com"):
        return f"{moto_url}{parts.path}/.well-known/jwks.json"
    return f"{issuer.rstrip('/')}/.well-known/jwks.json"


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scopes(claims: dict[str, Any]) -> list[str] | None:
    """Scopes of a token: ``scope`` (space-separated) or ``scp`` (a list or a string)."""
    value = claims.get("scope", claims.get("scp"))
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(item) for item in value]
    return None
