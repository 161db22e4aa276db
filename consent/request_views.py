"""Pages of consent collected online: staff send requests and follow the answers of a class;
the public, token-authenticated page where a guardian or student answers. Thin: parse, check,
call consent.online_consent."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from consent.actions import ConsentError
from consent.models import ALL_SCOPES, ConsentRecord, ConsentRequest, Decision, Scope
from consent.online_consent import (
    LinkUnusable,
    SendReport,
    answer_consent_request,
    link_context,
    open_consent_request,
    request_for_token,
    send_consent_requests,
    signer_statuses,
    student_may_decide,
)
from consent.rate_limits import over_limit
from consent.rules import SchoolContext
from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Classroom, Participant, Role, StaffMember
from wellbeing.web_access import staff_required

# Consent is managed by school admins only (as every page of consent.views).
admin_only = staff_required(Role.ADMIN)
RATE_WINDOW_SECONDS = 600


class StudentRequestForm(forms.Form):
    student_email = forms.EmailField(
        required=False,
        label="The student's e-mail address (optional)",
        help_text="The address on the student's record unless you give another; one given here "
        "is used for this request and its reminders only.",
    )


class AnswerForm(forms.Form):
    """One yes/no per scope, and the notice version the page showed."""

    notice_version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for scope in ALL_SCOPES:
            self.fields[scope] = forms.ChoiceField(
                label=Scope(scope).label,
                choices=[(Decision.GRANT, "Yes, I agree"), (Decision.REFUSE, "No, I do not agree")],
                widget=forms.RadioSelect,
            )

    def decisions(self) -> dict[str, str]:
        return {scope: self.cleaned_data[scope] for scope in ALL_SCOPES}


def _report(request: HttpRequest, report: SendReport) -> None:
    messages.success(request, f"{len(report.sent)} consent request(s) e-mailed.")
    if report.skipped:
        messages.warning(request, "Not asked: " + "; ".join(report.skipped))


@admin_only
def request_classes(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    classes = Classroom.objects.filter(organization=staff.organization).order_by("name")
    return render(request, "consent/request_classes.html", {"classes": classes})


@admin_only
def class_requests(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    """Who of the class was asked, and who answered what (25 students a page)."""
    classroom = get_object_or_404(Classroom, organization=staff.organization, pk=pk)
    students = classroom.participants.order_by("full_name").prefetch_related(
        "guardians",
        Prefetch("consent_requests", ConsentRequest.objects.live()),
        Prefetch("consent_records", ConsentRecord.objects.in_force()),
    )
    page = Paginator(students, 25).get_page(request.GET.get("page"))
    school, now = SchoolContext.load(staff.organization), timezone.now()
    rows = [
        (p, school.decide(p, p.consent_records.all(), ALL_SCOPES), signer_statuses(p, now))
        for p in page
    ]
    if page.object_list:  # the page names students and their guardians' answers
        pseudonyms = [p.pseudonym for p in page]
        ctx = AuditContext.from_request(request, staff)
        record_audit(ctx, "consent_request.class_view", target=classroom, pseudonyms=pseudonyms)
    context = {"classroom": classroom, "page": page, "rows": rows, "scopes": ALL_SCOPES}
    return render(request, "consent/class_requests.html", context)


@admin_only
@require_POST
def class_requests_send(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    classroom = get_object_or_404(Classroom, organization=staff.organization, pk=pk)
    students = classroom.participants.prefetch_related("guardians")
    try:
        report = send_consent_requests(
            AuditContext.from_request(request, staff), students, sent_by=staff
        )
        _report(request, report)
    except ConsentError as exc:
        messages.error(request, str(exc))
    return redirect("consent:class_requests", pk=pk)


@admin_only
def participant_request(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    """Ask one student's guardians (and the student, with an address, when old enough)."""
    participant = get_object_or_404(Participant.objects.visible_to(staff.user), pk=pk)
    form = StudentRequestForm(request.POST or None, initial={"student_email": participant.email})
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["student_email"]
        try:
            report = send_consent_requests(
                AuditContext.from_request(request, staff),
                [participant],
                sent_by=staff,
                student_emails={participant.pk: email} if email else None,
            )
            _report(request, report)
        except ConsentError as exc:
            messages.error(request, str(exc))
        return redirect("consent:participant_request", pk=pk)
    ctx = AuditContext.from_request(request, staff)
    record_audit(ctx, "consent_request.view", target=participant, participant=participant)
    school = SchoolContext.load(staff.organization)
    context = {
        "participant": participant,
        "form": form,
        "student_may_decide": student_may_decide(school, participant),
        "statuses": signer_statuses(participant, timezone.now()),
    }
    return render(request, "consent/participant_request.html", context)


def _over_rate(request: HttpRequest) -> bool:
    """A simple per-address limit on the public link pages (guessing tokens is hopeless, but
    this keeps anyone from trying at volume)."""
    key = f"consent-link-rate:{request.META.get('REMOTE_ADDR', '')}"
    return over_limit(key, settings.CONSENT_LINK_RATE_LIMIT, RATE_WINDOW_SECONDS)


@never_cache
def consent_answer(request: HttpRequest, token: str) -> HttpResponse:
    """Public: the link's holder reads the current notice and answers yes or no per scope."""
    if _over_rate(request):
        return render(request, "consent/answer_unusable.html", {"reason": "rate"}, status=429)
    try:
        consent_request = request_for_token(token)
    except LinkUnusable as exc:
        return _unusable(request, exc)
    ctx = link_context(
        consent_request, request.META.get("REMOTE_ADDR"), request.META.get("HTTP_USER_AGENT", "")
    )
    if request.method == "POST":
        return _answer(request, token, ctx, consent_request)
    try:
        notice = open_consent_request(ctx, consent_request)
    except LinkUnusable as exc:
        return _unusable(request, exc)
    form = AnswerForm(initial={"notice_version": notice.version})
    return _answer_page(request, consent_request, form)


def _unusable(request: HttpRequest, exc: LinkUnusable) -> HttpResponse:
    """A clear page for a link that cannot be used: 410, except for an answered link, whose
    page confirms the answer (a second click on the e-mail is no error)."""
    status = 200 if exc.reason == "answered" else 410
    context = {"reason": exc.reason, "message": str(exc)}
    return render(request, "consent/answer_unusable.html", context, status=status)


def _answer(
    request: HttpRequest, token: str, ctx: AuditContext, consent_request: ConsentRequest
) -> HttpResponse:
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            answered = answer_consent_request(
                ctx, token, form.decisions(), form.cleaned_data["notice_version"]
            )
        except LinkUnusable as exc:
            return _unusable(request, exc)
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            context = {"request": answered, "org": answered.participant.organization}
            return render(request, "consent/answer_done.html", context)
    return _answer_page(request, consent_request, form, status=400)


def _answer_page(
    request: HttpRequest, consent_request: ConsentRequest, form: AnswerForm, status: int = 200
) -> HttpResponse:
    org = consent_request.participant.organization
    school = SchoolContext.load(org)
    context = {
        "request": consent_request,
        "org": org,
        "notice": school.notice,
        "form": form,
        "rules": school.rules,
    }
    return render(request, "consent/answer.html", context, status=status)
