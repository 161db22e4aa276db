"""Staff-management pages for school admins, and the set-password page invitations link to.

Thin: parse, look the member up through ``StaffMember.objects.visible_to`` (another school's
member is a 404), call wellbeing.staff_management, say what happened.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from wellbeing.actions import AuditContext, record_audit
from wellbeing.models import Role, StaffMember
from wellbeing.staff_forms import HandoverForm, RoleForm, StaffInviteForm
from wellbeing.staff_management import (
    StaffRefused,
    change_staff_role,
    deactivate_staff,
    display_name,
    invite_staff,
    reactivate_staff,
    send_invitation,
)
from wellbeing.web_access import staff_required

admin_only = staff_required(Role.ADMIN)
PAGE_SIZE = 25


def _member(staff: StaffMember, pk: int) -> StaffMember:
    members = StaffMember.objects.visible_to(staff.user).select_related("user")
    return get_object_or_404(members.annotate(caseload_count=Count("caseload")), pk=pk)


@admin_only
def staff_list(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    members = (
        StaffMember.objects.visible_to(staff.user)
        .select_related("user")
        .order_by("-user__is_active", "user__first_name", "user__username")
    )
    if query:
        members = members.filter(
            Q(user__first_name__icontains=query) | Q(user__email__icontains=query)
        )
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "wellbeing/staff_list.html", {"page": page, "q": query})


@admin_only
def staff_create(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    form = StaffInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member, sent = invite_staff(
                AuditContext.from_request(request, staff), **form.cleaned_data
            )
        except StaffRefused as exc:
            form.add_error(None, str(exc))
        else:
            _say_invited(request, member, sent)
            return redirect("staff_detail", pk=member.pk)
    return render(request, "wellbeing/staff_form.html", {"form": form})


def _say_invited(request: HttpRequest, member: StaffMember, sent: bool) -> None:
    if sent:
        messages.success(
            request, f"Invitation with a set-password link sent to {member.user.email}."
        )
    else:
        messages.error(
            request, f"The invitation e-mail to {member.user.email} could not be sent; retry below."
        )


def _render_detail(
    request: HttpRequest, member: StaffMember, status: int = 200, **forms: Any
) -> HttpResponse:
    context = {
        "member": member,
        "role_form": forms.get("role_form")
        or RoleForm(member=member, initial={"role": member.role}),
        "deactivate_form": forms.get("deactivate_form") or HandoverForm(member=member),
        "classrooms": member.classrooms.order_by("name") if member.role == Role.TEACHER else [],
    }
    return render(request, "wellbeing/staff_detail.html", context, status=status)


@admin_only
def staff_detail(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    return _render_detail(request, _member(staff, pk))


@admin_only
@require_POST
def staff_role(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    member = _member(staff, pk)
    form = RoleForm(request.POST, member=member)
    if form.is_valid():
        role, handover = form.cleaned_data["role"], form.handover()
        try:
            change_staff_role(AuditContext.from_request(request, staff), member, role, handover)
        except StaffRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{display_name(member)} is now {Role(role).label}.")
            return redirect("staff_detail", pk=member.pk)
    return _render_detail(request, member, status=400, role_form=form)


@admin_only
@require_POST
def staff_deactivate(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    member = _member(staff, pk)
    form = HandoverForm(request.POST, member=member)
    if form.is_valid():
        try:
            deactivate_staff(AuditContext.from_request(request, staff), member, form.handover())
        except StaffRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{display_name(member)} can no longer sign in.")
            return redirect("staff_detail", pk=member.pk)
    return _render_detail(request, member, status=400, deactivate_form=form)


@admin_only
@require_POST
def staff_reactivate(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    member = _member(staff, pk)
    try:
        reactivate_staff(AuditContext.from_request(request, staff), member)
    except StaffRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{display_name(member)} can sign in again.")
    return redirect("staff_detail", pk=member.pk)


@admin_only
@require_POST
def staff_invite(request: HttpRequest, staff: StaffMember, pk: int) -> HttpResponse:
    """Send the invitation again (a new link; for members who have not chosen a password)."""
    member = _member(staff, pk)
    try:
        sent = send_invitation(AuditContext.from_request(request, staff), member)
    except StaffRefused as exc:
        messages.error(request, str(exc))
    else:
        _say_invited(request, member, sent)
    return redirect("staff_detail", pk=member.pk)


class SetPasswordView(PasswordResetConfirmView):
    """The invitation link: the invited member chooses a password, then signs in.

    Django's reset token: it stops working once the password is set (the hash changes) or after
    PASSWORD_RESET_TIMEOUT seconds.
    """

    template_name = "wellbeing/set_password.html"
    success_url = reverse_lazy("login")

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        member = (
            StaffMember.objects.select_related("organization", "user")
            .filter(user=form.user)
            .first()
        )
        if member is not None:  # not signed in yet: the member, not request.user, is the actor
            ctx = AuditContext.from_request(self.request, member)
            record_audit(ctx, "staff.password_set", target=member)
        messages.success(self.request, "Your password is set. Sign in with your e-mail address.")
        return response
