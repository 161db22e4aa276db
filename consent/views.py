"""Admin pages for participants, consent, notices, enrollment. Thin: parse, check, act."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.forms import HiddenInput, model_to_dict
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from consent.actions import (
    ConsentError,
    EnrollmentError,
    record_consent,
    withdraw_consent,
)
from consent.actions import enroll_face as enroll_face_action
from consent.forms import (
    ConsentRecordForm,
    EnrollmentForm,
    GuardianForm,
    NoticeForm,
    ParticipantAgeForm,
    ParticipantForm,
    StudentEmailForm,
    WithdrawForm,
)
from consent.models import ALL_SCOPES, ConsentNotice, ConsentRecord
from consent.notice_publication import PublicationNotConfirmed, publish_confirmed_notice
from consent.rules import SchoolContext, consent_state, subject_of
from consent.template_crypto import TemplateKeyError
from wellbeing.actions import (
    AGE_FIELDS,
    AuditContext,
    add_guardian,
    create_participant,
    record_audit,
    update_participant,
)
from wellbeing.models import Participant, Role, StaffMember
from wellbeing.web_access import staff_required

admin_only = staff_required(Role.ADMIN)


def _participant(staff: StaffMember, pk: int) -> Participant:
    # 404 (not 403) for other schools' ids, so their existence is not revealed.
    return get_object_or_404(Participant.objects.visible_to(staff.user), pk=pk)


@admin_only
def participant_list(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    participants = (
        Participant.objects.visible_to(staff.user)
        .annotate(templates=Count("face_templates"))
        .prefetch_related(Prefetch("consent_records", ConsentRecord.objects.in_force()))
        .order_by("full_name")
    )
    if query:
        participants = participants.filter(Q(full_name__icontains=query) | Q(pseudonym=query))
    page = Paginator(participants, 25).get_page(request.GET.get("page"))
    school = SchoolContext.load(staff.organization)
    notice = school.notice
    rows = [(p, school.decide(p, p.consent_records.all(), ALL_SCOPES)) for p in page]
    if page.object_list:
        pseudonyms = [p.pseudonym for p in page]
        ctx = AuditContext.from_request(request, staff)
        record_audit(ctx, "participant.list", page=page.number, q=query, pseudonyms=pseudonyms)
    context = {"page": page, "rows": rows, "q": query, "notice": notice, "scopes": ALL_SCOPES}
    return render(request, "consent/participant_list.html", context)


@admin_only
def participant_create(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    form = ParticipantForm(request.POST or None, staff=staff)
    if request.method == "POST" and form.is_valid():
        age = form.age()
        participant = create_participant(
            AuditContext.from_request(request, staff),
            form.cleaned_data["full_name"],
            grade=form.cleaned_data["grade"],
            classrooms=list(form.cleaned_data["classrooms"]),
            date_of_birth=age.date_of_birth,
            birth_year=age.birth_year,
            age_band=age.age_band,
            email=form.cleaned_data["email"],
        )
        messages.success(request, f"{participant.full_name} added as {participant.pseudonym}.")
        return redirect("consent:participant", pk=participant.pk)
    return render(request, "consent/participant_form.html", {"form": form})


@admin_only
def participant_detail(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    participant = _participant(staff, pk)
    record_audit(
        AuditContext.from_request(request, staff),
        "participant.view",
        target=participant,
        participant=participant,
    )
    context = {
        "participant": participant,
        "state": consent_state(participant, ALL_SCOPES),
        "age": subject_of(participant),
        "age_form": ParticipantAgeForm(
            initial=model_to_dict(participant, fields=list(AGE_FIELDS)),
            today=staff.organization.local_today(),
        ),
        "records": participant.consent_records.select_related("notice", "guardian"),
        "templates": participant.face_templates.count(),
        "guardians": participant.guardians.all(),
        "consent_form": ConsentRecordForm(participant=participant),
        "guardian_form": GuardianForm(),
        "email_form": StudentEmailForm(initial={"email": participant.email}),
        "enroll_form": EnrollmentForm(),
        "notice": ConsentNotice.objects.current_for(staff.organization),
    }
    return render(request, "consent/participant_detail.html", context)


@admin_only
@require_POST
def guardian_add(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    participant = _participant(staff, pk)
    form = GuardianForm(request.POST)
    if form.is_valid():
        add_guardian(AuditContext.from_request(request, staff), participant, **form.cleaned_data)
        messages.success(request, "Guardian added.")
    else:
        messages.error(request, f"Guardian not added: {form.errors.as_text()}")
    return redirect("consent:participant", pk=pk)


@admin_only
@require_POST
def participant_email(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    participant = _participant(staff, pk)
    form = StudentEmailForm(request.POST)
    if form.is_valid():
        ctx = AuditContext.from_request(request, staff)
        update_participant(ctx, participant, email=form.cleaned_data["email"].strip())
        messages.success(request, "The student's e-mail address is saved.")
    else:
        messages.error(request, f"Not saved: {form.errors.as_text()}")
    return redirect("consent:participant", pk=pk)


@admin_only
@require_POST
def consent_record(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    participant = _participant(staff, pk)
    form = ConsentRecordForm(request.POST, participant=participant)
    if not form.is_valid():
        messages.error(request, f"Nothing recorded: {form.errors.as_text()}")
        return redirect("consent:participant", pk=pk)
    try:
        record_consent(
            AuditContext.from_request(request, staff),
            participant,
            recorded_by=staff,
            **form.cleaned_data,
        )
        messages.success(request, "Decision recorded; it applies from now on.")
    except ConsentError as exc:
        messages.error(request, str(exc))
    return redirect("consent:participant", pk=pk)


@admin_only
@require_POST
def consent_withdraw(request: HttpRequest, staff: StaffMember, record_pk: int) -> HttpResponse:
    record = get_object_or_404(
        ConsentRecord.objects.filter(participant__organization=staff.organization), pk=record_pk
    )
    form = WithdrawForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        withdraw_consent(AuditContext.from_request(request, staff), record, by=staff, note=note)
        messages.success(request, "Withdrawn. Processing stopped; templates were destroyed.")
    except ConsentError as exc:
        messages.error(request, str(exc))
    return redirect("consent:participant", pk=record.participant_id)


@admin_only
@require_POST
def enroll_face(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    participant = _participant(staff, pk)
    form = EnrollmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, f"Nothing enrolled: {form.errors.as_text()}")
        return redirect("consent:participant", pk=pk)
    try:
        templates = enroll_face_action(
            AuditContext.from_request(request, staff),
            participant,
            form.cleaned_data["photos"],
        )
        messages.success(request, f"Enrolled {len(templates)} template(s); photos discarded.")
    except (EnrollmentError, TemplateKeyError) as exc:
        messages.error(request, str(exc))
    return redirect("consent:participant", pk=pk)


@admin_only
def consent_form_print(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    participant = _participant(staff, pk)
    notice = ConsentNotice.objects.current_for(staff.organization)
    record_audit(
        AuditContext.from_request(request, staff), "consent.print_form", participant=participant
    )
    context = {
        "participant": participant,
        "notice": notice,
        "org": staff.organization,
        "scopes": ALL_SCOPES,
    }
    return render(request, "consent/consent_form_print.html", context)


@admin_only
def notice_list(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    """Notice versions, and publishing the next one in two steps: review the consequences, then
    confirm. The confirmation carries the number of lapsing consents the admin saw; if that
    changed meanwhile, the review is shown again instead of publishing."""
    form = NoticeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            notice, effects = publish_confirmed_notice(
                AuditContext.from_request(request, staff),
                data["title"],
                data["text"],
                confirm=data["confirm"],
                reviewed_lapses=data["reviewed_lapses"],
            )
        except PublicationNotConfirmed as refused:
            return _review_publication(request, data, refused)
        messages.success(request, f"Published {notice}. {effects.summary()}")
        return redirect("consent:notices")
    notices = ConsentNotice.objects.filter(organization=staff.organization).order_by("-version")
    return render(request, "consent/notice_list.html", {"form": form, "notices": notices})


def _review_publication(
    request: HttpRequest, data: dict[str, Any], refused: PublicationNotConfirmed
) -> HttpResponse:
    """The review step: the consequences as they are now, and a form confirming exactly them."""
    effects = refused.effects
    review = NoticeForm(
        initial={**data, "confirm": True, "reviewed_lapses": effects.consents_lapsing}
    )
    for name in ("title", "text"):
        review.fields[name].widget = HiddenInput()
    context = {"form": review, "effects": effects, "changed": refused.stale}
    return render(request, "consent/notice_confirm.html", context)
