"""The statements' admin, in owners' words: "Money back for business miles" makes a car's statement
for a month (the figures on the page, the CSV and PDF to download, finalise to keep it); each kept
statement has its page and its files exactly as finalised. The rate table is the administrator's."""

from django.contrib import admin, messages
from django.db import models
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from plugtrack_site.admin_scoping import OwnedModelAdmin, sees_everything
from plugtrack_site.errors import PlugTrackError

from .compute import statement_compute
from .delivery import statement_delivery_retry
from .forms import StatementForm
from .models import BusinessMark, Rate, ReimbursementProfile, Statement, StatementDelivery
from .render import PdfUnavailableError, statement_context, statement_csv, statement_pdf
from .services import statement_content, statement_finalise

FILE_TYPES = {"csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin):
    list_display = ["scheme", "valid_from", "charging", "from_business_mile", "amount_shown", "source", "seeded",
                    "edited_at"]  # fmt: skip
    list_filter = ["scheme", "charging", "seeded"]
    fields = ["scheme", "valid_from", "charging", "from_business_mile", "amount", "source_url", "source_note",
              "seeded", "edited_at"]  # fmt: skip
    readonly_fields = ["seeded", "edited_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="rate")
    def amount_shown(self, rate):
        return rate.amount_text

    @admin.display(description="source")
    def source(self, rate):
        return format_html('<a href="{}">{}</a>', rate.source_url, rate.source_note or rate.source_url) if (
            rate.source_url) else rate.source_note  # fmt: skip

    # The rates are the same for every owner: only an administrator changes them.
    def has_add_permission(self, request):
        return sees_everything(request)

    def has_change_permission(self, request, obj=None):
        return sees_everything(request)

    def has_delete_permission(self, request, obj=None):
        return sees_everything(request)

    def save_model(self, request, obj, form, change):
        if change:
            obj.edited_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(ReimbursementProfile)
class ReimbursementProfileAdmin(OwnedModelAdmin):
    list_display = ["car", "scheme", "employer", "reference", "business_miles", "monthly"]
    list_filter = ["scheme", "monthly"]
    owned_foreign_keys = ("car",)
    fieldsets = [
        (None, {"fields": ["car", "scheme", "employer", "reference"]}),
        ("The month's figures", {"fields": ["business_miles", "german_price"]}),
        ("Made and sent each month", {"fields": ["monthly", "email_to"]}),
    ]


@admin.register(BusinessMark)
class BusinessMarkAdmin(OwnedModelAdmin):
    """Sessions marked as charged for business miles (their miles are the business miles of a car whose
    profile says "the sessions marked business")."""

    list_display = ["session", "marked_at"]
    raw_id_fields = ["session"]
    fields = ["session"]


@admin.register(Statement)
class StatementAdmin(OwnedModelAdmin):
    """Finalised statements: listed, each shown as made with its files; never changed."""

    list_display = ["car_name", "month_shown", "scheme", "version", "claim_shown", "finalised_at", "made_by"]
    list_filter = ["scheme", "made_by"]
    search_fields = ["car_name"]
    change_list_template = "admin/statements/statement/change_list.html"
    actions = ["send_again"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("make/", view(self.make_view), name="statements_statement_make"),
            path("<int:object_id>/file/<str:kind>/", view(self.file_view), name="statements_statement_file"),
            *super().get_urls(),
        ]

    @admin.display(description="month", ordering="month")
    def month_shown(self, statement):
        return f"{statement.month:%B %Y}"

    @admin.display(description="claim", ordering="claim")
    def claim_shown(self, statement):
        return f"{'€' if statement.currency == 'EUR' else '£'}{statement.claim:,.2f}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a claim's record, kept as finalised (a new version supersedes it)

    @admin.action(description="Send their given-up deliveries again")
    def send_again(self, request, queryset):
        deliveries = StatementDelivery.objects.filter(statement__in=queryset, status=StatementDelivery.Status.FAILED)
        count = 0
        for delivery in deliveries:
            statement_delivery_retry(delivery=delivery)
            count += 1
        messages.success(request, f"{count} delivery(ies) will be sent again by the worker within the hour.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        statement = get_object_or_404(self.get_queryset(request), pk=object_id)
        try:
            content = statement_content(statement)
        except PlugTrackError as error:
            messages.error(request, error.for_admin())
            return redirect("admin:statements_statement_changelist")
        context = {
            **self.admin_site.each_context(request),
            **statement_context(content),
            "opts": self.model._meta,
            "title": str(statement),
            "statement": statement,
            "deliveries": statement.deliveries.all(),
            "files": [(kind, getattr(statement, f"{kind}_sha256")) for kind in FILE_TYPES],
            "versions": Statement.objects.filter(user=statement.user_id, car=statement.car_id, month=statement.month,
                                                 scheme=statement.scheme).order_by("version"),  # fmt: skip
        }
        return TemplateResponse(request, "admin/statements/statement/detail.html", context)

    def file_view(self, request, object_id, kind):
        statement = get_object_or_404(self.get_queryset(request), pk=object_id)
        if kind not in FILE_TYPES:
            return redirect("admin:statements_statement_change", statement.pk)
        data = getattr(statement, kind)
        if data is None:
            messages.error(request, "This statement was finalised without its PDF (WeasyPrint was missing then).")
            return redirect("admin:statements_statement_change", statement.pk)
        return _download(bytes(data), kind, f"{statement.file_stem}.{kind}")

    def make_view(self, request):
        """The statement asked for, worked out on the page, with its CSV and PDF; finalise keeps it."""
        source = request.POST if request.method == "POST" else (request.GET if "car" in request.GET else None)
        form = StatementForm(source, user=request.user)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "title": "Money back for business miles: a statement"}  # fmt: skip
        if source is None or not form.is_valid():
            return TemplateResponse(request, "admin/statements/statement/make.html", context)
        statement_request = form.request()
        try:
            if request.method == "POST":
                finalised = statement_finalise(request=statement_request, made_by=Statement.MadeBy.ADMIN)
                said = "Finalised" if finalised.created else "Unchanged since it was finalised; kept as"
                messages.success(request, f"{said} {finalised.statement}.")
                return redirect("admin:statements_statement_change", finalised.statement.pk)
            content = statement_compute(statement_request)
        except PlugTrackError as error:
            messages.error(request, error.for_admin())
            return TemplateResponse(request, "admin/statements/statement/make.html", context)
        stem = f"statement-{statement_request.car.pk}-{content['month']}-{content['scheme']}-draft"
        download = request.GET.get("download")
        if download == "csv":
            return _download(statement_csv(content), "csv", f"{stem}.csv")
        if download == "pdf":
            try:
                return _download(statement_pdf(content), "pdf", f"{stem}.pdf")
            except PdfUnavailableError as error:
                messages.error(request, str(error))
        query = request.GET.copy()
        query.pop("download", None)
        context |= statement_context(content) | {"query": query.urlencode()}
        return TemplateResponse(request, "admin/statements/statement/make.html", context)


def _download(data: bytes, kind: str, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=FILE_TYPES[kind])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
