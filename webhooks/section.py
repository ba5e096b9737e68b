"""The webhooks' part of an owner's settings page (settings_app/sections.py): the signing secret
(shown once, to the owner), a new one on request, and the last deliveries with how each went."""

from django.contrib.auth.models import User
from django.http import HttpRequest

from plugtrack_site.errors import PlugTrackError
from settings_app.models import Setting

from .models import SigningSecret
from .services import URL_KEY, deliveries_recent, signing_secret_new, signing_secret_reveal

SHOWN_DELIVERIES = 20


class WebhooksSection:
    template_name = "admin/webhooks/settings_section.html"
    action = "webhooks_new_secret"

    def context(self, *, request: HttpRequest, owner: User) -> dict:
        own_page = request.user.pk == owner.pk  # the secret is shown to its owner only, never to an administrator
        return {
            "url_set": Setting.objects.filter(user=owner, key=URL_KEY).exclude(value="").exists(),
            "signing_secret": SigningSecret.objects.filter(user=owner).first(),
            "revealed": signing_secret_reveal(user=owner) if own_page else None,
            "own_page": own_page,
            "deliveries": deliveries_recent(user=owner, count=SHOWN_DELIVERIES),
            "shown": SHOWN_DELIVERIES,
        }

    def act(self, *, request: HttpRequest, owner: User) -> str:
        if request.user.pk != owner.pk:
            raise PlugTrackError(f"Only {owner} can make their signing secret: it is shown once, to them.")
        signing_secret_new(user=owner)
        return (
            "A new signing secret was made: copy it from below now, it is shown this once. Deliveries are signed "
            "with it from now on (those waiting for a retry too); the old one no longer verifies."
        )
