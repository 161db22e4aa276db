"""Face templates are encrypted at rest and unreadable without the key; keys rotate."""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import override_settings

from consent.models import FaceTemplate
from consent.template_crypto import TemplateKeyError, decrypt_embedding, encrypt_embedding
from wellbeing.models import Participant


def _store(student: Participant, vector: np.ndarray) -> FaceTemplate:
    return FaceTemplate.objects.create(
        participant=student, ciphertext=encrypt_embedding(vector), embedder="test"
    )


def test_round_trip_and_no_plaintext_in_the_database(student: Participant) -> None:
    # given a stored template
    vector = np.linspace(-1, 1, 128, dtype=np.float32)
    template = _store(student, vector)
    # then the row holds no recognisable float bytes, and decrypts back exactly
    stored = bytes(FaceTemplate.objects.get(pk=template.pk).ciphertext)
    assert vector.tobytes()[:16] not in stored
    np.testing.assert_array_equal(decrypt_embedding(stored), vector)


def test_unreadable_with_another_key(student: Participant) -> None:
    template = _store(student, np.ones(128, dtype=np.float32))
    with (
        override_settings(FACE_TEMPLATE_KEY=Fernet.generate_key().decode()),
        pytest.raises(TemplateKeyError, match="cannot be decrypted"),
    ):
        decrypt_embedding(template.ciphertext)


def test_missing_key_is_a_clear_error(student: Participant) -> None:
    with (
        override_settings(FACE_TEMPLATE_KEY=""),
        pytest.raises(TemplateKeyError, match="FACE_TEMPLATE_KEY is not set"),
    ):
        encrypt_embedding(np.ones(128, dtype=np.float32))


def test_rotate_template_key_reencrypts_everything(student: Participant, settings: object) -> None:
    # given templates under the old key
    from django.conf import settings as django_settings

    old_key = django_settings.FACE_TEMPLATE_KEY
    vectors = [np.full(128, i, dtype=np.float32) for i in range(3)]
    for v in vectors:
        _store(student, v)
    new_key = Fernet.generate_key().decode()
    # when rotated with the new key first and the old key kept for decryption
    with override_settings(FACE_TEMPLATE_KEY=f"{new_key},{old_key}"):
        call_command("rotate_template_key")
    # then the new key alone decrypts every template and the old key alone does not
    with override_settings(FACE_TEMPLATE_KEY=new_key):
        got = [decrypt_embedding(t.ciphertext) for t in FaceTemplate.objects.order_by("pk")]
    for want, have in zip(vectors, got, strict=True):
        np.testing.assert_array_equal(want, have)
    with override_settings(FACE_TEMPLATE_KEY=old_key), pytest.raises(TemplateKeyError):
        decrypt_embedding(FaceTemplate.objects.first().ciphertext)  # type: ignore[union-attr]
