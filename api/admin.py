from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from plugtrack_site.admin_scoping import OwnedModelAdmin
from plugtrack_site.errors import PlugTrackError

from .forms import ApiTokenCreateForm
from .models import ApiToken
from .services import api_token_create, api_tokens_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(OwnedModelAdmin):
    """An owner's API tokens: made here (password entered again; the token shown once, on the page that
    follows), looked at, revoked. A token's secret is never shown again, nor can a token be changed."""

    list_display = ["name", "id_part", "scopes_said", "cars_said", "expires_at", "last_used_at", "last_used_from",
                    "state"]  # fmt: skip
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    fields = ["name", "id_part", "scopes_said", "cars_said", "created_at", "expires_at", "last_used_at",
              "last_used_from", "revoked_at"]  # fmt: skip
    readonly_fields = fields

    def has_change_permission(self, request, obj=None):
        return False  # revoke it and make another: what a program was given cannot change behind its back

    @admin.display(description="token")
    def id_part(self, token):
        return format_html("<code>{}…</code>", token.public_part)

    @admin.display(description="scopes")
    def scopes_said(self, token):
        return ", ".join(token.scopes)

    @admin.display(description="cars")
    def cars_said(self, token):
        return ", ".join(str(car) for car in token.cars.all()) or "all"

    @admin.display(description="state")
    def state(self, token):
        return token.state()

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("cars")

    @admin.action(description="Revoke the selected API tokens", permissions=["delete"])
    def revoke(self, request, queryset):
        count = api_tokens_revoke(tokens=queryset)
        self.message_user(request, f"Revoked {count} token(s): from now on they are refused.", messages.SUCCESS)

    def add_view(self, request, form_url="", extra_context=None):
        """The token is made for the logged-in owner and shown on the answer to this form only: it is
        never stored, so it cannot be shown again (a reload offers the form anew)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiTokenCreateForm(request.POST or None, request=request)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": "Make an API token"}
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                new = api_token_create(
                    user=request.user, name=data["name"], scopes=data["scopes"],
                    car_ids=[car.pk for car in data["cars"]], expires_days=data["expires_days"],
                )  # fmt: skip
            except PlugTrackError as error:
                form.add_error(None, str(error))
            else:
                self.log_addition(request, new.token, [{"added": {}}])
                context |= {"title": "Your new API token", "token": new.token, "secret": new.secret,
                            "base_url": request.build_absolute_uri("/api/v1")}  # fmt: skip
                response = TemplateResponse(request, "admin/api/apitoken/created.html", context)
                add_never_cache_headers(response)
                return response
        context |= {"form": form, "submit": "Make the token"}
        return TemplateResponse(request, "admin/api/apitoken/create.html", context)
