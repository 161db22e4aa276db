from __future__ import annotations

from django.db import transaction

from consent.models import FaceTemplate
from consent.template_crypto import reencrypt, template_cipher


def reencrypt_all_templates(batch_size: int = 500) -> int:
    """Re-encrypt all templates with the primary key, in batches, each batch atomic.

    Raises TemplateKeyError (and changes nothing in that batch) if a template fits no key.
    """
    cipher = template_cipher()
    count, last_pk = 0, 0
    while True:
        with transaction.atomic():
            batch = list(
                FaceTemplate.objects.select_for_update()
                .filter(pk__gt=last_pk)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                return count
            for template in batch:
                template.ciphertext = reencrypt(template.ciphertext, cipher)
            FaceTemplate.objects.bulk_update(batch, ["ciphertext"])
        count += len(batch)
        last_pk = batch[-1].pk
