"""The tariffs' admin: tariffs with their versions (each version's page holds its bands), assignments,
the tariff file's import and export, and the costs recompute: a preview as a background job, applied
once confirmed, each applied one listed with its undo."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from jobs.admin import job_page_url
from jobs.models import Job
from jobs.services import job_start
from plugtrack_site.admin_scoping import DECIMALS_AS_WRITTEN, OwnedModelAdmin, sees_everything
from plugtrack_site.dates import date_text, moment_text
from plugtrack_site.errors import PlugTrackError
from plugtrack_site.uploads import upload_form_valid

from .file_format import MAX_FILE_BYTES
from .forms import BandForm, BandsFormSet, CostsRecomputeForm, TariffsFileForm
from .models import Assignment, Band, CostRecompute, Tariff, TariffVersion, days_text
from .octopus import tariff_prices_fetch
from .selectors import tariffs_export
from .services import costs_recompute_undo, tariffs_import


class VersionInline(admin.TabularInline):
    model = TariffVersion
    formfield_overrides = DECIMALS_AS_WRITTEN
    fields = ["valid_from", "default_p_per_kwh", "standing_p_per_day", "bands_link"]
    readonly_fields = ["bands_link"]
    extra = 0

    @admin.display(description="bands")
    def bands_link(self, version):
        if version.pk is None:
            return "save first, then add its bands"
        bands = list(version.bands.all())
        said = "; ".join(f"{band.label} {days_text(band.days)} {band.p_per_kwh.normalize():f}p" for band in bands)
        url = reverse("admin:tariffs_tariffversion_change", args=[version.pk])
        return format_html('<a href="{}">{}</a>', url, said or "no bands: add them")


@admin.register(Tariff)
class TariffAdmin(OwnedModelAdmin):
    change_list_template = "admin/tariffs/tariff/change_list.html"
    list_display = ["name", "time_zone", "versions_count", "prices", "fetch_daily", "fetch_note"]
    fieldsets = [
        (None, {"fields": ["name", "time_zone"]}),
        ("Half-hourly prices from Octopus", {"fields": ["octopus_product", "octopus_region", "fetch_daily",
                                                         "fetched_at", "fetch_note"]}),
    ]  # fmt: skip
    readonly_fields = ["fetched_at", "fetch_note"]
    inlines = [VersionInline]
    actions = ["fetch_prices"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="tariffs_tariff_import"),
            path("export/", view(self.export_view), name="tariffs_tariff_export"),
            *super().get_urls(),
        ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("versions")

    @admin.display(description="versions")
    def versions_count(self, tariff):
        return len(tariff.versions.all())

    @admin.display(description="half-hourly prices")
    def prices(self, tariff):
        return f"{tariff.prices.count():,}"

    @admin.action(description="Fetch their half-hourly prices from Octopus now")
    def fetch_prices(self, request, queryset):
        for tariff in queryset:
            try:
                report = tariff_prices_fetch(tariff=tariff)
            except PlugTrackError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, report.text, messages.SUCCESS)

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TariffsFileForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and upload_form_valid(form, request, "tariffs_file"):
            upload = form.cleaned_data["tariffs_file"]
            try:
                if upload.size > MAX_FILE_BYTES:
                    raise PlugTrackError(
                        f"The file is larger than a tariff file may be ({MAX_FILE_BYTES // 2**20} MB)."
                    )
                done = tariffs_import(user=request.user, data=upload.read(), source=upload.name)
            except PlugTrackError as error:
                form.add_error("tariffs_file", str(error))
            else:
                self.message_user(
                    request, f"Imported {done.tariffs_added} new tariff(s), replaced {done.tariffs_replaced}, stored "
                    f"{done.prices:,} half-hourly price(s) and {done.assignments} assignment(s). Recompute the costs "
                    "to price your sessions with them.", messages.SUCCESS,
                )  # fmt: skip
                return redirect("admin:tariffs_tariff_changelist")
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Import tariffs",
            "form": form, "submit": "Import",
        }  # fmt: skip
        return TemplateResponse(request, "admin/tariffs/tariff/import.html", context)

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        text = json.dumps(tariffs_export(user=request.user), indent=1, ensure_ascii=False) + "\n"
        response = HttpResponse(text, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="tariffs.json"'
        return response


@admin.register(TariffVersion)
class TariffVersionAdmin(admin.ModelAdmin):
    """A version's page: its prices and its bands (checked together: no overlap)."""

    fields = ["tariff", "valid_from", "default_p_per_kwh", "standing_p_per_day"]
    formfield_overrides = DECIMALS_AS_WRITTEN
    list_display = ["__str__", "default_p_per_kwh", "standing_p_per_day"]

    class BandInline(admin.TabularInline):
        model = Band
        form = BandForm
        formfield_overrides = DECIMALS_AS_WRITTEN
        formset = BandsFormSet
        extra = 1

    inlines = [BandInline]

    def has_module_permission(self, request):
        return False  # reached from its tariff's page

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("tariff")
        return queryset if sees_everything(request) else queryset.filter(tariff__user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tariff" and not sees_everything(request):
            kwargs["queryset"] = Tariff.objects.filter(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def response_change(self, request, obj):
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            return redirect("admin:tariffs_tariff_change", obj.tariff_id)
        return super().response_change(request, obj)


@admin.register(Assignment)
class AssignmentAdmin(OwnedModelAdmin):
    list_display = ["tariff", "scope", "valid_from"]
    list_filter = ["tariff"]
    fields = ["tariff", "valid_from", "car", "where", "location_label"]
    owned_foreign_keys = ("tariff", "car")

    @admin.display(description="prices")
    def scope(self, assignment):
        return assignment.scope_text


@admin.register(CostRecompute)
class CostRecomputeAdmin(OwnedModelAdmin):
    """The applied recomputes, newest first, the latest with its undo; "Recompute costs" starts one."""

    change_list_template = "admin/tariffs/costrecompute/change_list.html"
    list_display = ["created_at", "what", "sessions_changed", "total_before_gbp", "total_after_gbp", "undo"]

    def has_add_permission(self, request):
        return False  # started with the "Recompute costs" button: a preview first

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # its record is what an undo writes back from: undo it instead

    def may_recompute(self, request) -> bool:
        return request.user.has_perm("tariffs.add_costrecompute")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("recompute/", view(self.recompute_view), name="tariffs_costrecompute_recompute"),
            path("<int:pk>/undo/", view(self.undo_view), name="tariffs_costrecompute_undo"),
            *super().get_urls(),
        ]

    @admin.display(description="sessions")
    def what(self, recompute):
        car = f"{recompute.car}" if recompute.car_id else "every car"
        period = " to ".join(date_text(day) for day in (recompute.date_from, recompute.date_to) if day)
        return f"{car}{', ' + period if period else ''}"

    @admin.display(description="")
    def undo(self, recompute):
        if recompute.undone_at:
            return f"undone {moment_text(recompute.undone_at)}"
        latest = CostRecompute.objects.filter(user_id=recompute.user_id, undone_at__isnull=True).first()
        if latest is None or latest.pk != recompute.pk:
            return ""
        url = reverse("admin:tariffs_costrecompute_undo", args=[recompute.pk])
        return format_html('<a href="{}" class="pt-undo">Undo</a>', url)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"may_recompute": self.may_recompute(request), **(extra_context or {})})

    def recompute_view(self, request):
        """Which sessions: the preview runs in the worker and shows on its job's page, where it is confirmed."""
        if not self.may_recompute(request):
            raise PermissionDenied
        form = CostsRecomputeForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            options = {
                "car_id": data["car"].pk if data["car"] else None,
                "date_from": data["date_from"].isoformat() if data["date_from"] else None,
                "date_to": data["date_to"].isoformat() if data["date_to"] else None,
            }
            job = job_start(user=request.user, kind=Job.Kind.COSTS_RECOMPUTE, phase=Job.Phase.CHECK, options=options)
            return redirect(job_page_url(job))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Recompute costs",
            "form": form, "submit": "Preview",
        }  # fmt: skip
        return TemplateResponse(request, "admin/tariffs/costrecompute/recompute.html", context)

    def undo_view(self, request, pk):
        """Asks first (what goes back), then undoes on the confirmation's POST."""
        if not self.may_recompute(request):
            raise PermissionDenied
        recompute = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method == "POST":
            try:
                written = costs_recompute_undo(user=recompute.user, recompute=recompute)
            except PlugTrackError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, f"Undone: {written:,} session(s) have their previous costs again.")
            return redirect("admin:tariffs_costrecompute_changelist")
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Undo a costs recompute",
            "recompute": recompute,
        }  # fmt: skip
        return TemplateResponse(request, "admin/tariffs/costrecompute/undo_confirm.html", context)
