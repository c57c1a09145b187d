"""Deployment API keys: create (secret shown once), list, read, revoke, and authenticate a request.

A warm function keeps a key it has read for ``API_KEY_CACHE_SECONDS`` (30 s by default, 0 turns the
cache off), which saves one DynamoDB read per request; a revoked key therefore stops working within
that time. Secrets are never cached: only the key's digest, which is what every request is checked
against, in constant time.
"""

from __future__ import annotations

import base64
import binascii
import time

from fleetgate import clock
from fleetgate.data.apikeys import ApiKeyRepository
from fleetgate.domain.apikeys import KEY_ID_PATTERN, ApiKey, new_api_key
from fleetgate.domain.paging import check_limit
from fleetgate.errors import Forbidden, Unauthorized
from fleetgate.settings import get_settings

MAX_HEADER = 512

_cache: dict[str, tuple[ApiKey, float]] = {}


def _keys() -> ApiKeyRepository:
    return ApiKeyRepository(get_settings().require("devices_table"))


def create(
    name: str, permissions: list[tuple[str, str]], thing_names: list[str] | None
) -> tuple[ApiKey, str]:
    key, secret = new_api_key(name, permissions, thing_names, clock.now_ms())
    _keys().create(key)
    return key, secret


def get(key_id: str) -> ApiKey:
    return _keys().get(key_id)


def list_page(limit: int, next_token: str | None) -> tuple[list[ApiKey], str | None]:
    check_limit(limit)
    return _keys().list_page(limit, next_token)


def revoke(key_id: str) -> ApiKey:
    _cache.pop(key_id, None)
    return _keys().revoke(key_id, clock.now_ms())


def authenticate(authorization: str | None, method: str, path: str) -> ApiKey:
    """The key an ``Authorization: Basic base64(keyId:secret)`` header proves, if it may call
    ``method path``: 401 for missing, malformed or wrong credentials and revoked keys, 403 when the
    key's permissions do not cover the request."""
    key_id, secret = _basic_credentials(authorization)
    key = _lookup(key_id)
    if key is None or not key.verify(secret):
        raise Unauthorized("Invalid API key or secret")
    if not key.allows(method, path):
        raise Forbidden(f"This API key may not call {method.upper()} {path}")
    return key


def forget_cached_keys() -> None:
    _cache.clear()


def _basic_credentials(authorization: str | None) -> tuple[str, str]:
    if not authorization or len(authorization) > MAX_HEADER:
        raise Unauthorized("Basic authentication with a deployment API key is required")
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized("Basic authentication with a deployment API key is required")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, ValueError) as exc:
        raise Unauthorized("The Authorization header is not valid Basic authentication") from exc
    key_id, sep, secret = decoded.partition(":")
    if not sep or not KEY_ID_PATTERN.match(key_id) or not secret:
        raise Unauthorized("Invalid API key or secret")
    return key_id, secret


def _lookup(key_id: str) -> ApiKey | None:
    ttl = get_settings().api_key_cache_seconds
    now = time.monotonic()
    cached = _cache.get(key_id)
    if cached is not None and ttl > 0 and now - cached[1] < ttl:
        return cached[0]
    key = _keys().find(key_id)
    if key is not None and key.active and ttl > 0:
        _cache[key_id] = (key, now)
    else:
        _cache.pop(key_id, None)
    return key
