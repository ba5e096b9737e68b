from pathlib import Path

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from jobs.admin import job_page_url
from jobs.models import Job
from jobs.services import job_start
from plugtrack_site.admin_scoping import OwnedModelAdmin
from plugtrack_site.dates import moment_text
from plugtrack_site.errors import PlugTrackError
from plugtrack_site.uploads import upload_form_valid
from settings_app import crypto

from .forms import BackupCreateForm, BackupScheduleForm, RestoreUploadForm
from .models import Backup, BackupSchedule
from .schedules import SchedulePlan, schedule_save
from .services import RESTORE_PERMISSIONS, backups_delete
from .tasks import backups_tick_ensure


@admin.register(Backup)
class BackupAdmin(OwnedModelAdmin):
    """Lists the backups PlugTrack wrote; creates, downloads and restores them for the logged-in user."""

    change_list_template = "admin/backups/backup/change_list.html"
    # What each backup holds in one column, and its file as a link: the list fits a laptop's 1366 px.
    list_display = ["created_at", "kind", "size", "contents", "encrypted_badge", "verified", "offsite", "download"]
    list_filter = ["kind"]
    # A backup's own page: what a person wants to know of it, not where the server keeps it.
    fields = ["created_at", "kind", "download", "size", "contents", "encryption", "verification", "offsite_copy"]
    readonly_fields = ["download", "size", "contents", "encryption", "verification", "offsite_copy"]

    def has_add_permission(self, request):
        return False  # a backup is made with the "Create backup" button, not typed in

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        backups_delete(Backup.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        backups_delete(queryset)

    @admin.display(description="contents")
    def contents(self, backup):
        return f"{backup.cars:,} cars, {backup.sessions:,} sessions, {backup.settings:,} settings"

    # A badge for an encrypted backup and nothing for a plain one: a column of red crosses reads as errors.
    @admin.display(description="encrypted", ordering="encrypted", empty_value="")
    def encrypted_badge(self, backup):
        return format_html('<span class="pt-badge">{}</span>', "encrypted") if backup.encrypted else ""

    @admin.display(description="encrypted")
    def encryption(self, backup):
        if backup.encrypted:
            return "Yes, with a passphrase: 7-Zip, WinZip or PlugTrack's restore open it with that passphrase."
        return "No: a plain ZIP, which anyone who has the file can read."

    @admin.display(description="verified")
    def verification(self, backup):
        if backup.verification_error:
            return f"No: {backup.verification_error}"
        if backup.verified_at:
            return f"Yes: read back and checked as a restore would, {moment_text(backup.verified_at)}."
        return "Only scheduled backups are read back to check them."

    @admin.display(description="off-site copy")
    def offsite_copy(self, backup):
        if backup.offsite_at:
            return f"Copied {moment_text(backup.offsite_at)}."
        return f"Not yet: {backup.offsite_error}" if backup.offsite_error else "None."

    @admin.display(description="verified", empty_value="")
    def verified(self, backup):
        if backup.verification_error:
            return format_html('<strong title="{}">failed</strong>', backup.verification_error)
        return format_html('<span class="pt-badge">{}</span>', "verified") if backup.verified_at else ""

    @admin.display(description="off-site", empty_value="")
    def offsite(self, backup):
        if backup.offsite_error and not backup.offsite_at:
            return format_html('<strong title="{}">not yet</strong>', backup.offsite_error)
        return format_html('<span class="pt-badge">{}</span>', "copied") if backup.offsite_at else ""

    @admin.display(description="size")
    def size(self, backup):
        return f"{backup.size_bytes / 1024:,.1f} KB"

    @admin.display(description="file")
    def download(self, backup):
        if not Path(backup.path).is_file():
            return "no longer on disk"
        url = reverse("admin:backups_backup_download", args=[backup.pk])
        return format_html('<a href="{}" title="{}">Download</a>', url, Path(backup.path).name)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("create/", view(self.create_view), name="backups_backup_create"),
            path("<int:pk>/download/", view(self.download_view), name="backups_backup_download"),
            path("restore/", view(self.restore_view), name="backups_backup_restore"),
            path("schedule/", view(self.schedule_view), name="backups_backup_schedule"),
            *super().get_urls(),
        ]

    def _require(self, allowed: bool) -> None:
        if not allowed:
            raise PermissionDenied

    def may_create(self, request) -> bool:
        return request.user.has_perm("backups.add_backup")

    def may_restore(self, request, mode: str = "merge") -> bool:
        return request.user.has_perms(RESTORE_PERMISSIONS[mode])

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_create": self.may_create(request),
            "may_restore": self.may_restore(request),
            "schedule_said": _schedule_said(BackupSchedule.objects.filter(user=request.user).first()),
        }
        return super().changelist_view(request, extra_context)

    @staticmethod
    def _to_changelist():
        return redirect("admin:backups_backup_changelist")

    def create_view(self, request):
        """A backup now, plain or encrypted with the owner's backup passphrase: the worker writes it. A
        passphrase typed here reaches the worker as the restore's does (encrypted with the settings'
        keys, in the job), and the job drops it once the backup is written; the saved one is read there."""
        self._require(self.may_create(request))
        schedule = BackupSchedule.objects.filter(user=request.user).first()
        form = BackupCreateForm(request.POST or None, schedule=schedule)
        if request.method == "POST" and form.is_valid():
            options = {"encrypt": form.cleaned_data["encryption"]}
            try:
                if options["encrypt"] == BackupCreateForm.TYPED:  # for the worker, never in clear in the database
                    options["passphrase"] = crypto.encrypt(form.cleaned_data["passphrase"])
            except PlugTrackError as error:  # no key to keep it with
                form.add_error(None, str(error))
            else:
                job = job_start(user=request.user, kind=Job.Kind.BACKUP_CREATE, phase=Job.Phase.RUN, options=options)
                return redirect(job_page_url(job))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Create a backup now",
            "form": form, "submit": "Create the backup",
        }  # fmt: skip
        return TemplateResponse(request, "admin/backups/backup/create.html", context)

    def download_view(self, request, pk: int):
        self._require(self.has_view_permission(request))
        backup = get_object_or_404(self.get_queryset(request), pk=pk)  # only the user's own backups
        if not Path(backup.path).is_file():
            raise Http404("This backup file is no longer on disk.")
        return FileResponse(open(backup.path, "rb"), as_attachment=True, filename=Path(backup.path).name)

    def schedule_view(self, request):
        """The owner's schedule: off, daily or weekly at an hour, encrypted or not, and what is kept."""
        self._require(self.may_create(request))
        schedule = BackupSchedule.objects.filter(user=request.user).first() or BackupSchedule(user=request.user)
        form = BackupScheduleForm(request.POST or None, instance=schedule)
        if request.method == "POST" and form.is_valid():
            values = {name: form.cleaned_data[name] for name in BackupScheduleForm.Meta.fields}
            try:
                schedule_save(
                    user=request.user, plan=SchedulePlan(**values), passphrase=form.cleaned_data["passphrase"]
                )
            except (PlugTrackError, ValidationError) as error:
                form.add_error(None, error.messages if isinstance(error, ValidationError) else str(error))
            else:
                backups_tick_ensure()  # the worker's hourly run, queued if it is not yet
                # (the list says what the schedule is, once, above the backups: the banner only says it is saved)
                messages.success(request, "Schedule saved.")
                return self._to_changelist()
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Scheduled backups",
            "form": form, "submit": "Save the schedule",
        }  # fmt: skip
        return TemplateResponse(request, "admin/backups/backup/schedule.html", context)

    def restore_view(self, request):
        """Upload a ZIP and choose the mode: the worker checks it (the restore's dry run, shown on the
        job's page) and restores only once the person confirms there."""
        self._require(self.may_restore(request))
        modes = [mode for mode in RESTORE_PERMISSIONS if self.may_restore(request, mode)]
        form = RestoreUploadForm(request.POST or None, request.FILES or None, modes=modes)
        if request.method == "POST" and upload_form_valid(form, request, "backup_file"):
            options = {"mode": form.cleaned_data["mode"]}
            if passphrase := form.cleaned_data["passphrase"]:  # for the worker, never in clear in the database
                options["passphrase"] = crypto.encrypt(passphrase)
            job = job_start(
                user=request.user, kind=Job.Kind.BACKUP_RESTORE, phase=Job.Phase.CHECK,
                uploaded=form.cleaned_data["backup_file"], options=options,
            )  # fmt: skip
            return redirect(job_page_url(job))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Restore a backup",
            "form": form,
        }  # fmt: skip
        return TemplateResponse(request, "admin/backups/backup/restore.html", context)


def _schedule_said(schedule: BackupSchedule | None) -> str:
    if schedule is None or schedule.frequency == BackupSchedule.Frequency.OFF:
        return "Scheduled backups are off."
    when = f"at {schedule.hour:02d}:00" + (
        f" on {schedule.get_weekday_display()}s" if schedule.frequency == BackupSchedule.Frequency.WEEKLY else ""
    )
    encrypted = ", encrypted" if schedule.encrypt else ""
    return (
        f"Backups are made {schedule.get_frequency_display()} {when}{encrypted}; kept: the last "
        f"{schedule.keep_daily} days, {schedule.keep_weekly} weeks and {schedule.keep_monthly} months."
    )
