"""The face gallery of one session: templates of the participants who may be recognised NOW.

Consent is evaluated on every frame (consent.rules decides; a few small queries), so a withdrawal
stops attribution at the very next frame without any cache invalidation message. Only the
decryption of templates is cached, per worker process, keyed by template id: a destroyed
template is simply never listed again, a new enrollment is a new id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db.models import Prefetch

from capture.models import ClassSession
from consent.models import ConsentRecord, FaceTemplate, Scope
from consent.rules import participants_with_consent
from consent.template_crypto import decrypt_embedding, template_cipher
from inference.identity import Gallery
from wellbeing.models import Participant

REQUIRED_SCOPES = (Scope.EMOTION_ANALYSIS, Scope.FACE_TEMPLATE)
MAX_CACHED_TEMPLATES = 20_000

_cache_lock = threading.Lock()
# template id -> (participant id, decrypted embedding); never leaves this process.
_template_cache: dict[int, tuple[int, np.ndarray]] = {}


@dataclass(frozen=True)
class SessionGallery:
    gallery: Gallery
    participants: dict[str, Participant]  # gallery key (participant id as str) -> participant


def candidate_participants(session: ClassSession) -> list[Participant]:
    """The session's participants with their in-force consent records (two queries)."""
    if session.participant_id is not None:
        people = Participant.objects.filter(pk=session.participant_id)
    else:
        people = Participant.objects.filter(classrooms=session.classroom_id)
    records = Prefetch("consent_records", queryset=ConsentRecord.objects.in_force())
    return list(people.select_related("organization").prefetch_related(records))


def build_session_gallery(session: ClassSession) -> SessionGallery:
    """Gallery of consented participants (emotion_analysis AND face_template) of the session."""
    allowed = participants_with_consent(candidate_participants(session), REQUIRED_SCOPES)
    by_id = {p.pk: p for p in allowed}
    rows = list(
        FaceTemplate.objects.filter(participant_id__in=by_id).values_list("pk", "participant_id")
    )
    embeddings = cached_embeddings([pk for pk, _ in rows])
    templates: dict[str, list[np.ndarray]] = {}
    for pk, participant_id in rows:
        if pk in embeddings:  # a template destroyed since the listing is simply left out
            templates.setdefault(str(participant_id), []).append(embeddings[pk])
    people = {key: by_id[int(key)] for key in templates}
    return SessionGallery(Gallery.from_templates(templates), people)


def lock_consented(participant_ids: Iterable[int]) -> set[int]:
    """Lock the participants' rows and return those consented at this moment.

    Called inside the transaction that stores a frame. The consent actions lock the same rows,
    so a withdrawal (or erasure) either committed before this check, and the frame stores
    nothing of the person, or waits until the frame is stored and then deletes it with the rest
    of their data: no observation is ever stored after a withdrawal, even from a frame that was
    being analysed while it happened. Rows are locked in primary-key order (no deadlocks).
    """
    ids = sorted(set(participant_ids))
    if not ids:
        return set()
    locked = Participant.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    present = list(locked.values_list("pk", flat=True))
    records = Prefetch("consent_records", queryset=ConsentRecord.objects.in_force())
    people = (
        Participant.objects.filter(pk__in=present)
        .select_related("organization")
        .prefetch_related(records)
    )
    return {p.pk for p in participants_with_consent(people, REQUIRED_SCOPES)}


def cached_embeddings(template_ids: list[int]) -> dict[int, np.ndarray]:
    """Decrypted embeddings by template id, decrypting (one query) only those not cached."""
    with _cache_lock:
        missing = [pk for pk in template_ids if pk not in _template_cache]
    if missing:
        cipher = template_cipher()
        loaded = {
            pk: (participant_id, decrypt_embedding(ciphertext, cipher))
            for pk, participant_id, ciphertext in FaceTemplate.objects.filter(
                pk__in=missing
            ).values_list("pk", "participant_id", "ciphertext")
        }
        with _cache_lock:
            if len(_template_cache) + len(loaded) > MAX_CACHED_TEMPLATES:
                _template_cache.clear()
            _template_cache.update(loaded)
    with _cache_lock:
        return {pk: _template_cache[pk][1] for pk in template_ids if pk in _template_cache}


def forget_participant_templates(participant_id: int) -> None:
    """Drop a participant's decrypted templates from this process's cache."""
    with _cache_lock:
        for pk in [k for k, (pid, _) in _template_cache.items() if pid == participant_id]:
            del _template_cache[pk]
