"""The family portal's chart page (dashboard.portal_charts), under /portal/ beside consent's
and privacy's portal pages and with the same portal session: consent may not import dashboard,
so the page is dashboard's and consent's student page links to it. Thin: the session and the
student are checked by consent.portal_views, the school's switch by portal_charts_shown."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from consent.portal import PortalIdentity, portal_organization
from consent.portal_views import person_context, person_of, portal_required
from dashboard.portal_charts import load_portal_charts, portal_charts_shown
from inference.model_manifest import CANONICAL_CLASSES


@portal_required
def charts(request: HttpRequest, identity: PortalIdentity, pk: int) -> HttpResponse:
    """The student's daily expression shares, with the caveat; 404 where the school does not
    show them (as for a student the holder may not see)."""
    if not portal_charts_shown(portal_organization(identity)):
        raise Http404("No such page.")
    who = person_of(request, identity, pk)
    found = load_portal_charts(person_context(request, who), who.participant)
    context = {
        "org": who.participant.organization,
        "identity": identity,
        "person": who,
        "charts": found,
        "chart_data": found.chart_payload(),
        "emotions": CANONICAL_CLASSES,
    }
    return render(request, "dashboard/portal_charts.html", context)
