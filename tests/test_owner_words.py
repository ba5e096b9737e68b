"""People's words everywhere a person looks: every page an owner can reach (tests/owner_pages.py walks the
admin for them), in an account with one of everything, is read as a person reads it (its text and the
attributes a browser shows, not its markup) and must hold none of a developer's words: a model field's
name, an id, a schema number, a command or its options, an ISO timestamp, raw JSON, money without its
thousands separators, a time as "5:11 p.m."."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from plugtrack_site.accounts import OWNED_APPS
from sessions_app.models import ChargingSession, ImportBatch
from settings_app.registry import SETTINGS

from .owner_pages import FORM_PAGES, owner_account_seed, owner_pages

# Attributes a browser shows: a tooltip, a placeholder, an image's text, a button's label, a field's value.
_SHOWN_ATTRIBUTES = {"title", "placeholder", "alt", "aria-label"}
_SHOWN_VALUES = {"submit", "button", "reset", "text", "number", "email", "url", "search", "date", "time", ""}
_NOT_SHOWN = {"script", "style", "template"}


class _ShownText(HTMLParser):
    """The text a person sees on a page: text nodes (not scripts or styles) and the shown attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in _NOT_SHOWN:
            self._hidden += 1
        attributes = dict(attrs)
        self.texts += [value for name, value in attrs if name in _SHOWN_ATTRIBUTES and value]
        if tag == "input" and (attributes.get("type") or "").lower() in _SHOWN_VALUES and attributes.get("value"):
            self.texts.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in _NOT_SHOWN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.texts.append(data.strip())


def shown_text(html: str) -> list[str]:
    parser = _ShownText()
    parser.feed(html)
    parser.close()
    return parser.texts


def _field_names() -> set[str]:
    """Every PlugTrack model field's name (and column) with an underscore, and every setting's key."""
    names = set(SETTINGS)
    for app in (*OWNED_APPS, "webhooks"):  # (the webhooks' deliveries are on the settings page)
        for model in apps.get_app_config(app).get_models():
            for field in model._meta.get_fields():
                names |= {name for name in (field.name, getattr(field, "attname", "")) if "_" in name}
    return names


def developer_tokens() -> dict[str, re.Pattern]:
    """What a person should never read, each with the pattern that finds it."""
    fields = "|".join(sorted(map(re.escape, _field_names()), key=len, reverse=True))
    return {
        "a field's name": re.compile(rf"(?<![\w-])(?:{fields})(?![\w-])"),
        "an id": re.compile(r"\(id |\bid \d"),
        "a schema": re.compile(r"schema", re.IGNORECASE),
        "a command": re.compile(r"manage\.py|db_worker|sessions_export|sessions_import|backup_restore"),
        "a command's option": re.compile(r"(?<![\w-])--[a-z]"),
        "an ISO timestamp": re.compile(
            r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+|\s?(?:[+-]\d\d:?\d\d|Z\b|UTC))"
        ),
        "raw JSON": re.compile(r"[{\[]\s*\"|^null$"),
        "a hash": re.compile(r"\b[0-9a-f]{32,}\b"),
        "money without separators": re.compile(r"£\s?\d{4,}"),
        "a time as a.m./p.m.": re.compile(r"\b\d\d?(?::\d\d)? ?[ap]\.m\."),
    }


# Pages that show one of those on purpose, and why.
SAID_ON_PURPOSE = {
    "statement-niro": {"a hash"},  # a finalised statement's files' fingerprints, for whoever pays it to check
}


def problems(text: list[str], tokens: dict[str, re.Pattern]) -> list[str]:
    found = []
    for line in text:
        for what, pattern in tokens.items():
            if match := pattern.search(line):
                found.append(f"{what} ({match.group(0)!r}) in: {line[:160]!r}")
    return found


