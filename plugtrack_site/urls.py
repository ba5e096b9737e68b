from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from .health import healthz

admin.site.site_header = "PlugTrack"
admin.site.site_title = "PlugTrack"
admin.site.index_title = "Your charging, costs and settings"
admin.site.site_url = None  # no "View site": the admin is the whole site ("/" leads back to it)
# The sidebar takes a third of a laptop screen from the analytics columns; the breadcrumbs suffice.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("api.urls")),  # the HTTP API (docs/api.md), the top layer: named, not imported
]
