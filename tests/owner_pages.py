"""Every page an owner can reach in the admin, for an account seeded with one of everything: cars (one
with the demo's year of charging), sessions (one flagged), imports (one undone), a saved column mapping,
a backup schedule, backups, and jobs of each kind in each state. The developer-words test
(tests/test_owner_words.py) reads each page's text; the browser test (tests/browser/test_pages.py)
takes a screenshot of each, named after the page (docs/architecture.md, "Screenshots", lists them).

The pages are found by walking the admin site: every model admin the owner may view (its list, add
form, change form, delete and history pages) and every URL a model admin adds. A URL added later
that is neither listed here as a page nor as something else (a download, a form's POST) fails the
test that walks them, so no page goes unread.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.contrib import admin
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from api.models import ApiToken
from api.services import api_token_create, api_token_revoke
from backups.models import Backup, BackupSchedule
from backups.schedules import SchedulePlan, schedule_save
from backups.services import backup_create
from cars_app.models import Car
from jobs.models import Job
from jobs.services import job_confirm, job_start
from sessions_app.demo import demo_sessions_csv
from sessions_app.imports.batches import import_batch_undo
from sessions_app.imports.choices import ImportChoices
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from sessions_app.imports.formats.mapping import ColumnMapping
from sessions_app.imports.mapping_profiles import mapping_profile_save
from sessions_app.models import ChargingSession, ImportBatch, MappingProfile
from sessions_app.services import charging_session_save
from settings_app.models import Setting
from settings_app.services import settings_update
from statements.compute import StatementRequest
from statements.models import BusinessMark, Rate, ReimbursementProfile, Statement
from statements.seed import RATES_2026, rates_add
from statements.services import statement_finalise
from tariffs.costs import Selection
from tariffs.models import Assignment, CostRecompute, Tariff, TariffVersion
from tariffs.services import costs_recompute, tariffs_import

from .sessions_app.csv_helpers import session_row, write_csv
from .sessions_app.imports.formats.test_presets import EVCC_DE

PASSPHRASE = "correct horse battery"
OCTOPUS_GO = """{"plugtrack_tariffs": 1, "tariffs": [{"name": "Intelligent Octopus Go", "time_zone": "Europe/London",
  "versions": [{"valid_from": "2025-01-01", "default_p_per_kwh": "28.00", "standing_p_per_day": "45.00",
    "bands": [{"days": ["mon","tue","wed","thu","fri","sat","sun"], "start": "23:30", "end": "05:30",
               "p_per_kwh": "7.00"}]}]}],
  "assignments": [{"tariff": "Intelligent Octopus Go", "car": null, "where": "home", "location": null,
                   "valid_from": "2025-01-01"}]}"""


@dataclass
class Seed:
    """The seeded account's objects, each model's under a short name that the pages are named by."""

    owner: User
    niro: Car
    zoe: Car
    objects: dict[type, dict[str, object]] = field(default_factory=dict)
    evcc_file: Path | None = None  # an owner's own file, for the import's columns page


def _import_check_file(folder: Path) -> Path:
    """A file whose check finds a bit of everything: new rows, an error, warnings, a row already there."""
    rows = [
        session_row(date="2025-03-01", odometer="1000", charge_delivered_kwh="30.5"),
        session_row(date="2025-03-04", odometer="1120", charge_delivered_kwh="28", total_cost_gbp="9.99"),
        session_row(date="2025-03-09", odometer="12,5"),  # not a whole number: an error
        session_row(date="2025-03-12", odometer="1250", charge_delivered_kwh="20", cost_per_kwh="28"),  # pence
        session_row(date="2025-03-15", odometer="1180", charge_delivered_kwh="25"),  # out of order: flagged
    ]
    return write_csv(folder, rows, name="Niro_charging_sessions_2025-03-01_to_2025-03-31_from_my_spreadsheet.csv")


def _uploaded(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes())


def owner_account_seed(owner: User, folder: Path) -> Seed:
    """Fill `owner`'s account with one of everything an owner has (files written under `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    niro = Car.objects.create(
        user=owner, name="Family Niro", make="Kia", model="Niro EV", battery_kwh=Decimal("64.8"),
        efficiency_mpkwh=Decimal("3.9"), recommended_full_charge_enabled=True,
        recommended_full_charge_frequency_value=1, recommended_full_charge_frequency_unit=Car.FrequencyUnit.MONTHS,
    )  # fmt: skip
    zoe = Car.objects.create(user=owner, name="Zoe", make="Renault", model="Zoe", battery_kwh=Decimal("52"))
    seed = Seed(owner=owner, niro=niro, zoe=zoe)
    # Webhooks to an address where nothing listens: each event's delivery is listed on the settings page,
    # waiting for its retry (and no test sends anything anywhere).
    settings_update(user=owner, values={"notification_url": "http://127.0.0.1:9/plugtrack-events"})

    demo = charging_sessions_import(user=owner, car=niro, source=demo_sessions_csv())
    evcc = folder / "evcc-sessions.csv"
    evcc.write_text(EVCC_DE.replace("Garage", "Carport"), encoding="utf-8")  # (evcc's example charge point)
    seed.evcc_file = evcc
    evcc_import = charging_sessions_import(
        user=owner, car=zoe, source=evcc,
        options=ImportOptions(file_format="auto", choices=ImportChoices(
            currency="EUR", rate=Decimal("0.86"), blank_odometer="previous"
        )),
    )  # fmt: skip
    undone = charging_sessions_import(
        user=owner, car=zoe,
        source=write_csv(folder, [session_row(date="2026-12-01", odometer="20900", charge_delivered_kwh="12")],
                         name="Zoe_charging_sessions_December_2026_exported_from_the_wallbox_app.csv"),
    )  # fmt: skip
    import_batch_undo(user=owner, batch_id=undone.batch_id)
    flagged = ChargingSession(
        user=owner, car=zoe, date=dt.date(2026, 11, 20), odometer=20100, charge_type="DC",
        charge_delivered_kwh=Decimal("24.5"), cost_per_kwh=Decimal("0.79"), location_label="InstaVolt Costa",
        charge_network="InstaVolt", started_at=timezone.make_aware(dt.datetime(2026, 11, 20, 17, 11)),
        ended_at=timezone.make_aware(dt.datetime(2026, 11, 20, 17, 48)),
    )  # fmt: skip
    charging_session_save(session=flagged)  # an odometer below the one before it: flagged "check"

    profile = mapping_profile_save(
        user=owner, name="My spreadsheet", header=["Date", "Mileage", "kWh", "Cost"],
        mapping=ColumnMapping(headings={"date": "Date", "odometer": "Mileage", "charge_delivered_kwh": "kWh",
                                        "total_cost_gbp": "Cost"}, fixed={"charge_type": "AC"}),
    )  # fmt: skip
    schedule_save(user=owner, plan=SchedulePlan(frequency="daily", hour=3, weekday=0, encrypt=True),
                  passphrase=PASSPHRASE)  # fmt: skip
    plain = backup_create(user=owner)

    jobs = {}
    # An import checked (errors, warnings, rows already there), and one checked then run.
    jobs["sessions-import-checked"] = job_start(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK,
        options={"car_id": niro.pk, "file_format": "plugtrack"}, uploaded=_uploaded(_import_check_file(folder)),
    )  # fmt: skip
    # A check stopped at a question its owner answers on the job's page (day/month or month/day?).
    asking = folder / "log.csv"
    asking.write_text("Date,Mileage,Type,kWh\n03/04/2026,12480,AC,30\n", encoding="utf-8")
    jobs["sessions-import-question"] = job_start(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK,
        options={"car_id": niro.pk, "file_format": "spreadsheet"}, uploaded=_uploaded(asking),
    )  # fmt: skip
    # An owner's own file checked: how it was read (its shape, its columns) above the report.
    jobs["sessions-import-evcc-checked"] = job_start(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK,
        options={"car_id": niro.pk, "file_format": "evcc"} | ImportChoices(
            currency="EUR", rate=Decimal("0.86"), blank_odometer="previous"
        ).to_options(),
        uploaded=_uploaded(evcc),
    )  # fmt: skip
    ran = job_start(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK,
        options={"car_id": zoe.pk, "file_format": "plugtrack"},
        uploaded=_uploaded(write_csv(folder, [session_row(date="2026-12-03", odometer="20950")], name="more.csv")),
    )  # fmt: skip
    job_confirm(job=ran, options={})
    jobs["sessions-import-done"] = ran
    # A backup made now, encrypted with the schedule's passphrase.
    jobs["backup-done"] = job_start(user=owner, kind=Job.Kind.BACKUP_CREATE, phase=Job.Phase.RUN,
                                    options={"encrypt": "saved"})  # fmt: skip
    # A restore's check that would change a setting, and a merge restore run.
    settings_update(user=owner, values={"petrol_mpg": Decimal("45")})
    zip_file = SimpleUploadedFile(Path(plain.path).name, Path(plain.path).read_bytes())
    jobs["backup-restore-checked"] = job_start(
        user=owner, kind=Job.Kind.BACKUP_RESTORE, phase=Job.Phase.CHECK, options={"mode": "merge"}, uploaded=zip_file
    )
    restored = job_start(
        user=owner, kind=Job.Kind.BACKUP_RESTORE, phase=Job.Phase.CHECK, options={"mode": "merge"},
        uploaded=SimpleUploadedFile(Path(plain.path).name, Path(plain.path).read_bytes()),
    )  # fmt: skip
    job_confirm(job=restored, options={})
    jobs["backup-restore-done"] = restored
    jobs["backup-restore-failed"] = job_start(
        user=owner, kind=Job.Kind.BACKUP_RESTORE, phase=Job.Phase.CHECK, options={"mode": "merge"},
        uploaded=SimpleUploadedFile("not-a-backup.zip", b"this is not a ZIP file"),
    )  # fmt: skip
    # A check never confirmed, left for two days: expired.
    expired = job_start(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK,
        options={"car_id": zoe.pk, "file_format": "plugtrack"},
        uploaded=_uploaded(write_csv(folder, [session_row(date="2026-12-05", odometer="21000")], name="old.csv")),
    )  # fmt: skip
    Job.objects.filter(pk=expired.pk).update(finished_at=timezone.now() - dt.timedelta(days=2))
    jobs["sessions-import-expired"] = expired
    # Waiting for the worker, and running.
    jobs["backup-queued"] = Job.objects.create(user=owner, kind=Job.Kind.BACKUP_CREATE, phase=Job.Phase.RUN)
    jobs["sessions-import-running"] = Job.objects.create(
        user=owner, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK, status=Job.Status.RUNNING,
        upload_name="big.csv", options={"car_id": niro.pk}, started_at=timezone.now(),
    )  # fmt: skip

    # An Intelligent Octopus Go tariff for home charging, its costs worked out (applied), and a preview.
    tariffs_import(user=owner, data=OCTOPUS_GO.encode(), source="tariffs.json")
    recompute = costs_recompute(selection=Selection(user=owner), apply=True).recompute_id
    jobs["costs-recompute-checked"] = job_start(user=owner, kind=Job.Kind.COSTS_RECOMPUTE, phase=Job.Phase.CHECK,
                                                options={"car_id": niro.pk})  # fmt: skip

    # The Niro is a company car: its profile, a session marked business, and last month's statement kept.
    rates_add(Rate, RATES_2026)  # (as the migrations left them: a transactional test before may empty the table)
    ReimbursementProfile.objects.create(user=owner, car=niro, scheme="uk-aer", employer="Acme Ltd", reference="E1234")
    latest = niro.sessions.latest("date")
    BusinessMark.objects.create(user=owner, session=latest)
    month = (latest.date.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    statement = statement_finalise(request=StatementRequest(user=owner, car=niro, month=month)).statement

    # An API token for Home Assistant, on one car, and one revoked.
    home_assistant = api_token_create(user=owner, name="Home Assistant", scopes=["sessions:write"], car_ids=[zoe.pk])
    api_token_create(user=owner, name="Old script", scopes=["sessions:read"], expires_days=30)
    revoked = api_token_revoke(user=owner, name="Old script")

    baseline = niro.sessions.get(is_baseline=True)
    seed.objects = {
        Car: {"niro": niro, "zoe": zoe},
        ChargingSession: {"flagged": flagged, "baseline": baseline},
        ImportBatch: {
            "demo": ImportBatch.objects.get(pk=demo.batch_id),
            "evcc": ImportBatch.objects.get(pk=evcc_import.batch_id),
            "undone": ImportBatch.objects.get(pk=undone.batch_id),
        },
        MappingProfile: {"": profile},
        Backup: {"encrypted": Backup.objects.get(encrypted=True), "plain": plain},
        BackupSchedule: {"": BackupSchedule.objects.get(user=owner)},
        Job: {name: Job.objects.get(pk=job.pk) for name, job in jobs.items()},
        Setting: {"": Setting.objects.get(user=owner, key="petrol_mpg")},
        Tariff: {"go": Tariff.objects.get(user=owner)},
        TariffVersion: {"go": TariffVersion.objects.get(tariff__user=owner)},
        Assignment: {"home": Assignment.objects.get(tariff__user=owner)},
        CostRecompute: {"applied": CostRecompute.objects.get(pk=recompute)},
        ReimbursementProfile: {"niro": ReimbursementProfile.objects.get(car=niro)},
        BusinessMark: {"": BusinessMark.objects.get(user=owner)},
        Statement: {"niro": statement},
        Rate: {"uk-aer": Rate.objects.filter(scheme="uk-aer").latest("valid_from")},
        ApiToken: {"home-assistant": home_assistant.token, "revoked": revoked},
    }
    return seed


@dataclass(frozen=True)
class OwnerPage:
    name: str  # what its screenshot is called
    url: str


# The URLs the model admins add, each either a page (its name, and the seeded objects it is for) ...
CUSTOM_PAGES = {
    "sessions_app_chargingsession_import": ("sessions-import", None),
    "sessions_app_chargingsession_export": ("sessions-export", None),
    "sessions_app_importbatch_undo": ("import-undo", ImportBatch),
    "cars_app_car_analytics": ("car-analytics", Car),
    "backups_backup_create": ("backup-create", None),
    "backups_backup_restore": ("backup-restore", None),
    "backups_backup_schedule": ("backup-schedule", None),
    "settings_app_setting_user": ("settings", User),
    "tariffs_tariff_import": ("tariffs-import", None),
    "statements_statement_make": ("statement-make", None),
    "tariffs_costrecompute_recompute": ("costs-recompute", None),
    "tariffs_costrecompute_undo": ("cost-recompute-undo", CostRecompute),
}
# ... reached only by sending a form (the tests send it) ...
FORM_PAGES = {
    "sessions_app_chargingsession_import_columns": "sessions-import-columns",  # after an owner's file is uploaded
}
# ... or no page at all.
NOT_PAGES = {
    "cars_app_car_home_question": "the answer to the home question (a form's POST), then back",
    "backups_backup_download": "a backup's file",
    "tariffs_tariff_export": "the tariffs' file",
    "statements_statement_file": "a finalised statement's file (its CSV, HTML or PDF)",
    "jobs_job_progress": "the job page's progress, as JSON for its script",
    "jobs_job_confirm": "a job's confirmation (a form's POST), then back to its page",
    "jobs_job_errors": "a check's error file",
    "sessions_app_chargingsession_import_again": "an import's way back to its columns page (a redirect there)",
    "sessions_app_chargingsession_import_answer": "the answer to a check's question (a form's POST), then its job page",
}
STANDARD_VIEWS = ("changelist", "add", "change", "delete", "history")
# Models whose list, change and history pages all lead an owner to one page of their own (its custom page).
SHOWN_ON_ONE_PAGE = {Setting}


def _plural(model) -> str:
    return slugify(model._meta.verbose_name_plural)


def _singular(model) -> str:
    return slugify(model._meta.verbose_name)


def _owner_request(owner: User):
    request = RequestFactory().get("/admin/")
    request.user = owner
    return request


def owner_pages(seed: Seed) -> list[OwnerPage]:
    """Every page the seeded owner can reach with a link or by typing its address, as GETs."""
    request = _owner_request(seed.owner)
    pages = [OwnerPage("home", reverse("admin:index")), OwnerPage("password-change", reverse("admin:password_change")),
             OwnerPage("password-changed", reverse("admin:password_change_done"))]  # fmt: skip
    apps = []
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label):
        if not model_admin.has_view_permission(request):
            continue
        if model._meta.app_label not in apps:
            apps.append(model._meta.app_label)
            app_config = model._meta.app_config
            pages.append(OwnerPage(f"app-{slugify(app_config.verbose_name)}",
                                   reverse("admin:app_list", args=[model._meta.app_label])))  # fmt: skip
        info = f"{model._meta.app_label}_{model._meta.model_name}"
        objects = seed.objects.get(model, {})
        if model in SHOWN_ON_ONE_PAGE:
            objects = {}  # (its list, each one and its history lead to that page: see SHOWN_ON_ONE_PAGE)
        else:
            pages.append(OwnerPage(_plural(model), reverse(f"admin:{info}_changelist")))
        if model_admin.has_add_permission(request):
            pages.append(OwnerPage(f"{_singular(model)}-add", reverse(f"admin:{info}_add")))
        for label, obj in objects.items():
            name = "-".join(part for part in (_singular(model), label) if part)
            pages.append(OwnerPage(name, reverse(f"admin:{info}_change", args=[obj.pk])))
        first_label, first = next(iter(objects.items()), (None, None))
        if first is not None:
            name = "-".join(part for part in (_singular(model), first_label) if part)
            pages.append(OwnerPage(f"{name}-history", reverse(f"admin:{info}_history", args=[first.pk])))
            # (an import's record is not deleted while its sessions are there: its page says so instead)
            deletable = [(label, obj) for label, obj in objects.items()
                         if model_admin.has_delete_permission(request, obj)
                         and getattr(obj, "may_be_deleted", lambda: True)()]  # fmt: skip
            for label, obj in deletable[:1]:
                name = "-".join(part for part in (_singular(model), label) if part)
                pages.append(OwnerPage(f"{name}-delete", reverse(f"admin:{info}_delete", args=[obj.pk])))
        for pattern in model_admin.get_urls():
            url_name = pattern.name or ""
            if url_name.removeprefix(f"{info}_") in STANDARD_VIEWS or not url_name:
                continue
            if url_name in NOT_PAGES or url_name in FORM_PAGES:
                continue
            if url_name not in CUSTOM_PAGES:
                raise AssertionError(f"{url_name}: a page for tests/owner_pages.py (CUSTOM_PAGES), or NOT_PAGES?")
            name, of = CUSTOM_PAGES[url_name]
            if of is None:
                pages.append(OwnerPage(name, reverse(f"admin:{url_name}")))
            elif of is User:
                pages.append(OwnerPage(name, reverse(f"admin:{url_name}", args=[seed.owner.pk])))
            else:
                for label, obj in seed.objects[of].items():
                    if of is ImportBatch and obj.undone_at:
                        continue  # (an undone import has nothing to undo: its page says so)
                    pages.append(OwnerPage(f"{name}-{label}", reverse(f"admin:{url_name}", args=[obj.pk])))
    names = [page.name for page in pages]
    assert len(set(names)) == len(names), sorted(name for name in names if names.count(name) > 1)
    return pages
