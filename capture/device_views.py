"""Capture device pages for school admins: register a device (its token is shown once), rotate
its token, revoke it. Thin: parse, look the device up through
``CaptureDevice.objects.visible_to`` (another school's device is a 404), call capture.devices.

Mounted at /consent/devices/ by the root URLconf (capture.device_urls; where the pages always
were).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from capture.device_forms import DeviceForm
from capture.devices import DeviceRefused, create_device, revoke_device, rotate_device_token
from capture.models import CaptureDevice
from wellbeing.actions import AuditContext
from wellbeing.models import Role, StaffMember
from wellbeing.web_access import staff_required

admin_only = staff_required(Role.ADMIN)


@admin_only
def device_list(request: HttpRequest, staff: StaffMember) -> HttpResponse:
    form = DeviceForm(request.POST or None, staff=staff)
    new_token = None
    if request.method == "POST" and form.is_valid():
        device, new_token = create_device(
            AuditContext.from_request(request, staff),
            form.cleaned_data["name"],
            classroom=form.cleaned_data["classroom"],
            participant=form.cleaned_data["participant"],
        )
        messages.success(request, f"Device {device.name} registered. Copy its token now.")
        form = DeviceForm(staff=staff)
    devices = CaptureDevice.objects.visible_to(staff.user).select_related(
        "classroom", "participant"
    )
    page = Paginator(devices.order_by("-created_at"), 25).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "new_token": new_token}
    return render(request, "capture/device_list.html", context)


@admin_only
@require_POST
def device_action(request: HttpRequest, staff: StaffMember, pk: int, action: str) -> HttpResponse:
    device = get_object_or_404(CaptureDevice.objects.visible_to(staff.user), pk=pk)
    ctx = AuditContext.from_request(request, staff)
    try:
        if action == "rotate":
            token = rotate_device_token(ctx, device)
            messages.success(request, f"New token for {device.name}: {token} (shown once).")
        else:
            revoke_device(ctx, device)
            messages.success(request, f"{device.name} revoked; its token no longer works.")
    except DeviceRefused as exc:
        messages.error(request, str(exc))
    return redirect("devices")
