"""The admin of what the imports left behind: each import's record (its own page says what it brought, and
undoes it) and the owner's saved column mappings."""

import re

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import slugify
from django.utils.translation import gettext_lazy

from plugtrack_site.admin_scoping import OwnedModelAdmin, sees_everything
from plugtrack_site.dates import moment_text
from plugtrack_site.errors import PlugTrackError

from ..forms import MappingProfileForm
from ..imports.batches import BatchNotFound, UndoReport, import_batch_undo
from ..imports.mapping_profiles import mapping_profile_export, mapping_profile_problem
from ..models import ChargingSession, ImportBatch, MappingProfile

IMPORT_PARAMETER = "import"  # the sessions list's query parameter of one import's sessions


def _owned(request):
    batches = ImportBatch.objects.all()
    return batches if sees_everything(request) else batches.filter(user=request.user)


class ImportFilter(admin.SimpleListFilter):
    """The sessions one import added (?import=<its number>, linked from the import's page). Shown only
    when chosen; scoped as the list is, so another owner's import shows no session."""

    title = gettext_lazy("import")
    parameter_name = IMPORT_PARAMETER

    def _number(self) -> int | None:
        value = self.value()
        return int(value) if value and re.fullmatch(r"[0-9]{1,18}", value) else None

    def lookups(self, request, model_admin):
        if not self.value():
            return []  # not chosen: no filter to show (an owner's imports are many), and none applied
        number = self._number()
        batch = _owned(request).filter(pk=number).first() if number is not None else None
        return [(self.value(), str(batch) if batch else "an import that is not here")]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        number = self._number()
        return queryset.filter(batch_id=number) if number is not None else queryset.none()


def import_sessions_url(batch: ImportBatch) -> str:
    """The sessions list showing exactly the sessions `batch` added."""
    return f"{reverse('admin:sessions_app_chargingsession_changelist')}?{urlencode({IMPORT_PARAMETER: batch.pk})}"


_FORMATS = {
    "plugtrack": "PlugTrack's own CSV file (the columns PlugTrack's export writes)",
    "spreadsheet": "your own spreadsheet",
    "evcc": "evcc's sessions file",
    "teslafi": "TeslaFi's log, its readings rebuilt into charging sessions",
    "api": "sessions posted to PlugTrack's API, one at a time, by one token in one day",
}
_BLANK_ODOMETER = {
    "error": "a row without an odometer reading is an error",
    "skip": "rows without an odometer reading were left out",
    "previous": "a row without an odometer reading took the one before it (0 miles driven)",
}


def _field_label(column: str) -> str:
    try:
        return str(ChargingSession._meta.get_field(column).verbose_name)
    except FieldDoesNotExist:
        return column.replace("_", " ")


def columns_said(columns: dict) -> str:
    """A file's columns as the import read them, in people's words: "energy (kWh) from “Energie (kWh)”"."""
    said = []
    for column, heading in columns.items():
        heading = str(heading)
        if heading.endswith(" for every row"):  # a value the mapping gave every row, not a column of the file
            said.append(f"{_field_label(column)}: {heading.replace(chr(34), '')}")
        else:
            said.append(f"{_field_label(column)} from “{heading}”")
    return "; ".join(said)


def import_read_said(batch: ImportBatch) -> list[str]:
    """How the import read its file, in words, from what its record kept (the format, the file's shape,
    the mapping and the person's choices)."""
    if batch.kind == ImportBatch.Kind.RESTORE:
        return ["The sessions of a PlugTrack backup, merged into your cars (a merge restore)."]
    read = batch.mapping if isinstance(batch.mapping, dict) else {}
    lines = [f"Read as {_FORMATS.get(batch.format, batch.format)}."]
    if "encoding" not in read:  # PlugTrack's own CSV: nothing more was chosen
        return lines
    zone = f", times in {read['time_zone']}" if read.get("time_zone") else ""
    lines.append(
        f"Written as {read.get('encoding', '?')} text, {read.get('delimiter', '?')}-separated, with a decimal "
        f"{read.get('decimal_mark', '?')}, dates {read.get('date_order', '?')}{zone}."
    )
    name = str(read.get("mapping", ""))
    proposed = not name or name.endswith(" preset") or name in ("PlugTrack's own columns", "TeslaFi polls → sessions")
    whose = "as PlugTrack proposed for this kind of file" if proposed else f"with your mapping “{name}”"
    if isinstance(read.get("columns"), dict) and read["columns"]:
        lines.append(f"Columns, {whose}: {columns_said(read['columns'])}.")
    if read.get("ignored_columns"):
        lines.append("Left out: " + ", ".join(f"“{heading}”" for heading in read["ignored_columns"]) + ".")
    if read.get("money"):
        lines.append(f"Costs: {read['money']}.")
    if read.get("blank_odometer") in _BLANK_ODOMETER:
        lines.append(f"Odometer: {_BLANK_ODOMETER[read['blank_odometer']]}.")
    return lines


