"""The sessions import as a background job (see jobs): the check is the import's dry run, which
keeps the rows it found new, typed and checked; the run, once confirmed, writes exactly those,
looking again only at what may have changed since (a row another import stored meanwhile).

A check may stop at a question the first rows did not raise (the columns page asked those): dates
that could be either, further down; or find rows without an odometer while no rule was chosen for
them. Its report then holds the question ({"kind", "message"}), which the job's page asks, and its
upload is kept to be checked again with the answer (jobs.services.job_check_again)."""

from pathlib import Path

from django.contrib.auth.models import User

from cars_app.models import Car
from jobs.kinds import JobKind, JobResult, Progress, job_kind_register
from jobs.models import Job
from plugtrack_site.errors import PlugTrackError

from .asks import BLANK_ODOMETER
from .batches import ImportSource
from .choices import ImportChoices
from .csv_io import ImportOptions, charging_sessions_checked_import, charging_sessions_import, csv_rows_estimate
from .formats.shape import ShapeQuestion
from .importer import column_label, issues_labelled

BLANK_ODOMETER_KIND = "odometer blank"  # (the rows' problem, as mapped.RowConverter names it)


def sessions_import_run(job: Job, *, dry_run: bool, progress: Progress) -> JobResult:
    car = Car.objects.filter(pk=job.options["car_id"]).select_related("user").first()
    if car is None or not (job.user.is_superuser or car.user_id == job.user_id):
        raise PlugTrackError("That car is no longer one of yours: nothing was imported.")
    checked_rows = Path(f"{job.upload}.checked")  # what the check found new, typed: the run writes it as it is
    if dry_run:
        try:
            return _check(job, car, checked_rows, progress)
        except ShapeQuestion as question:
            asked = {"kind": question.kind, "message": question.for_admin()}
            return JobResult(
                ok=False, report={"question": asked, "stopped_by_question": True, "source": job.upload_name},
                outcome=[("warning", question.for_admin())], answerable=True,
            )  # fmt: skip
    check = job.report
    if check["error_count"] and not job.options.get("allow_partial"):
        raise PlugTrackError(f"{check['error_count']} row(s) have errors: nothing was imported.")
    report = charging_sessions_checked_import(
        user=car.user, car=car, checked_rows=checked_rows, source=ImportSource(job.upload_name, job.upload),
        check=check, progress=progress,
    )  # fmt: skip
    checked_rows.unlink()  # kept until now: a run that could not start may be confirmed again
    data = check | {
        "dry_run": False, "inserted": report.inserted, "skipped_duplicates": report.skipped_duplicates,
        "batch_id": report.batch_id,
    }  # fmt: skip
    done = f"Imported {report.inserted} session(s) into {car}; {data['skipped_duplicates']} were already there"
    left_out = f"; {check['error_count']} row(s) with errors were left out" if check["error_count"] else ""
    return JobResult(ok=True, report=data, outcome=[("success", f"{done}{left_out}.")])


def _check(job: Job, car: Car, checked_rows: Path, progress: Progress) -> JobResult:
    """The check counts the valid new rows even when others have errors: they may be imported alone.
    Every error also goes to <upload>.err.csv beside the upload: the job page offers it for download.
    Rows without an odometer, with no rule chosen for them, make the report ask for one."""
    choices = ImportChoices.from_options(job.options)
    report = charging_sessions_import(
        user=car.user, car=car, source=job.upload,
        options=ImportOptions(
            source_name=job.upload_name,
            dry_run=True,
            allow_partial=True,
            progress=progress,
            keep_checked_rows=checked_rows,
            file_format=job.options.get("file_format") or "plugtrack",
            choices=choices,
        ),
    )  # fmt: skip
    data = _with_column_labels(report.to_dict() | {"car_id": car.pk})
    confirmable = report.inserted > 0 and not report.stopped_at
    if not confirmable:
        checked_rows.unlink(missing_ok=True)  # nothing will be run
    blank = next((group for group in data["groups"] if group["kind"] == BLANK_ODOMETER_KIND), None)
    if blank and choices.blank_odometer == "error":  # a rule for them may be chosen, and the file checked again
        question = ShapeQuestion(
            f"{blank['count']:,} row(s) have no odometer (the first on line {blank['examples'][0]['row']}). Such a row "
            "is an error, unless you choose to leave it out or to give it the previous session's odometer (",
            BLANK_ODOMETER, ").",
        )  # fmt: skip
        data["question"] = {"kind": question.kind, "message": question.for_admin()}
    return JobResult(ok=report.ok, report=data, confirmable=confirmable, answerable="question" in data)


def _with_column_labels(report: dict) -> dict:
    groups = [group | {"column": column_label(group["field"])} for group in report["groups"]]
    return report | {
        "errors": issues_labelled(report["errors"]), "warnings": issues_labelled(report["warnings"]), "groups": groups
    }  # fmt: skip



def _permitted(user: User, job: Job) -> bool:
    return user.has_perm("sessions_app.add_chargingsession")


job_kind_register(
    Job.Kind.SESSIONS_IMPORT,
    JobKind(
        run=sessions_import_run,
        # (TeslaFi's file has a line per poll, its report a row per session: no total to measure against)
        total=lambda job: 0 if job.options.get("file_format") == "teslafi" else csv_rows_estimate(job.upload),
        permitted=_permitted,
        report_template="admin/jobs/sessions_import_report.html",
        confirm_options=("allow_partial",),
    ),
)
