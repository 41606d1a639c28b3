"""Slack bot tokens at rest: sealed with Fernet when QBSYNC_SECRET_KEY is set.

Fernet (the `cryptography` package: AES-128-CBC with an HMAC-SHA256, key = 32 url-safe base64
bytes from `Fernet.generate_key()`, https://cryptography.io/en/latest/fernet/) means someone with
a copy of the database but not the key cannot use the tokens. A sealed value starts with
`fernet:`; a value without it was stored before a key was set and is read as it is (it is sealed
the next time the workspace installs). Without a key tokens are stored as they are: protect the
database (README, "Tokens at rest").
"""
from __future__ import annotations

import logging

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)

PREFIX = "fernet:"


def check_key(value: str) -> str:
    """For bot/config.py: raises ValueError unless `value` is a Fernet key."""
    Fernet(value.encode("ascii"))
    return value


class TokenCipher:
    def __init__(self, key: str | None = None):
        self._fernet = Fernet(key.encode("ascii")) if key else None

    def seal(self, token: str) -> str:
        if self._fernet is None:
            return token
        return PREFIX + self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str | None:
        """The token, or None when it cannot be read (no key, or another key)."""
        if not stored.startswith(PREFIX):
            return stored
        if self._fernet is None:
            log.error("a Slack token in the database is encrypted and QBSYNC_SECRET_KEY is not set")
            return None
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except InvalidToken:
            log.error("a Slack token in the database does not open with QBSYNC_SECRET_KEY (another key?)")
            return None
