"""Secrets at rest: scrypt hashes for passwords and API keys; plain values only ever come from env or files.

Hash format: `scrypt$<log2 N>$<r>$<p>$<salt, base64>$<key, base64>`, made by `gateway hash-secret`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

_FORMAT = re.compile(r"scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]{16,})\$([A-Za-z0-9+/=]{32,})")
_LOG_N, _R, _P = 14, 8, 1


def hash_secret(secret: str, *, log_n: int = _LOG_N) -> str:
    salt = os.urandom(16)
    key = hashlib.scrypt(secret.encode(), salt=salt, n=2**log_n, r=_R, p=_P, dklen=32)
    return f"scrypt${log_n}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def is_secret_hash(text: str) -> bool:
    m = _FORMAT.fullmatch(text)
    return m is not None and 1 <= int(m.group(1)) <= 20 and int(m.group(2)) >= 1 and int(m.group(3)) >= 1


def verify_secret(secret: str, stored_hash: str) -> bool:
    m = _FORMAT.fullmatch(stored_hash)
    if not m:
        return False
    log_n, r, p = int(m.group(1)), int(m.group(2)), int(m.group(3))
    salt, expected = base64.b64decode(m.group(4)), base64.b64decode(m.group(5))
    key = hashlib.scrypt(
        secret.encode(), salt=salt, n=2**log_n, r=r, p=p, dklen=len(expected), maxmem=256 * 1024 * 1024
    )
    return hmac.compare_digest(key, expected)
