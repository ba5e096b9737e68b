from pathlib import Path

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from jobs.confirm import job_confirm
from jobs.forms import JobConfirmForm
from jobs.models import Job
from jobs.services import Outcome, job_check, job_discard
from plugtrack_site.admin_scoping import OwnedModelAdmin
from plugtrack_site.errors import PlugTrackError
from plugtrack_site.uploads import upload_form_valid

from .forms import RestoreUploadForm
from .models import Backup
from .services import RESTORE_PERMISSIONS, RestoreReport, backup_create, backup_restore, backups_delete


@admin.register(Backup)
class BackupAdmin(OwnedModelAdmin):
    """Lists the backups PlugTrack wrote; creates, downloads and restores them for the logged-in user."""

    change_list_template = "admin/backups/backup/change_list.html"
    list_display = ["created_at", "kind", "size", "cars", "sessions", "settings", "download"]
    list_filter = ["kind"]

    def has_add_permission(self, request):
        return False  # a backup is made with the "Create backup" button, not typed in

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        backups_delete(Backup.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        backups_delete(queryset)

    @admin.display(description="size")
    def size(self, backup):
        return f"{backup.size_bytes / 1024:,.1f} KB"

    @admin.display(description="file")
    def download(self, backup):
        if not Path(backup.path).is_file():
            return "no longer on disk"
        url = reverse("admin:backups_backup_download", args=[backup.pk])
        return format_html('<a href="{}">Download {}</a>', url, Path(backup.path).name)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("create/", view(self.create_view), name="backups_backup_create"),
            path("<int:pk>/download/", view(self.download_view), name="backups_backup_download"),
            path("restore/", view(self.restore_view), name="backups_backup_restore"),
            path("restore/confirm/", view(self.restore_confirm_view), name="backups_backup_restore_confirm"),
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
        }
        return super().changelist_view(request, extra_context)

    @staticmethod
    def _to_changelist():
        return redirect("admin:backups_backup_changelist")

    @method_decorator(require_POST)
    def create_view(self, request):
        self._require(self.may_create(request))
        try:
            backup = backup_create(user=request.user)
        except PlugTrackError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"Backup written: {backup.cars} cars, {backup.sessions} sessions, {backup.settings} settings.",
            )
        return self._to_changelist()

    def download_view(self, request, pk: int):
        self._require(self.has_view_permission(request))
        backup = get_object_or_404(self.get_queryset(request), pk=pk)  # only the user's own backups
        if not Path(backup.path).is_file():
            raise Http404("This backup file is no longer on disk.")
        return FileResponse(open(backup.path, "rb"), as_attachment=True, filename=Path(backup.path).name)

    def restore_view(self, request):
        """Upload a ZIP and choose the mode; the dry-run report is shown before anything is written."""
        self._require(self.may_restore(request))
        modes = [mode for mode in RESTORE_PERMISSIONS if self.may_restore(request, mode)]
        form = RestoreUploadForm(request.POST or None, request.FILES or None, modes=modes)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": "Restore a backup"}
        if request.method == "POST" and upload_form_valid(form, request, "backup_file"):
            mode = form.cleaned_data["mode"]
            try:
                job, report = job_check(
                    user=request.user, kind=Job.Kind.BACKUP_RESTORE, uploaded=form.cleaned_data["backup_file"],
                    options={"mode": mode},  # the confirm step restores in the mode whose dry run was shown
                    check=lambda job: self._restore(request, job, dry_run=True),
                )  # fmt: skip
            except PlugTrackError as error:
                form.add_error("backup_file", str(error))
            else:
                context["report"] = report
                if report.ok:
                    context["confirm_form"] = JobConfirmForm(initial={"token": job.token})
                else:
                    job_discard(job)
        context["form"] = form
        return TemplateResponse(request, "admin/backups/backup/restore.html", context)

    @method_decorator(require_POST)
    def restore_confirm_view(self, request):
        self._require(self.may_restore(request))
        if job_confirm(request, kind=Job.Kind.BACKUP_RESTORE, run=lambda job: self._restore_confirmed(request, job)):
            return self._to_changelist()
        return redirect("admin:backups_backup_restore")

    def _restore_confirmed(self, request, job: Job) -> tuple[bool, Outcome]:
        mode = job.options["mode"]
        if not self.may_restore(request, mode):  # the permissions may have changed since the check
            return False, [("error", f"You may no longer run a {mode} restore: nothing was changed.")]
        report = self._restore(request, job, dry_run=False)
        if not report.ok:
            return False, [("error", " ".join(report.notes))]
        return True, [("success", _restored_message(report)), *(("warning", warning) for warning in report.warnings)]

    @staticmethod
    def _restore(request, job: Job, *, dry_run: bool) -> RestoreReport:
        return backup_restore(
            user=request.user, source=job.upload, source_name=job.upload_name, mode=job.options["mode"], dry_run=dry_run
        )


def _restored_message(report: RestoreReport) -> str:
    sessions = report.sessions
    return (
        f"Restored ({report.mode}): {report.cars.inserted} cars added, {report.cars.updated} updated; "
        f"{sessions.inserted} sessions added, {sessions.skipped_duplicates} already there; "
        f"{report.settings.inserted + report.settings.updated} settings set."
    )