@pytest.fixture
def seeded(owner, tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # what follows a commit (the webhooks' deliveries)
        return owner_account_seed(owner, tmp_path / "files")


def _said(response, name: str, tokens: dict[str, re.Pattern]) -> list[str]:
    assert response.status_code == 200, (name, response.status_code)
    tokens = {what: pattern for what, pattern in tokens.items() if what not in SAID_ON_PURPOSE.get(name, ())}
    return problems(shown_text(response.content.decode()), tokens)


def _sent(client: Client, seed) -> list[tuple[str, str, object]]:
    """The pages a person sees after sending a form: its errors, or the banner of what it did. Each with its
    name, and words that show the form did what it is there for."""
    sessions = reverse("admin:sessions_app_chargingsession_changelist")
    add = reverse("admin:sessions_app_chargingsession_add")
    session = {"car": seed.zoe.pk, "date": "2026-12-06", "odometer": "100", "charge_type": "AC",
               "charge_delivered_kwh": "20", "_save": "Save"}  # fmt: skip
    flagged = seed.objects[ChargingSession]["flagged"]
    copy = {"date": flagged.date.isoformat(), "odometer": flagged.odometer, "charge_delivered_kwh": "24.5"}
    impossible = {"charge_delivered_kwh": "5000", "cost_per_kwh": "28", "total_cost_gbp": "27702"}
    times = {"started_at_0": "2026-12-07", "started_at_1": "17:11", "ended_at_0": "2026-12-07", "ended_at_1": "16:00"}
    delete = {"action": "delete_selected", "index": "0", "_selected_action": [flagged.pk]}
    batch = seed.objects[ImportBatch]["evcc"]
    undo = {"action": "undo_selected", "index": "0", "_selected_action": [batch.pk]}
    schedule = {"frequency": "weekly", "hour": "2", "weekday": "6", "keep_daily": "7", "keep_weekly": "4",
                "keep_monthly": "12"}  # fmt: skip
    post = client.post
    return [
        # (in this order: the question is about the sessions the evcc import brought, which the undo below removes)
        ("home-question-answered", "will not ask about", post(
            reverse("admin:cars_app_car_home_question", args=[seed.zoe.pk]), {"label": "Carport", "answer": "no"},
            follow=True,
        )),  # fmt: skip
        # A session that would be flagged: asked first, then saved with the banner naming what it flags.
        ("session-asked", "Please check:", post(add, session)),
        ("session-flagged", "Now marked &quot;check&quot;:", post(add, session | {"save_despite_checks": "on"},
                                                                   follow=True)),  # fmt: skip
        # Values no session can have, a copy of a stored session, an end before its start.
        ("session-impossible", "was it typed in pence", post(add, session | impossible)),
        ("session-copy", "already has a session", post(add, session | copy)),
        ("session-times", "before it started", post(add, session | times)),
        ("sessions-delete-confirm", "Are you sure", post(sessions, delete)),
        ("session-deleted", "Successfully deleted", post(sessions, delete | {"post": "yes"}, follow=True)),
        ("imports-undo-confirm", "removes 3 sessions",
         post(reverse("admin:sessions_app_importbatch_changelist"), undo)),  # fmt: skip
        ("import-undone", "undone: removed", post(reverse("admin:sessions_app_importbatch_undo", args=[batch.pk]),
                                                  {"post": "yes"}, follow=True)),  # fmt: skip
        ("sessions-export-wrong", "Enter a valid date", post(reverse("admin:sessions_app_chargingsession_export"),
                                                             {"car": seed.niro.pk, "date_from": "1 March"})),
        ("settings-wrong", "nothing was saved", post(reverse("admin:settings_app_setting_user", args=[seed.owner.pk]),
                                                     {"petrol_mpg": "5", "home_aliases_csv": "home,,garage"})),
        ("backup-schedule-wrong", "errorlist", post(reverse("admin:backups_backup_schedule"),
                                                    schedule | {"hour": "25", "encrypt": "on", "keep_daily": "0"})),
        ("backup-schedule-saved", "Schedule saved.", post(reverse("admin:backups_backup_schedule"), schedule,
                                                          follow=True)),  # fmt: skip
        ("backup-create-wrong", "at least", post(reverse("admin:backups_backup_create"),
                                                 {"encryption": "typed", "passphrase": "short"})),  # fmt: skip
        ("backup-restore-wrong", "This field is required", post(reverse("admin:backups_backup_restore"),
                                                                {"mode": "merge"})),  # fmt: skip
    ]


def test_no_page_an_owner_reaches_speaks_a_developers_words(seeded, owner):
    client = Client()
    client.force_login(owner)
    tokens = developer_tokens()
    # The import's columns page: reached by uploading an owner's own file on the import page.
    with seeded.evcc_file.open("rb") as handle:
        upload = client.post(reverse("admin:sessions_app_chargingsession_import"),
                             {"car": seeded.zoe.pk, "import_file": handle, "file_format": "auto"})  # fmt: skip
    assert upload.status_code == 302 and "/columns/" in upload.url, upload

    found = {}
    for page in owner_pages(seeded):
        if said := _said(client.get(page.url, follow=True), page.name, tokens):
            found[f"{page.name} ({page.url})"] = said
    name = FORM_PAGES["sessions_app_chargingsession_import_columns"]
    if said := _said(client.get(upload.url), name, tokens):
        found[name] = said
    if said := _said(Client().get(reverse("admin:login")), "login", tokens):
        found["login"] = said
    for name, shown, response in _sent(client, seeded):
        assert shown in response.content.decode(), (name, shown)  # the form did what it is there for
        if said := _said(response, name, tokens):
            found[f"{name} (after sending its form)"] = said
    assert not found, "\n".join(f"{page}:\n  " + "\n  ".join(lines) for page, lines in found.items())


def test_the_walk_finds_every_kind_of_page(seeded):
    names = {page.name for page in owner_pages(seeded)}
    assert {"charging-sessions", "charging-session-add", "charging-session-flagged", "imports", "import-evcc",
            "jobs", "job-sessions-import-checked", "backups", "backup-schedule", "settings", "car-analytics-niro",
            "column-mapping-add", "sessions-export"} <= names  # fmt: skip


def test_the_shown_text_leaves_out_markup_and_scripts():
    html = (
        '<p id="id_total_cost_gbp" class="field-location_label">Total cost <span title="the cost (£)">£2.50</span>'
        '</p><script>var charge_delivered_kwh = 1;</script><input type="hidden" name="x" value="location_label">'
        '<input type="submit" value="Save it"><textarea>{"a": 1}</textarea>'
    )
    assert shown_text(html) == ["Total cost", "the cost (£)", "£2.50", "Save it", '{"a": 1}']
    assert [what for what in developer_tokens() if developer_tokens()[what].search('{"a": 1}')] == ["raw JSON"]


def test_the_docs_list_every_pages_screenshot(seeded):
    """docs/architecture.md's "Screenshots" names each page's screenshot (tests/browser/test_pages.py takes
    them), and no other."""
    names = {page.name for page in owner_pages(seeded)} | set(FORM_PAGES.values()) | {"login"}
    docs = (Path(__file__).resolve().parent.parent / "docs/architecture.md").read_text()
    section = docs.split("## Screenshots", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`page-([a-z0-9-]+)\.png`", section))
    assert listed == names, (sorted(names - listed), sorted(listed - names))
