"""Encryption of face templates at rest with Fernet (AES-128-CBC + HMAC-SHA256).

FACE_TEMPLATE_KEY holds one or more comma-separated Fernet keys: the first encrypts, all of
them decrypt, so a key can be rotated without downtime (`manage.py rotate_template_key`).
"""

from __future__ import annotations

import numpy as np
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from wellbeing.refusals import NotConfigured

EMBEDDING_DTYPE = np.float32


class TemplateKeyError(NotConfigured):
    """No usable FACE_TEMPLATE_KEY is configured, or a template cannot be decrypted with it."""


def _keys(raw: str | None = None) -> list[str]:
    value = settings.FACE_TEMPLATE_KEY if raw is None else raw
    return [key.strip() for key in value.split(",") if key.strip()]


def template_cipher(raw_keys: str | None = None) -> MultiFernet:
    keys = _keys(raw_keys)
    if not keys:
        raise TemplateKeyError(
            "FACE_TEMPLATE_KEY is not set; generate one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())'`"
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise TemplateKeyError(f"FACE_TEMPLATE_KEY is not a valid Fernet key: {exc}") from exc


def encrypt_embedding(embedding: np.ndarray, cipher: MultiFernet | None = None) -> bytes:
    vector = np.ascontiguousarray(embedding, dtype=EMBEDDING_DTYPE).reshape(-1)
    return (cipher or template_cipher()).encrypt(vector.tobytes())


def decrypt_embedding(
    ciphertext: bytes | memoryview, cipher: MultiFernet | None = None
) -> np.ndarray:
    try:
        raw = (cipher or template_cipher()).decrypt(bytes(ciphertext))
    except InvalidToken as exc:
        raise TemplateKeyError(
            "A face template cannot be decrypted with the configured key"
        ) from exc
    return np.frombuffer(raw, dtype=EMBEDDING_DTYPE).copy()


def reencrypt(ciphertext: bytes | memoryview, cipher: MultiFernet) -> bytes:
    """Re-encrypt with the first (newest) key; raises TemplateKeyError if no key fits."""
    try:
        return cipher.rotate(bytes(ciphertext))
    except InvalidToken as exc:
        raise TemplateKeyError(
            "A face template cannot be decrypted with any configured key"
        ) from exc
