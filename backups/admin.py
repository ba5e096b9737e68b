import time
import uuid
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

from plugtrack_site.admin_scoping import OwnedModelAdmin
from plugtrack_site.errors import PlugTrackError

from .forms import RestoreConfirmForm, RestoreUploadForm
from .models import Backup
from .services import RESTORE_PERMISSIONS, backup_create, backup_restore, backups_delete, backups_dir

# token -> {"path": the uploaded file, "mode": the mode its dry run was shown for}, kept in the
# user's session: the confirm step restores exactly what the person saw checked.
SESSION_UPLOADS = "plugtrack_restore_uploads"
UPLOAD_LIFETIME_SECONDS = 24 * 3600


def _uploads_prune(folder: Path) -> None:
    """Remove uploads that were checked but never confirmed, once they are a day old."""
    for upload in folder.glob("*.zip"):
        if upload.stat().st_mtime < time.time() - UPLOAD_LIFETIME_SECONDS:
            upload.unlink(missing_ok=True)


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
        if request.method == "POST" and form.is_valid():
            token = uuid.uuid4().hex
            upload = backups_dir(request.user) / "uploads" / f"{token}.zip"
            upload.parent.mkdir(parents=True, exist_ok=True)
            _uploads_prune(upload.parent)
            with upload.open("wb") as handle:
                for chunk in form.cleaned_data["backup_file"].chunks():
                    handle.write(chunk)
            mode = form.cleaned_data["mode"]
            try:
                report = backup_restore(user=request.user, source=upload, mode=mode, dry_run=True)
            except PlugTrackError as error:
                upload.unlink(missing_ok=True)
                form.add_error("backup_file", str(error))
            else:
                request.session.setdefault(SESSION_UPLOADS, {})[token] = {"path": str(upload), "mode": mode}
                request.session.modified = True
                context |= {"report": report, "confirm_form": RestoreConfirmForm(initial={"token": token})}
        context["form"] = form
        return TemplateResponse(request, "admin/backups/backup/restore.html", context)

    @method_decorator(require_POST)
    def restore_confirm_view(self, request):
        self._require(self.may_restore(request))
        form = RestoreConfirmForm(request.POST)
        uploads = request.session.get(SESSION_UPLOADS, {})
        # Only a file this user uploaded in this session can be restored: the token is not a path.
        if not form.is_valid() or form.cleaned_data["token"] not in uploads:
            messages.error(request, "That upload has expired. Upload the backup again.")
            return redirect("admin:backups_backup_restore")
        checked = uploads.pop(form.cleaned_data["token"])
        request.session.modified = True
        upload, mode = Path(checked["path"]), checked["mode"]
        if not self.may_restore(request, mode):  # the permissions may have changed since the check
            upload.unlink(missing_ok=True)
            raise PermissionDenied
        try:
            report = backup_restore(user=request.user, source=upload, mode=mode)
        except PlugTrackError as error:
            messages.error(request, str(error))
            return redirect("admin:backups_backup_restore")
        finally:
            upload.unlink(missing_ok=True)
        if report.ok:
            sessions = report.sessions
            messages.success(
                request,
                f"Restored ({report.mode}): {report.cars.inserted} cars added, {report.cars.updated} updated; "
                f"{sessions.inserted} sessions added, {sessions.skipped_duplicates} already there; "
                f"{report.settings.inserted + report.settings.updated} settings set.",
            )
            for warning in report.warnings:
                messages.warning(request, warning)
        else:
            messages.error(request, " ".join(report.notes))
        return self._to_changelist()
