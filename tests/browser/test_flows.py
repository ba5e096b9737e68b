import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from backups.models import Backup
from cars_app import charts
from cars_app.models import Car
from sessions_app.demo import demo_sessions_csv
from sessions_app.imports.csv_format import HEADER
from sessions_app.imports.csv_io import charging_sessions_import
from sessions_app.models import ChargingSession
from settings_app.services import user_settings

from ..sessions_app.csv_helpers import session_row, write_csv
from .conftest import docs_picture, expect, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SESSIONS = 30_000  # enough for a restore's progress to show while it runs


def test_settings_tabs_validation_and_live_preview(page, owner):
    page.goto(f"{page.base}/admin/settings_app/setting/")
    expect(page.locator("#pt-petrol-ppm")).to_have_text("9.77")
    page.click(".pt-tabs >> text=Petrol Baseline")
    expect(page.locator("#id_petrol_mpg")).to_be_visible()
    expect(page.locator("#id_default_efficiency_mpkwh")).to_be_hidden()
    page.fill("#id_petrol_mpg", "50")
    page.fill("#id_petrol_price_p_per_litre", "150")
    expect(page.locator("#pt-petrol-ppm")).to_have_text("13.64")  # updated while typing
    screenshot(page, "settings-petrol")
    page.click(".pt-tabs >> text=Efficiency")
    page.fill("#id_default_efficiency_mpkwh", "12")
    # The assertions wait for the page the submit loads; reading page.content() at once
    # could catch the old page half torn down.
    page.click("input[type=submit]")
    expect(page.get_by_text("Default efficiency (mi/kWh): must be between 0.5 and 10, not 12.")).to_be_visible()
    expect(page.locator("#id_default_efficiency_mpkwh")).to_be_visible()  # the tab with the error is shown
    page.fill("#id_default_efficiency_mpkwh", "4.5")
    page.click(".pt-tabs >> text=Home Detection")
    page.fill("#id_home_aliases_csv", "home,driveway")
    page.click(".pt-tabs >> text=Advanced")
    page.uncheck("#id_allow_efficiency_fallback")
    screenshot(page, "settings-advanced")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Settings saved.")
    saved = user_settings(user=owner)
    assert saved.default_efficiency_mpkwh == Decimal("4.5") and saved.petrol_mpg == Decimal("50")
    assert saved.home_aliases_csv == ["home", "driveway"] and saved.allow_efficiency_fallback is False


def test_settings_with_mistakes_on_several_tabs_mark_each_and_open_the_first(page, owner):
    page.goto(f"{page.base}/admin/settings_app/setting/")
    page.click(".pt-tabs >> text=Home Detection")
    page.fill("#id_home_aliases_csv", "home,,garage")
    page.click(".pt-tabs >> text=Petrol Baseline")
    page.fill("#id_petrol_price_p_per_litre", "1.45")  # pounds, not pence
    page.click("input[type=submit]")

    expect(page.get_by_text("Please correct the errors below; nothing was saved.")).to_be_visible()
    expect(page.locator(".pt-tabs a.pt-tab-errors")).to_have_text(
        ["Home Detection (1 error)", "Petrol Baseline (1 error)"]
    )
    expect(page.locator("#id_home_aliases_csv")).to_be_visible()  # the first tab with a mistake is open
    expect(page.locator("#id_petrol_price_p_per_litre")).to_be_hidden()
    screenshot(page, "settings-errors")
    page.click(".pt-tabs >> text=Petrol Baseline")
    expect(page.locator("#tab-3 .errorlist li")).to_have_text(
        ["Petrol price (p/litre): must be between 50 and 500, not 1.45."]
    )
    assert user_settings(user=owner).petrol_price_p_per_litre == Decimal("128.9")


