"""Capture device pages, mounted at /consent/devices/ by the root URLconf (where the pages
always were). No namespace: the names ``devices`` and ``device_action`` are the ones they had."""

from django.urls import URLPattern, URLResolver, path, re_path

from capture import device_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", device_views.device_list, name="devices"),
    re_path(
        r"^(?P<pk>\d+)/(?P<action>rotate|revoke)/$",
        device_views.device_action,
        name="device_action",
    ),
]
