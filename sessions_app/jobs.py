"""The sessions import as a background job (see jobs): the check is the import's dry run, and the
run, once confirmed, the import itself, of exactly the file that was checked."""

from django.contrib.auth.models import User

from cars_app.models import Car
from jobs.kinds import JobKind, JobResult, Progress, job_kind_register
from jobs.models import Job
from plugtrack_site.errors import PlugTrackError

from .csv_io import charging_sessions_import, csv_rows_estimate
from .models import ChargingSession

# A column in people's words: the model's own labels ("energy (kWh)" for charge_delivered_kwh).
COLUMN_LABELS = {field.name: str(field.verbose_name) for field in ChargingSession._meta.fields}


def sessions_import_run(job: Job, *, dry_run: bool, progress: Progress) -> JobResult:
    car = Car.objects.filter(pk=job.options["car_id"]).select_related("user").first()
    if car is None or not (job.user.is_superuser or car.user_id == job.user_id):
        raise PlugTrackError("That car is no longer one of yours: nothing was imported.")
    # The check counts the valid new rows even when others have errors: they may be imported alone.
    report = charging_sessions_import(
        user=car.user, car=car, source=job.upload, source_name=job.upload_name, dry_run=dry_run,
        allow_partial=dry_run or job.options.get("allow_partial", False), error_file=False, progress=progress,
    )  # fmt: skip
    data = report.to_dict() | {"car_id": car.pk}
    for issue in data["errors"] + data["warnings"]:
        issue["column"] = COLUMN_LABELS.get(issue["field"], "the whole row")
    if dry_run:
        return JobResult(ok=report.ok, report=data, confirmable=report.inserted > 0 and not report.stopped_at)
    if not report.inserted and report.error_count:
        return JobResult(ok=False, report=data, outcome=[("error", " ".join(report.notes))])
    done = f"Imported {report.inserted} session(s) into {car}; {report.skipped_duplicates} were already there"
    left_out = f"; {report.error_count} row(s) with errors were left out" if report.error_count else ""
    warnings = [
        ("warning", f"Line {w.row}, {COLUMN_LABELS.get(w.field, w.field)}: {w.message}") for w in report.warnings[:20]
    ]
    return JobResult(ok=True, report=data, outcome=[("success", f"{done}{left_out}."), *warnings])


def _permitted(user: User, job: Job) -> bool:
    return user.has_perm("sessions_app.add_chargingsession")


job_kind_register(
    Job.Kind.SESSIONS_IMPORT,
    JobKind(
        run=sessions_import_run,
        total=lambda job: csv_rows_estimate(job.upload),
        permitted=_permitted,
        report_template="admin/jobs/sessions_import_report.html",
        confirm_options=("allow_partial",),
    ),
)
