"""Deployment API keys: the credentials of the ThingDatas dialect (EMQX Fleets' scheme).

A key is an id (``ak_…``, public, sent in every request) and a secret shown once at creation. The
secret carries 192 bits of entropy, so a SHA-256 digest is a safe thing to store and a fast one to
check; digests are compared in constant time. Id and secret are short enough (52 characters with the
colon) that ``printf '%s:%s' id secret | base64`` stays on one line: GNU base64 wraps at 76 columns, and
Fleets' documented ``AUTH="Basic $(… | base64)"`` would otherwise put a line break in the header.

Permissions are HTTP methods plus path prefixes, as Fleets scopes them:
``{"method": "POST", "path": "/api/v1/thing-datas"}`` allows every ThingDatas POST.
A prefix matches whole path segments (``/api/v1/thing-datas`` does not match ``/api/v1/thing-datasets``).
An optional list of thing names narrows what the key may touch; Fleets has no such scoping.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from fleetgate.domain.devices import NAME_PATTERN
from fleetgate.errors import InvalidRequest

KEY_ID_PATTERN = re.compile(r"ak_[A-Za-z0-9_-]{16,64}\Z")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "*"})
PATH_PATTERN = re.compile(r"/[A-Za-z0-9._~{}/-]*\Z")
MAX_NAME = 128
MAX_PERMISSIONS = 32
MAX_THINGS = 1000
MAX_PATH = 256


@dataclass(frozen=True)
class Permission:
    method: str  # an HTTP method, or "*" for any
    path: str  # a path prefix, matched segment by segment

    def allows(self, method: str, path: str) -> bool:
        if self.method not in ("*", method.upper()):
            return False
        prefix = self.path.rstrip("/")
        return path == prefix or path.startswith(prefix + "/") or not prefix


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    secret_hash: str
    permissions: tuple[Permission, ...]
    thing_names: frozenset[str] | None  # None: every thing
    created_at: int  # epoch milliseconds
    revoked_at: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def verify(self, secret: str) -> bool:
        return self.active and hmac.compare_digest(hash_secret(secret), self.secret_hash)

    def allows(self, method: str, path: str) -> bool:
        return any(p.allows(method, path) for p in self.permissions)

    def may_touch(self, thing_name: str) -> bool:
        return self.thing_names is None or thing_name in self.thing_names


def new_api_key(
    name: str,
    permissions: list[tuple[str, str]],
    thing_names: list[str] | None,
    now_ms: int,
) -> tuple[ApiKey, str]:
    """A validated key and its plain secret (to be shown once)."""
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidRequest(f"name must be 1-{MAX_NAME} characters")
    if not 1 <= len(permissions) <= MAX_PERMISSIONS:
        raise InvalidRequest(f"permissions must list 1-{MAX_PERMISSIONS} entries")
    checked = []
    for method, path in permissions:
        if method.upper() not in METHODS:
            raise InvalidRequest(f"permission method must be one of {', '.join(sorted(METHODS))}")
        if len(path) > MAX_PATH or not PATH_PATTERN.match(path):
            raise InvalidRequest(f"permission path must be an absolute path of at most {MAX_PATH} characters")
        checked.append(Permission(method.upper(), path))
    things: frozenset[str] | None = None
    if thing_names is not None:
        if not 1 <= len(thing_names) <= MAX_THINGS:
            raise InvalidRequest(f"thingNames must list 1-{MAX_THINGS} names (omit it for every thing)")
        for thing in thing_names:
            if not NAME_PATTERN.match(thing):
                raise InvalidRequest(f"thingNames: {thing!r} is not a valid thing name")
        things = frozenset(thing_names)
    secret = secrets.token_urlsafe(24)
    key = ApiKey(
        id="ak_" + secrets.token_urlsafe(12),
        name=name,
        secret_hash=hash_secret(secret),
        permissions=tuple(checked),
        thing_names=things,
        created_at=now_ms,
    )
    return key, secret


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
