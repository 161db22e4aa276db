"""Django admin (the operator's tool) for models that hold a participant's data.

The operator reads participant data here across schools, so every read is audited like a read
through the pages or the API: an object's page writes ``participant.view`` naming the person,
a list page one ``participant.list`` per school naming the pseudonyms shown. Nothing can be
added, changed or deleted here: each change of such data has effects and an audit trail that
only the actions bring about (consent.actions, privacy.subject_rights, the API), and a delete
here would be an unrecorded erasure.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db import models
from django.http import HttpRequest, HttpResponse

from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Participant


def _foreign_keys(model: type[models.Model]) -> list[models.ForeignKey[Any, Any]]:
    return [f for f in model._meta.concrete_fields if isinstance(f, models.ForeignKey)]


def refers_to_participant(model: type[models.Model]) -> bool:
    """A participant, a row pointing at one, or a row pointing at such a row (an e-mail of an
    alert, a frame of a personal session): the models whose admin must be audited."""
    if issubclass(model, Participant):
        return True
    targets = [f.related_model for f in _foreign_keys(model)]
    return Participant in targets or any(
        Participant in [g.related_model for g in _foreign_keys(target)]
        for target in targets
        if isinstance(target, type) and target is not model
    )


def participant_of(obj: models.Model) -> Participant | None:
    """The participant whose data ``obj`` is (directly or one link away), or None."""
    if isinstance(obj, Participant):
        return obj
    fields = _foreign_keys(type(obj))
    for field in fields:
        if field.related_model is Participant and getattr(obj, field.attname) is not None:
            direct: Participant = getattr(obj, field.name)
            return direct
    for field in fields:
        target = getattr(obj, field.name) if getattr(obj, field.attname) is not None else None
        if target is not None and not isinstance(target, type(obj)):
            found: Participant | None = next(
                (
                    getattr(target, g.name)
                    for g in _foreign_keys(type(target))
                    if g.related_model is Participant and getattr(target, g.attname) is not None
                ),
                None,
            )
            if found is not None:
                return found
    return None


class AuditedParticipantDataAdmin(admin.ModelAdmin[Any]):
    """View-only, and every page that shows a participant's data is audited."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = self.get_object(request, unquote(object_id))
        person = participant_of(obj) if obj is not None else None
        if response.status_code == 200 and person is not None:
            record_audit(
                AuditContext.operator(request, person.organization),
                "participant.view",
                target=obj,
                participant=person,
                section=f"django admin: {self.model._meta.model_name}",
            )
        return response

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if response.status_code == 200 and changelist is not None:
            self._audit_list(request, list(changelist.result_list))
        return response

    def _audit_list(self, request: HttpRequest, shown: list[models.Model]) -> None:
        by_school: dict[int, list[Participant]] = defaultdict(list)
        for obj in shown:
            person = participant_of(obj)
            if person is not None:
                by_school[person.organization_id].append(person)
        for people in by_school.values():
            record_audit(
                AuditContext.operator(request, people[0].organization),
                "participant.list",
                pseudonyms=sorted({p.pseudonym for p in people}),
                search=request.GET.get("q", ""),
                section=f"django admin: {self.model._meta.model_name}",
            )
