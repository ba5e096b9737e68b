"""The admin of what the imports left behind: each import's record (undone from here) and the owner's
saved column mappings."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.utils.text import slugify

from plugtrack_site.admin_scoping import OwnedModelAdmin
from plugtrack_site.errors import PlugTrackError

from ..forms import MappingProfileForm
from ..imports.batches import BatchNotFound, import_batch_undo
from ..imports.mapping_profiles import mapping_profile_export, mapping_profile_problem
from ..models import ImportBatch, MappingProfile


@admin.register(ImportBatch)
class ImportBatchAdmin(OwnedModelAdmin):
    """Every import, read-only, with an action that undoes the selected ones after a confirmation
    page saying what would go (sessions_app/imports/batches.py does the work, as the command does)."""

    list_display = ["created_at", "source_name", "car", "kind", "rows_read", "inserted", "skipped_duplicates",
                    "status"]  # fmt: skip
    list_filter = ["kind"]
    list_select_related = ["car", "user"]
    actions = ["undo_selected"]
    readonly_fields = [field.name for field in ImportBatch._meta.fields if field.name != "id"]

    def has_add_permission(self, request):
        return False  # an import makes its record

    def has_change_permission(self, request, obj=None):
        return False

    def has_undo_permission(self, request) -> bool:
        return request.user.has_perm("sessions_app.delete_chargingsession")

    @admin.display(description="status")
    def status(self, batch):
        if batch.undone_at:
            kept = f", {batch.kept_edited} edited kept" if batch.kept_edited else ""
            return f"undone {batch.undone_at:%d %b %Y %H:%M} ({batch.removed} removed{kept})"
        return "imported"

    def get_actions(self, request):
        # The record of an import goes with its car or owner; on its own it is undone, not deleted.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

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
                self.message_user(request, report.text, messages.SUCCESS)
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
