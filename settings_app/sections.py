"""Sections that apps above settings_app add to an owner's settings page, below the settings' form
(the webhooks' signing secret and deliveries). settings_app imports none of those apps: each
registers its section in its AppConfig.ready, as the apps that own jobs register their kinds."""

from django.contrib.auth.models import User
from django.http import HttpRequest


class SettingsPageSection:
    """One section of the settings page: `template_name` is included with `section`, what `context`
    returns, in its context. A POST naming `action` (its form's submit button) is the section's own:
    the page calls `act` for a person who may change the owner's settings, shows what it returns as a
    success message (a PlugTrackError as an error), and shows the page again."""

    template_name: str = ""
    action: str = ""

    def context(self, *, request: HttpRequest, owner: User) -> dict:
        return {}

    def act(self, *, request: HttpRequest, owner: User) -> str:
        raise NotImplementedError


SECTIONS: dict[str, SettingsPageSection] = {}


def settings_page_section_register(name: str, section: SettingsPageSection) -> None:
    """Add `section` to every owner's settings page (once, whatever number of times it is registered)."""
    SECTIONS[name] = section