def test_a_session_that_looks_wrong_is_asked_about_then_marked_and_left_out(page, owner, make_car, make_session):
    car = make_car(owner, name="Niro", battery_kwh=Decimal("60"))
    make_session(car, "2025-01-01", 1000, "20", cost_per_kwh=Decimal("0.10"), location_label="Home")
    make_session(car, "2025-01-10", 1120, "30", cost_per_kwh=Decimal("0.10"), location_label="Home")
    make_session(car, "2025-01-20", 1240, "40", cost_per_kwh=Decimal("0.20"), location_label="Tesco")

    page.goto(f"{page.base}/admin/sessions_app/chargingsession/add/")
    page.fill("#id_date", "2025-01-25")
    page.fill("#id_odometer", "1000")  # meant 1,300
    page.select_option("#id_charge_type", "AC")
    page.fill("#id_charge_delivered_kwh", "10")
    page.click("input[name=_save]")
    expect(
        page.get_by_text("Please check: the odometer (1,000 mi) is below that of the session before it")
    ).to_be_visible()
    expect(page.locator("#id_save_despite_checks")).to_be_visible()
    screenshot(page, "session-check-question")
    assert car.sessions.count() == 3  # nothing saved before the person says so

    page.check("#id_save_despite_checks")
    page.click("input[name=_save]")
    expect(page.get_by_text('Now marked "check": 20 Jan 2025 · 1,240 mi')).to_be_visible()
    expect(page.locator("td.field-check_badge .pt-check")).to_have_count(2)  # it, and the 1,240 before it
    page.click("#changelist-filter >> text=To check")
    expect(page.locator("td.field-odometer_miles")).to_have_text(["1,000 mi", "1,240 mi"])
    screenshot(page, "session-check-list")

    page.goto(f"{page.base}/admin/cars_app/car/{car.pk}/analytics/")
    expect(page.locator("#pt-left-out")).to_contain_text("2 sessions left out of miles, efficiency and cost per mile")
    expect(page.get_by_text("4.00 mi/kWh (measured)", exact=True)).to_be_visible()  # 120 mi on 30 kWh, the one left
    screenshot(page, "analytics-left-out")
    page.click("#pt-left-out >> text=See the sessions to check")
    expect(page.locator("td.field-odometer_miles")).to_have_count(2)


def test_an_import_is_checked_then_run_by_the_worker_with_its_progress_shown(page, worker, owner, make_car, tmp_path):
    car = make_car(owner, name="Niro")
    rows = [
        session_row(date=f"{1990 + i // 336}-{1 + i // 28 % 12:02}-{1 + i % 28:02}", odometer=str(1000 + i))
        for i in range(30_000)
    ]
    rows[5]["odometer"] = "12,5"  # one bad row: the other 29,999 may be imported alone
    path = write_csv(tmp_path, rows)
    page.goto(f"{page.base}/admin/sessions_app/chargingsession/import/")
    page.select_option("#id_car", label="Niro")
    page.set_input_files("#id_import_file", str(path))
    page.click("input[value='Check the file']")
    page.wait_for_url("**/admin/jobs/job/*/change/")
    # Remembered in the page: gone if it were reloaded.
    page.evaluate("window.ptFirst = document.getElementById('pt-progress-text').textContent")
    # Live, while it checks: the count changes on this same page, as its script asks (one look
    # inside the page, so the reload that shows the report once the check ends cannot come between).
    page.wait_for_function(
        "() => window.ptFirst !== undefined && window.ptFirst !== "
        "document.getElementById('pt-progress-text')?.textContent"
        " && /[0-9]+ of 30000 rows/.test(document.getElementById('pt-progress-text').textContent)"
    )
    screenshot(page, "import-progress")
    expect(page.get_by_text("What importing may.csv into Niro")).to_be_visible(timeout=60_000)
    expect(page.locator("#pt-new")).to_have_text("29999")
    expect(page.get_by_text('"12,5" is not a whole number.', exact=True)).to_be_visible()
    # Grouped above the list: each kind of problem with its count and examples (errors first).
    expect(page.locator("#pt-groups tbody tr").first).to_contain_text("odometer (miles): not a whole number")
    expect(page.locator("#pt-groups tbody tr").first).to_contain_text("line 7 (“12,5”)")
    assert ChargingSession.objects.count() == 0
    screenshot(page, "import-preview")
    page.click("input[value='Import the 29999 valid rows']")
    expect(page.locator("#pt-job-status")).to_have_text("running", timeout=30_000)
    expect(
        page.get_by_text("Imported 29999 session(s) into Niro; 0 were already there; 1 row(s) with errors")
    ).to_be_visible(timeout=60_000)
    assert car.sessions.count() == 29_999
    screenshot(page, "import-done")