def undo_said(batch: ImportBatch, report: UndoReport) -> str:
    """An undo's outcome as the owner reads it."""
    kept = ""
    if report.kept_edited:
        kept = (
            f" {report.kept_edited} session{'s' if report.kept_edited != 1 else ''} edited since the import "
            "stayed: " + "; ".join(report.edited) + "."
        )
    return f"Import of {batch.source_name} undone: removed {report.removed} session(s).{kept}"


@admin.register(ImportBatch)
class ImportBatchAdmin(OwnedModelAdmin):
    """Every import, read-only: its own page says what it brought (and links to those sessions) and
    undoes it after a confirmation; so does the list's action for several. A record is not deleted
    while its sessions are there: undo is how they go (sessions_app/imports/batches.py does the work,
    as the command does)."""

    list_display = ["created_at", "source_name", "car", "kind", "rows_read", "new", "already_there", "status"]
    list_filter = ["kind"]
    list_select_related = ["car", "user"]
    actions = ["undo_selected"]
    change_form_template = "admin/sessions_app/importbatch/change_form.html"
    fieldsets = [
        (None, {"fields": ["what", "imported", "source_name", "read_as", "sessions_added", "status"]}),
        ("Rows of the file", {"fields": ["rows_read", "new", "already_there", "errors"]}),
    ]
    readonly_fields = ["what", "imported", "source_name", "read_as", "sessions_added", "status", "rows_read", "new",
                       "already_there", "errors"]  # fmt: skip

    def has_add_permission(self, request):
        return False  # an import makes its record

    def has_change_permission(self, request, obj=None):
        return False

    def has_undo_permission(self, request) -> bool:
        return request.user.has_perm("sessions_app.delete_chargingsession")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/undo/", view(self.undo_view), name="sessions_app_importbatch_undo"),
            *super().get_urls(),
        ]

    @admin.display(description="what")
    def what(self, batch):
        if batch.kind == ImportBatch.Kind.RESTORE:
            return "Sessions from a backup (a merge restore), into the backup's cars"
        return f"Charging sessions for {batch.car}" if batch.car else "Charging sessions"

    @admin.display(description="imported")
    def imported(self, batch):
        return moment_text(batch.created_at)

    @admin.display(description="new", ordering="inserted")
    def new(self, batch):
        return f"{batch.inserted:,}"

    @admin.display(description="already there (skipped)", ordering="skipped_duplicates")
    def already_there(self, batch):
        return f"{batch.skipped_duplicates:,}"

    @admin.display(description="how it was read")
    def read_as(self, batch):
        return format_html_join("", "<p>{}</p>", ((line,) for line in import_read_said(batch)))

    @admin.display(description="sessions it added")
    def sessions_added(self, batch):
        count = batch.sessions.filter(user_id=batch.user_id).count()
        if count:
            kept = " (kept by the undo: edited since the import)" if batch.undone_at else ""
            return format_html(
                '<a href="{}" id="pt-import-sessions">{} session{}{}: see them in the sessions list</a>',
                import_sessions_url(batch), f"{count:,}", "" if count == 1 else "s", kept,
            )  # fmt: skip
        if batch.undone_at:
            return "None left: the undo removed them."
        return "None left (deleted since)." if batch.inserted else "None: every row was there already."

    @admin.display(description="status")
    def status(self, batch):
        if batch.undone_at:
            kept = f", {batch.kept_edited} edited kept" if batch.kept_edited else ""
            return f"undone {moment_text(batch.undone_at)} ({batch.removed} removed{kept})"
        return "imported"

    def get_actions(self, request):
        # The record of an import goes with its car or owner; on its own it is undone, not deleted.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, unquote(object_id))
        if batch is not None:
            undoable = batch.undone_at is None and self.has_undo_permission(request)
            extra_context = {
                **(extra_context or {}), "title": f"The import of {batch.source_name}",
                "undo_url": reverse("admin:sessions_app_importbatch_undo", args=[batch.pk]) if undoable else None,
                "undo_count": batch.sessions.filter(user_id=batch.user_id, edited_at__isnull=True).count(),
                "show_delete": batch.may_be_deleted(),  # while its sessions are there, undo is how they go
            }  # fmt: skip
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        batch = self.get_object(request, unquote(object_id))
        if batch is not None and self.has_delete_permission(request, batch) and not batch.may_be_deleted():
            self.message_user(
                request,
                f"The record of {batch.source_name} stays while the sessions it added are there: undo the import "
                "to remove them (its record then says it was undone).",
                messages.ERROR,
            )
            return redirect("admin:sessions_app_importbatch_change", batch.pk)
        return super().delete_view(request, object_id, extra_context)

    def undo_view(self, request, object_id: str):
        """One import undone from its own page: what would go (and what would stay), then the undo
        once the person says yes."""
        batch = self.get_object(request, unquote(object_id))
        if batch is None:
            raise Http404("No such import.")
        if not self.has_undo_permission(request):
            raise PermissionDenied
        page = reverse("admin:sessions_app_importbatch_change", args=[batch.pk])
        try:
            if request.method == "POST" and request.POST.get("post") == "yes":
                include_edited = request.POST.get("include_edited") == "on"
                report = import_batch_undo(user=batch.user, batch_id=batch.pk, include_edited=include_edited)
                self.message_user(request, undo_said(batch, report), messages.SUCCESS)
                return redirect(page)
            preview = import_batch_undo(user=batch.user, batch_id=batch.pk, dry_run=True)
        except BatchNotFound:  # undone meanwhile (another tab)
            self.message_user(request, f"The import of {batch.source_name} was undone already.", messages.WARNING)
            return redirect(page)
        except PlugTrackError as error:  # e.g. another import still running on the account
            self.message_user(request, error.for_admin(), messages.ERROR)
            return redirect(page)
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta,
            "title": f"Undo the import of {batch.source_name}", "previews": [(batch, preview)],
            "any_edited": bool(preview.kept_edited), "page_url": page, "original": batch,
        }  # fmt: skip
        return TemplateResponse(request, "admin/sessions_app/importbatch/undo_confirm.html", context)

    @admin.action(description="Undo the selected imports", permissions=["undo"])
    def undo_selected(self, request, queryset):
        batches = list(queryset.filter(undone_at__isnull=True).select_related("user"))
        include_edited = request.POST.get("include_edited") == "on"
        if request.POST.get("post") != "yes":  # the confirmation page: what each undo would remove
            previews = [
                (batch, import_batch_undo(user=batch.user, batch_id=batch.pk, dry_run=True)) for batch in batches
            ]
            context = {
                **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Undo imports",
                "previews": previews, "queryset": queryset, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "any_edited": any(preview.kept_edited for _, preview in previews),
            }  # fmt: skip
            return TemplateResponse(request, "admin/sessions_app/importbatch/undo_confirm.html", context)
        for batch in batches:
            try:
                report = import_batch_undo(user=batch.user, batch_id=batch.pk, include_edited=include_edited)
            except BatchNotFound as error:  # undone meanwhile (another tab)
                self.message_user(request, error.for_admin(), messages.WARNING)
            else:
                self.message_user(request, undo_said(batch, report), messages.SUCCESS)
        return None


