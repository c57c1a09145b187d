"""Salted slow hashes for secrets a person or a device chooses (claiming secrets, MQTT passwords).

Random secrets we generate (access tokens, provision secrets) carry enough entropy for a plain SHA-256;
chosen ones may be short, so they get scrypt (standard library) with a random salt, and are compared
in constant time. Encoded as ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64url), so parameters can
grow later without breaking stored hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # about 16 MiB and 60 ms on one modern core
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=KEY_BYTES)


def hash_secret(secret: str) -> str:
    """A new salted scrypt hash of ``secret``."""
    salt = secrets.token_bytes(SALT_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(_derive(secret, salt, N, R, P))}"


def verify_secret(secret: str, encoded: str) -> bool:
    """Whether ``secret`` is the one ``encoded`` was made from (constant-time comparison). A malformed
    hash never matches."""
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != SCHEME:
            return False
        derived = _derive(secret, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, _unb64(expected))
    except (ValueError, TypeError):
        return False