def test_export_downloads_the_sessions_of_the_car_the_list_shows(page, owner, make_car, make_session):
    niro, zoe = make_car(owner, name="Niro"), make_car(owner, name="Zoe")
    make_session(niro, "2025-01-01", 1000)
    make_session(zoe, "2025-01-01", 500)
    page.goto(f"{page.base}/admin/sessions_app/chargingsession/?car__id__exact={zoe.pk}")
    page.click("text=Export")
    expect(page.locator("#id_car option:checked")).to_have_text("Zoe (1 session)")
    screenshot(page, "export")
    with page.expect_download() as download_info:
        page.click("input[value='Download the CSV']")
    download = download_info.value
    assert download.suggested_filename.startswith("plugtrack_sessions_alice_zoe_")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert list(rows[0]) == list(HEADER) and [row["odometer"] for row in rows] == ["500"]


def test_backup_create_download_then_restore_merge_and_replace(page, worker, owner, make_car, tmp_path):
    car = make_car(owner, name="Niro")
    ChargingSession.objects.bulk_create(
        ChargingSession(user=owner, car=car, date=f"{1990 + i // 336}-{1 + i // 28 % 12:02}-{1 + i % 28:02}",
                        odometer=1000 + i, charge_type="AC", charge_delivered_kwh=20)
        for i in range(SESSIONS)
    )  # fmt: skip
    page.goto(f"{page.base}/admin/backups/backup/")
    page.click("text=Create a backup now")
    expect(page.locator("input[name=encryption][value=plain]")).to_be_checked()  # no schedule encrypts
    page.click("input[value='Create the backup']")
    expect(page.get_by_text(f"Backup written: 1 cars, {SESSIONS} sessions, 10 settings.")).to_be_visible(timeout=30_000)
    page.click("text=Back to your backups")
    with page.expect_download() as download_info:
        page.click("td.field-download >> text=Download")
    zip_path = tmp_path / "mine.zip"
    download_info.value.save_as(zip_path)
    assert "manifest.json" in zipfile.ZipFile(zip_path).namelist()
    screenshot(page, "backups")

    for mode in ("merge", "replace"):
        page.goto(f"{page.base}/admin/backups/backup/restore/")
        page.set_input_files("#id_backup_file", str(zip_path))
        page.check(f"input[value={mode}]")
        page.click("input[value='Check the backup']")
        expect(page.get_by_text(f"What this {mode} restore would do")).to_be_visible(timeout=30_000)
        screenshot(page, f"restore-{mode}-preview")
        page.click(f"input[value='Confirm {mode} restore']")
        if mode == "replace":  # rows are written: its progress shows while it runs
            expect(page.locator("#pt-progress-text")).to_contain_text(f"of {SESSIONS} rows", timeout=30_000)
            screenshot(page, "restore-replace-progress")
        expect(page.get_by_text(f"Restored ({mode})")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(f"{SESSIONS} sessions added, 0 already there")).to_be_visible()
    assert Backup.objects.filter(kind="automatic").count() == 1
    assert ChargingSession.objects.count() == SESSIONS
    page.goto(f"{page.base}/admin/jobs/job/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)  # the backup, and each restore checked then run
    screenshot(page, "jobs")


def test_the_analytics_page_draws_its_charts(page, owner, make_car, make_session):
    car = make_car(owner, name="Niro")
    make_session(car, "2025-01-02", 1000, "10", cost_per_kwh=Decimal("0.10"), location_label="Home")
    make_session(car, "2025-02-20", 1120, "30", cost_per_kwh=Decimal("0.10"), location_label="Home")
    page.goto(f"{page.base}/admin/cars_app/car/")
    screenshot(page, "cars")
    page.click("text=Analytics")
    page.wait_for_url("**/analytics/")
    expect(page.locator("svg.pt-chart")).to_have_count(4)
    expect(page.locator("svg.pt-chart rect.pt-bar").first).to_be_visible()
    assert page.locator("svg.pt-chart rect.pt-bar").count() >= 2
    expect(page.get_by_text("4.00 mi/kWh (measured)", exact=True)).to_be_visible()  # (the break-even note names it too)
    screenshot(page, "analytics")


def test_the_month_so_far_and_the_home_question_on_the_analytics_page(page, owner, make_car, make_session):
    """An evcc owner's car, charged at their "Carport" for three months, then once at a public rapid
    charger this month: the month is drawn as so far, and the page asks whether Carport is home."""
    today = timezone.localdate()
    month = today.replace(day=1)
    car = make_car(owner, name="Niro")
    earlier = [month]
    for _ in range(3):  # the 5th of each of the three months before
        earlier.insert(0, (earlier[0].replace(day=1) - dt.timedelta(days=1)).replace(day=5))
    for day, odometer in zip(earlier[:3], (1000, 1120, 1240), strict=True):
        make_session(car, day, odometer, "30", cost_per_kwh=Decimal("0.07"), location_label="Carport")
    make_session(car, today, 1300, "20", charge_type="DC", total_cost_gbp=Decimal("17.00"),
                 location_label="Costa Winchester", charge_network="InstaVolt")  # fmt: skip
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{page.base}/admin/cars_app/car/{car.pk}/analytics/")
    so_far = charts.SoFar(month, today.day).text
    expect(page.locator("svg.pt-chart .pt-so-far-label").first).to_have_text(f"({so_far})")
    assert page.locator("svg.pt-chart rect.pt-so-far").count() == 2  # energy and cost: hatched
    assert page.locator("svg.pt-chart circle.pt-so-far").count() == 2  # p/mi and mi/kWh: hollow, off the line
    expect(page.locator("#pt-home-question")).to_contain_text("Is “Carport” your home?")
    expect(page.locator(".pt-figures")).to_contain_text("0% of kWh")
    screenshot(page, "analytics-so-far")
    page.click("#pt-home-question button[value=yes]")
    page.wait_for_url("**/analytics/")
    expect(page.locator(".messagelist")).to_contain_text("“Carport” is now one of your home words: 82% of Niro")
    expect(page.locator("#pt-home-question")).to_have_count(0)
    expect(page.locator(".pt-figures")).to_contain_text("82% of kWh")
    assert "Carport" in user_settings(user=owner).home_aliases_csv
    screenshot(page, "analytics-home-answered")


def test_a_year_of_charging_on_the_analytics_page_as_the_readme_shows_it(page, owner, make_car):
    """The README's picture (docs/analytics.png, with PLUGTRACK_DOCS_SCREENSHOTS=1): the demo's year of
    charging on a car like the demo's, its analytics page in a laptop's 1366×768 window."""
    car = make_car(
        owner, name="Family Niro", efficiency_mpkwh=Decimal("3.9"), recommended_full_charge_enabled=True,
        recommended_full_charge_frequency_value=1, recommended_full_charge_frequency_unit=Car.FrequencyUnit.MONTHS,
    )  # fmt: skip
    report = charging_sessions_import(user=owner, car=car, source=demo_sessions_csv())
    assert report.ok and report.inserted > 100
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{page.base}/admin/cars_app/car/{car.pk}/analytics/")
    expect(page.locator("svg.pt-chart")).to_have_count(4)
    expect(page.locator("svg.pt-chart rect.pt-bar").first).to_be_visible()
    expect(page.locator(".pt-figures")).to_contain_text("(measured)")
    expect(page.locator("#pt-full-charge")).to_be_visible()
    docs_picture(page, "analytics")


def test_every_admin_page_works_under_the_content_security_policy(page, owner, make_car, make_session):
    car = make_car(owner, name="Niro")
    session = make_session(car, "2025-01-02", 1000, "10", location_label="Home")
    for path in [
        "/admin/",
        "/admin/cars_app/car/",
        f"/admin/cars_app/car/{car.pk}/change/",
        "/admin/cars_app/car/add/",
        "/admin/sessions_app/chargingsession/",
        f"/admin/sessions_app/chargingsession/{session.pk}/change/",
        "/admin/sessions_app/chargingsession/add/",
        "/admin/sessions_app/chargingsession/import/",
        "/admin/sessions_app/chargingsession/export/",
        "/admin/sessions_app/importbatch/",
        "/admin/sessions_app/mappingprofile/",
        "/admin/sessions_app/mappingprofile/add/",
        "/admin/backups/backup/",
        "/admin/backups/backup/create/",
        "/admin/backups/backup/restore/",
        "/admin/backups/backup/schedule/",
        "/admin/jobs/job/",
        "/admin/api/apitoken/",
        "/admin/api/apitoken/add/",
        "/admin/password_change/",
    ]:
        response = page.goto(page.base + path)
        assert response.status == 200, path
        expect(page.locator("#content")).to_be_visible()
    page.goto(f"{page.base}/admin/sessions_app/chargingsession/?q=Home")  # the admin's own scripts run
    page.click("#action-toggle")
    expect(page.locator("input.action-select").first).to_be_checked()


def test_an_import_is_undone_from_the_admin_after_a_confirmation(page, owner, make_car, make_session, tmp_path):
    from sessions_app.imports.csv_io import charging_sessions_import

    car = make_car(owner, name="Niro")
    make_session(car, "2025-01-01", 1000, "20")
    rows = [session_row(date=f"2025-03-0{day}", odometer=str(1100 + 20 * day), charge_delivered_kwh="30")
            for day in (1, 2)]  # fmt: skip
    charging_sessions_import(user=owner, car=car, source=write_csv(tmp_path, rows, name="march.csv"))

    page.goto(f"{page.base}/admin/sessions_app/importbatch/")
    expect(page.locator("td.field-source_name")).to_have_text(["march.csv"])
    page.check("input.action-select")
    page.select_option("select[name=action]", "undo_selected")
    page.click("button[name=index]")
    expect(page.locator("#pt-undo-previews")).to_contain_text("removes 2 sessions")
    screenshot(page, "import-undo-confirm")
    page.click("input[value='Yes, undo']")
    expect(page.get_by_text("removed 2 session(s).")).to_be_visible()
    expect(page.locator("td.field-status")).to_contain_text("undone")
    assert car.sessions.count() == 1


def test_an_evcc_file_is_imported_in_one_upload_asked_its_questions_on_its_columns_page(
    page, worker, owner, make_car, tmp_path
):
    """evcc's file does not say its costs' currency, and one of its rows has no odometer: both are asked
    on its columns page, in words (no command-line option), beside its columns; the check runs with the
    answers, and the file is imported without being uploaded again."""
    from tests.sessions_app.imports.formats.test_presets import EVCC_DE

    car = make_car(owner, name="Model 3")
    path = tmp_path / "evcc-sessions.csv"
    path.write_text(EVCC_DE, encoding="utf-8")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{page.base}/admin/sessions_app/chargingsession/import/")
    expect(page.locator("#id_currency")).to_have_count(0)  # nothing to ask before the file is read
    page.set_input_files("#id_import_file", str(path))
    page.click("input[value='Check the file']")
    expect(page.locator("#pt-file-read")).to_contain_text("read as evcc's sessions CSV, UTF-8, semicolon-separated")
    questions = page.locator("#pt-questions")
    expect(questions).to_contain_text("its costs (line 2) are in the currency the app was set to")
    expect(questions).to_contain_text("“Currency of its costs” and “Exchange rate”")
    expect(questions).to_contain_text("line 3 has no odometer")
    expect(page.locator("#content")).not_to_contain_text("--")
    expect(page.locator("#id_column_odometer")).to_have_value("Kilometerstand (km)")
    expect(page.locator("#id_column_odometer option:checked")).to_have_text("Kilometerstand (km) — 20117 · 20480")
    expect(page.locator("#id_unit_odometer")).to_have_value("km")
    page.fill("#id_currency", "EUR")
    page.fill("#id_rate", "0.86")
    page.select_option("#id_blank_odometer", "previous")
    page.select_option("#id_column_notes", "Fahrzeug")  # a change of the person's own: the car's name as the note
    page.fill("#id_save_as", "evcc garage")
    page.locator("#pt-questions").scroll_into_view_if_needed()
    screenshot(page, "import-evcc-columns")
    page.click("input[value='Check the file with these columns']")
    expect(page.locator("#pt-detected")).to_contain_text("costs: EUR, converted at £0.86 per EUR", timeout=30_000)
    expect(page.locator("#pt-detected")).to_contain_text("notes from “Fahrzeug”")
    expect(page.locator("#pt-new")).to_have_text("3")
    screenshot(page, "import-evcc-checked")
    page.click("input[value='Confirm import']")
    expect(page.get_by_text("Imported 3 session(s) into Model 3")).to_be_visible(timeout=30_000)
    taken = car.sessions.get(date="2026-11-05")
    assert taken.odometer == 12500 and taken.notes.startswith("Model 3 · PlugTrack: price per kWh 0.3 EUR → £0.2580")
    assert taken.notes.endswith(
        "odometer blank in the file: 12,500 mi taken from the session of 2 Nov 2026 (on line 2), the latest before "
        "it (0 miles driven)"
    )
    page.goto(f"{page.base}/admin/sessions_app/mappingprofile/")
    expect(page.locator("th.field-name")).to_have_text(["evcc garage"])
    page.click("th.field-name a")
    expect(page.locator("#id_column_notes")).to_have_value("Fahrzeug")  # the saved mapping, as a form
    expect(page.locator("#id_unit_odometer")).to_have_value("km")
    screenshot(page, "mapping-profile-form")


def test_a_schedule_is_set_and_a_failed_verification_is_shown_until_a_backup_succeeds(page, owner, make_car,
                                                                                      monkeypatch):  # fmt: skip
    from backups import schedules
    from backups.models import BackupSchedule

    make_car(owner, name="Niro")
    page.goto(f"{page.base}/admin/backups/backup/")
    expect(page.locator("#pt-schedule")).to_have_text("Scheduled backups are off. Change the schedule")
    page.click("#pt-schedule >> text=Change the schedule")
    page.select_option("#id_frequency", "daily")
    page.fill("#id_hour", "2")
    page.check("#id_encrypt")
    page.fill("#id_passphrase", "correct horse battery")
    page.fill("#id_passphrase_again", "correct horse battery")
    screenshot(page, "backup-schedule")
    page.click("input[value='Save the schedule']")
    expect(page.locator("#pt-schedule")).to_contain_text("Backups are made daily at 02:00, encrypted")
    # The disk garbles the file between writing and reading it back: the verification says so.
    BackupSchedule.objects.update(active_since=timezone.now() - dt.timedelta(days=2))
    real_verify = schedules.backup_verify

    def garbled(backup, passphrase):
        Path(backup.path).write_bytes(b"garbled")
        return real_verify(backup, passphrase)

    monkeypatch.setattr(schedules, "backup_verify", garbled)
    schedules.backups_run_due()
    page.goto(f"{page.base}/admin/")
    expect(page.locator("#pt-backup-failure")).to_contain_text("failed its verification")
    screenshot(page, "backup-failure-index")
    page.click("#pt-backup-failure >> text=See your backups")
    expect(page.locator("#pt-backup-failure")).to_contain_text("is not a ZIP file")
    expect(page.locator("td.field-verified")).to_have_text(["failed"])
    screenshot(page, "backup-failure-list")
    monkeypatch.setattr(schedules, "backup_verify", real_verify)
    BackupSchedule.objects.update(last_slot=timezone.now() - dt.timedelta(days=1))  # the next day's slot
    schedules.backups_run_due()
    page.reload()
    expect(page.locator("#pt-backup-failure")).to_have_count(0)
    # (made the same day, the failed one is no longer kept: the newest of each day is)
    expect(page.locator("td.field-verified")).to_have_text(["verified"])


def test_an_imports_own_page_links_to_its_sessions_and_undoes_it_after_a_confirmation(
    page, owner, make_car, make_session, tmp_path
):
    car = make_car(owner, name="Niro")
    make_session(car, "2025-01-01", 1000, "20")
    rows = [session_row(date=f"2025-03-0{day}", odometer=str(1100 + 20 * day), charge_delivered_kwh="30")
            for day in (1, 2)]  # fmt: skip
    report = charging_sessions_import(user=owner, car=car, source=write_csv(tmp_path, rows, name="march.csv"))
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{page.base}/admin/sessions_app/importbatch/{report.batch_id}/change/")
    expect(page.locator("h1")).to_have_text("The import of march.csv")
    expect(page.locator("#content")).to_contain_text("Read as PlugTrack's own CSV file")
    expect(page.locator(".deletelink")).to_have_count(0)  # undo is how its sessions go
    screenshot(page, "import-page")
    page.click("#pt-import-sessions")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)  # exactly the sessions it added
    screenshot(page, "import-sessions")
    page.go_back()
    page.click("#pt-undo >> text=Undo this import")
    expect(page.locator("#pt-undo-previews")).to_contain_text("removes 2 sessions")
    screenshot(page, "import-page-undo-confirm")
    assert car.sessions.count() == 3  # asked first: nothing changed yet
    page.click("input[value='Yes, undo']")
    expect(page.locator(".messagelist")).to_contain_text("Import of march.csv undone: removed 2 session(s).")
    expect(page.locator("h1")).to_have_text("The import of march.csv")  # back on its page, which says so
    expect(page.locator("#content")).to_contain_text("None left: the undo removed them.")
    expect(page.locator("#pt-undo")).to_have_count(0)
    screenshot(page, "import-page-undone")
    assert car.sessions.count() == 1


def test_a_backup_made_now_is_encrypted_with_the_backup_passphrase(page, worker, owner, make_car, make_session):
    from backups.schedules import SchedulePlan, schedule_save

    car = make_car(owner, name="Niro")
    make_session(car, "2025-01-01", 1000, "20")
    schedule_save(user=owner, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=True),
                  passphrase="correct horse battery")  # fmt: skip
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{page.base}/admin/backups/backup/")
    page.click("text=Create a backup now")
    expect(page.locator("input[name=encryption][value=saved]")).to_be_checked()  # the schedule encrypts
    screenshot(page, "backup-create")
    page.click("input[value='Create the backup']")
    expect(page.get_by_text("Backup written, encrypted: 1 cars, 1 sessions, 10 settings.")).to_be_visible(
        timeout=30_000
    )
    expect(page.locator("#pt-encrypted")).to_contain_text("Encrypted with your backup passphrase")
    screenshot(page, "backup-created-encrypted")
    assert Backup.objects.get().encrypted