@admin.register(MappingProfile)
class MappingProfileAdmin(OwnedModelAdmin):
    """The owner's saved column mappings (offered again for files with the same headings): made from
    the import's "Which column is which" page or added here, edited as a form of the same rows
    (mappingprofile/change_form.html), or replaced by a JSON file uploaded; downloaded as JSON with an
    action."""

    form = MappingProfileForm
    fieldsets = [(None, {"fields": ["name"]})]  # (the mapping's rows and its JSON file: the template's own)
    list_display = ["name", "headings", "updated_at"]
    search_fields = ["name"]
    actions = ["download_json"]

    @admin.display(description="offered for files with the headings")
    def headings(self, profile):
        if mapping_profile_problem(profile):  # stored before mappings were checked: what it holds may not show
            return "(cannot be used: open it to see why, and replace it)"
        return ", ".join(profile.header[:8]) + (" …" if len(profile.header) > 8 else "") or "(used by name only)"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request.method == "GET" and (problem := mapping_profile_problem(obj)):
            self.message_user(request, problem, messages.WARNING)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.action(description="Download the selected mapping as JSON")
    def download_json(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose one mapping to download.", messages.WARNING)
            return None
        profile = queryset.get()
        try:
            exported = mapping_profile_export(profile)
        except PlugTrackError as error:
            self.message_user(request, error.for_admin(), messages.ERROR)
            return None
        response = JsonResponse(exported, json_dumps_params={"indent": 2, "ensure_ascii": False})
        response["Content-Disposition"] = f'attachment; filename="{slugify(profile.name) or "mapping"}.json"'
        return response
