"""The tariffs' admin pages: the tariff file's import and export, a version's bands (an overlap
refused, naming the weekdays and times), and the recompute: a preview on its job's page, applied once
confirmed, then undone."""

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from sessions_app.models import ChargingSession
from tariffs.models import Assignment, Band, CostRecompute, Tariff

from .test_file_format import EXAMPLE

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def test_the_tariff_file_imports_and_exports_through_the_admin(owner_client, owner, other_owner):
    Tariff.objects.create(user=other_owner, name="Theirs")
    upload = SimpleUploadedFile("tariffs.json", json.dumps(EXAMPLE).encode(), "application/json")
    response = owner_client.post(reverse("admin:tariffs_tariff_import"), {"tariffs_file": upload}, follow=True)
    assert "Imported 1 new tariff(s)" in response.content.decode()
    html = owner_client.get(reverse("admin:tariffs_tariff_changelist")).content.decode()
    assert "Intelligent Octopus Go" in html and "Theirs" not in html
    exported = owner_client.get(reverse("admin:tariffs_tariff_export"))
    assert json.loads(exported.content)["tariffs"] == EXAMPLE["tariffs"]

    broken = SimpleUploadedFile("bad.json", b'{"plugtrack_tariffs": 1, "tariffs": [{"name": ""}]}')
    html = owner_client.post(reverse("admin:tariffs_tariff_import"), {"tariffs_file": broken}).content.decode()
    assert "bad.json was not imported (nothing was changed)" in html and "tariffs[0].name: is empty." in html


def test_a_versions_bands_may_not_overlap(owner_client, owner, make_tariff):
    tariff = make_tariff(owner)
    version = tariff.versions.get()
    band = version.bands.get()
    url = reverse("admin:tariffs_tariffversion_change", args=[version.pk])
    page = owner_client.get(url).content.decode()
    # Prices as a person writes them, on the version's page and in its tariff's list of versions.
    tariff_page = owner_client.get(reverse("admin:tariffs_tariff_change", args=[tariff.pk])).content.decode()
    assert f'value="{version.default_p_per_kwh.normalize():f}"' in page and ".0000" not in page + tariff_page
    form = {
        "tariff": tariff.pk, "valid_from": "2026-01-01", "default_p_per_kwh": "28", "standing_p_per_day": "",
        "bands-TOTAL_FORMS": "2", "bands-INITIAL_FORMS": "1", "bands-MIN_NUM_FORMS": "0", "bands-MAX_NUM_FORMS": "1000",
        "bands-0-id": band.pk, "bands-0-version": version.pk, "bands-0-days": [str(day) for day in range(7)],
        "bands-0-start": "23:30", "bands-0-end": "05:30", "bands-0-p_per_kwh": "7", "bands-0-name": "off-peak",
        "bands-1-version": version.pk, "bands-1-days": ["4"], "bands-1-start": "22:00", "bands-1-end": "00:30",
        "bands-1-p_per_kwh": "9", "bands-1-name": "",
    }  # fmt: skip
    html = owner_client.post(url, form).content.decode()
    assert "Friday 23:30–05:30 overlaps Friday 22:00–00:30" in html
    assert Band.objects.count() == 1

    form["bands-1-start"], form["bands-1-end"] = "16:00", "19:00"
    response = owner_client.post(url, form)
    assert response.status_code == 302
    assert sorted(Band.objects.values_list("days", flat=True)) == [16, 127]
    assert Band.objects.get(name="off-peak").label == "off-peak"


def test_another_owners_version_is_not_found(owner_client, other_owner, make_tariff):
    version = make_tariff(other_owner).versions.get()
    assert owner_client.get(reverse("admin:tariffs_tariffversion_change", args=[version.pk])).status_code == 302


def test_recompute_preview_apply_and_undo(owner_client, owner, make_car, make_tariff, make_session):
    Assignment.objects.create(user=owner, tariff=make_tariff(owner), valid_from=dt.date(2026, 1, 1))
    session = make_session(make_car(owner, name="Niro"), "2026-03-28", 1000, "49", location_label="Home",
                           started_at=dt.datetime(2026, 3, 28, 22, 30, tzinfo=LONDON),
                           ended_at=dt.datetime(2026, 3, 29, 6, 30, tzinfo=LONDON))  # fmt: skip
    blank = {"car": "", "date_from": "", "date_to": ""}
    response = owner_client.post(reverse("admin:tariffs_costrecompute_recompute"), blank, follow=True)
    html = response.content.decode()
    assert "What recomputing the costs would do (nothing has been written yet)" in html
    assert "£0.00 before, £6.37 after" in html
    assert ChargingSession.objects.get().estimated_cost_gbp is None

    html = owner_client.post(response.context["confirm_url"], follow=True).content.decode()
    assert "Applied: 1 of 1 session(s) changed." in html
    session.refresh_from_db()
    assert session.estimated_cost_gbp == Decimal("6.37")

    recompute = CostRecompute.objects.get()
    html = owner_client.get(reverse("admin:tariffs_costrecompute_changelist")).content.decode()
    undo = reverse("admin:tariffs_costrecompute_undo", args=[recompute.pk])
    assert undo in html
    assert "get back the estimated costs they had before it" in owner_client.get(undo).content.decode()
    html = owner_client.post(undo, follow=True).content.decode()
    assert "Undone: 1 session(s)" in html
    session.refresh_from_db()
    assert session.estimated_cost_gbp is None
