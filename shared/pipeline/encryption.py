"""Fernet tokens: the model endpoints and keys, as they rest in the database and in the
pipeline definitions kept in Blob Storage, under NACHET_BLOB_PIPELINE_DECRYPTION_KEY."""

from __future__ import annotations

import base64
import re

TOKEN_TEXT = re.compile(r"^[A-Za-z0-9_-]+=*$")  # url-safe base64: how a token is written
# version byte, timestamp (8), IV (16), ciphertext (a positive multiple of 16), HMAC (32)
_TOKEN_OVERHEAD = 1 + 8 + 16 + 32
_TOKEN_VERSION = 0x80
# How an operator makes a key, for the messages that ask for one.
MAKE_KEY = ('python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"')


class TokenError(ValueError):
    """A token that does not decrypt; the message never quotes the token nor the key."""


def encrypt(text: str, key: str) -> str:
    """The Fernet token of `text` under the Fernet `key`. Raises ValueError when `key`
    is not a Fernet key."""
    from cryptography.fernet import Fernet

    return Fernet(key).encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str, key: str) -> str:
    """The text that the Fernet `token` holds, decrypted with the Fernet `key`.

    Raises TokenError when `token` is not a Fernet token, was encrypted under another
    key (or altered), or does not hold UTF-8 text; ValueError when `key` is not a Fernet key.
    """
    from cryptography.fernet import Fernet, InvalidToken

    if not _is_token(token):
        raise TokenError("is not a Fernet token")
    try:
        clear = Fernet(key).decrypt(token.encode("ascii"))
    except InvalidToken:
        raise TokenError("does not decrypt with NACHET_BLOB_PIPELINE_DECRYPTION_KEY: it was "
                         "encrypted under another key, or altered") from None
    try:
        return clear.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenError("decrypts to something that is not text") from None


def _is_token(token: str) -> bool:
    # Fernet answers InvalidToken both to a wrong key and to text that is no token at all;
    # its layout tells the two apart, so that an operator is told which one to fix.
    if not TOKEN_TEXT.match(token):
        return False
    try:
        raw = base64.urlsafe_b64decode(token)
    except ValueError:
        return False
    ciphertext = len(raw) - _TOKEN_OVERHEAD
    return raw[:1] == bytes([_TOKEN_VERSION]) and ciphertext >= 16 and ciphertext % 16 == 0
