import dataclasses
from pathlib import Path

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from cars_app.models import Car
from jobs.admin import job_page_context_register, job_page_url
from jobs.models import Job
from jobs.services import job_check_again, job_start, upload_keep, upload_kept
from plugtrack_site.admin_scoping import OwnedModelAdmin, sees_everything
from plugtrack_site.downloads import csv_download
from plugtrack_site.errors import PlugTrackError
from plugtrack_site.numbers import decimal_text
from plugtrack_site.pagination import IdsFirstPaginator
from plugtrack_site.uploads import upload_form_valid
from settings_app.services import user_settings_many

from .. import analytics
from ..forms import (
    ChargingSessionForm,
    ColumnMappingForm,
    ImportQuestionsForm,
    SessionsExportForm,
    SessionsImportForm,
)
from ..imports.choices import ImportChoices
from ..imports.csv_io import charging_sessions_csv, sessions_csv_name
from ..imports.formats.shape import ShapeQuestion
from ..imports.mapping_profiles import mapping_profile_save
from ..imports.preview import owner_file_preview, owner_file_questions
from ..models import ChargingSession
from ..plausibility import checks_summary, newly_flagged
from ..services import charging_session_save, charging_sessions_delete
from .imports import ImportFilter


class HomeOrPublicFilter(admin.SimpleListFilter):
    title = gettext_lazy("where")
    parameter_name = "where"

    def lookups(self, request, model_admin):
        return [("home", "Home"), ("public", "Public")]

    def queryset(self, request, queryset):
        if self.value() not in ("home", "public"):
            return queryset
        # order_by(): the model's default ordering would make DISTINCT return one row per session.
        user_ids = queryset.order_by().values_list("user_id", flat=True).distinct()
        home = analytics.home_sessions(user_settings_many(user_ids=user_ids))
        return queryset.filter(home) if self.value() == "home" else queryset.exclude(home)


class CheckFilter(admin.SimpleListFilter):
    """Sessions flagged by the plausibility checks (see plausibility.py)."""

    title = gettext_lazy("plausibility")
    parameter_name = "check"

    def lookups(self, request, model_admin):
        return [("yes", "To check"), ("no", "Plausible")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(checks__gt=0)
        if self.value() == "no":
            return queryset.filter(checks=0)
        return queryset


_IMPORT_WAITING = "pt-import-{}"  # the session's key of an upload waiting for its columns (by its token)
_BADGE_HOME = format_html('<span class="pt-badge">{}</span>', "home")
_BADGE_BASELINE = format_html(
    '<span class="pt-badge" title="{}">{}</span>', "The car's first session: its miles count from here", "baseline"
)


class CarFilter(admin.RelatedFieldListFilter):
    """The person's own cars (a superuser: every car). Django's RelatedOnlyFieldListFilter asks
    which cars the listed sessions belong to, a scan of all of them on every page."""

    def field_choices(self, field, request, model_admin):
        return [(car.pk, str(car)) for car in model_admin.selectable_cars(request)]


@admin.register(ChargingSession)
class ChargingSessionAdmin(OwnedModelAdmin):
    owned_foreign_keys = ("car",)
    exclude = ["user"]  # always the car's owner
    # Eleven columns that fit a laptop's 1366 px beside the filters: the home badge goes with the place, and the
    # baseline's with its miles (it has none: the car's miles start there).
    list_display = [
        "date",
        "car",
        "odometer_miles",
        "miles",
        "energy",
        "charge",
        "location",
        "efficiency",
        "pence_per_mile",
        "cost_gbp",
        "check_badge",
    ]
    list_filter = [("car", CarFilter), "charge_type", HomeOrPublicFilter, CheckFilter, ImportFilter]
    list_select_related = ["car"]
    # About two months of a daily driver's charging; each row has 13 computed cells, and at Django's
    # 100 rows a page spent most of its time rendering them.
    list_per_page = 50
    paginator = IdsFirstPaginator
    show_full_result_count = False  # a filtered list does not also count every session of the owner
    date_hierarchy = "date"
    search_fields = ["location_label", "charge_network", "notes"]
    readonly_fields = ["baseline_text", "checks_text", "created_at"]
    form = ChargingSessionForm
    change_list_template = "admin/sessions_app/chargingsession/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="sessions_app_chargingsession_import"),
            path(
                "import/<str:token>/columns/",
                view(self.import_columns_view),
                name="sessions_app_chargingsession_import_columns",
            ),  # fmt: skip
            path(
                "import/again/<int:job_id>/",
                view(self.import_again_view),
                name="sessions_app_chargingsession_import_again",
            ),  # fmt: skip
            path(
                "import/answer/<int:job_id>/",
                view(self.import_answer_view),
                name="sessions_app_chargingsession_import_answer",
            ),  # fmt: skip
            path("export/", view(self.export_view), name="sessions_app_chargingsession_export"),
            *super().get_urls(),
        ]

    def has_import_permission(self, request) -> bool:
        return self.has_add_permission(request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "has_import_permission": self.has_import_permission(request),
            "has_export_permission": self.has_view_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def selectable_cars(self, request):
        cars = Car.objects.order_by("name")
        return cars if sees_everything(request) else cars.filter(user=request.user)

    def import_view(self, request):
        """Upload a CSV for a car: the worker checks it (the import's dry run, shown on the job's
        page) and writes nothing until the person confirms there. An owner's own file shows its
        columns first ("Which column is which"), to confirm or change, with what its check would ask."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = SessionsImportForm(request.POST or None, request.FILES or None, cars=self.selectable_cars(request))
        if request.method == "POST" and upload_form_valid(form, request, "import_file"):
            car = form.cleaned_data["car"]
            options = {"car_id": car.pk, "file_format": form.cleaned_data["file_format"] or "plugtrack"}
            kept = upload_keep(user=request.user, uploaded=form.cleaned_data["import_file"])
            if options["file_format"] == "plugtrack":  # read as it is: the check says all there is to say
                return self._import_check_start(request, kept, options)
            try:
                preview = self._file_preview(car, kept, options)
            except PlugTrackError as error:
                kept.path.unlink(missing_ok=True)
                form.add_error("import_file", error.for_admin())
            else:
                if preview.mapping is None and not preview.questions:  # PlugTrack's own, TeslaFi's: nothing to ask
                    return self._import_check_start(request, kept, options | {"file_format": preview.file_format})
                request.session[_IMPORT_WAITING.format(kept.token)] = {"name": kept.name, "options": options}
                return redirect("admin:sessions_app_chargingsession_import_columns", token=kept.token)
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Import sessions", "form": form,
            "submit": "Check the file",
        }  # fmt: skip
        return TemplateResponse(request, "admin/sessions_app/chargingsession/import.html", context)

    def import_columns_view(self, request, token: str):
        """An owner's file between upload and check: its shape, the proposed mapping (each heading
        with its first values) and what its check would ask, to confirm, change and answer (and save
        the mapping by name); then the check runs with it all. Columns changed so that they raise a
        question not asked yet (a date column of dates that could be either) show the page again with it."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        waiting = request.session.get(_IMPORT_WAITING.format(token))
        kept = waiting and upload_kept(user=request.user, token=token, name=waiting["name"])
        if not kept:
            messages.error(request, "That upload is no longer here (it was checked already, or is over a day old).")
            return redirect("admin:sessions_app_chargingsession_import")
        options = waiting["options"]
        car = get_object_or_404(self.selectable_cars(request), pk=options["car_id"])
        try:
            preview = self._file_preview(car, kept, options)
        except PlugTrackError as error:  # (read a moment ago: e.g. a saved mapping since changed)
            messages.error(request, error.for_admin())
            return redirect("admin:sessions_app_chargingsession_import")
        form = self._columns_form(request.POST or None, kept, preview, options, preview.questions)
        if request.method == "POST":
            valid = form.is_valid()
            if more := self._questions_raised(car, kept, preview, form):
                form = self._columns_form(request.POST, kept, preview, options, [*preview.questions, *more])
                valid = form.is_valid() and False  # (its errors shown: the new question is not answered yet)
            if valid and (started := self._columns_confirmed(request, car, kept, preview, form, options)):
                return started
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form, "preview": preview,
            "title": "Which column is which" if preview.mapping else "Before the check", "source": kept.name,
            "car": car,
        }  # fmt: skip
        return TemplateResponse(request, "admin/sessions_app/chargingsession/import_columns.html", context)

    @staticmethod
    def _columns_form(data, kept, preview, options: dict, questions) -> ColumnMappingForm:
        return ColumnMappingForm(
            data, name=kept.name, header=preview.header, proposal=preview.mapping, samples=preview.samples,
            questions=questions, offered=("currency", "blank_odometer") if preview.mapping else (),
            kept=ImportChoices.from_options(options),
        )  # fmt: skip

    @staticmethod
    def _questions_raised(car: Car, kept, preview, form: ColumnMappingForm) -> list:
        """The questions the check would ask with the columns and answers given that were not asked."""
        choices = form.cleaned_data.get("choices")
        if choices is None:
            return []
        if form.mapping_chosen is not None:
            choices = dataclasses.replace(choices, mapping=form.mapping_chosen)
        found = owner_file_questions(
            user=car.user, path=kept.path, name=kept.name, file_format=preview.file_format, choices=choices
        )
        return [question for question in found if question.kind not in form.asked]

    def _columns_confirmed(self, request, car: Car, kept, preview, form: ColumnMappingForm, options: dict):
        """The check started with the columns and answers of `form` (the mapping saved first, if named);
        None when the mapping cannot be saved (the form then says why)."""
        choices, mapping = form.cleaned_data["choices"], form.cleaned_data.get("mapping")
        if mapping is not None and form.cleaned_data["save_as"]:
            try:
                mapping_profile_save(user=car.user, mapping=mapping, header=preview.header, name=mapping.name)
            except PlugTrackError as error:  # (e.g. a heading of the file longer than a saved one may be)
                form.add_error("save_as", f"{error.for_admin()} Leave the name blank to import without saving it.")
                return None
        request.session.pop(_IMPORT_WAITING.format(kept.token), None)
        options |= {"file_format": preview.file_format} | dataclasses.replace(choices, mapping=mapping).to_options()
        return self._import_check_start(request, kept, options)

    def import_answer_view(self, request, job_id: int):
        """The answer to the question an import's check stopped at (given on its job's page): the same
        kept upload is checked again with it."""
        if not self.has_import_permission(request) or request.method != "POST":
            raise PermissionDenied
        jobs = Job.objects.filter(kind=Job.Kind.SESSIONS_IMPORT)
        job = get_object_or_404(jobs if sees_everything(request) else jobs.filter(user=request.user), pk=job_id)
        question = (job.report or {}).get("question")
        if not question:
            messages.info(request, "This check asks nothing (any more): here is where it stands.")
            return redirect(job_page_url(job))
        form = ImportQuestionsForm(
            request.POST, questions=[ShapeQuestion(question["message"], kind=question["kind"])],
            kept=ImportChoices.from_options(job.options),
        )  # fmt: skip
        if not form.is_valid():
            errors = [error for errors in form.errors.values() for error in errors]
            messages.error(request, f"Not checked again: {' '.join(errors)}")
        elif not job_check_again(job=job, options=form.cleaned_data["choices"].to_options()):
            messages.info(request, "This file is being checked again already, or is no longer here (a day after its "
                                   "upload): here is where it stands.")  # fmt: skip
        return redirect(job_page_url(job))

    def import_again_view(self, request, job_id: int):
        """An owner's file checked already, back on its columns page with the columns and answers
        given, to change them: the same kept upload is then checked again, never uploaded twice."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        job = get_object_or_404(Job.objects.filter(kind=Job.Kind.SESSIONS_IMPORT, user=request.user), pk=job_id)
        kept = _checked_again(job) and upload_kept(user=request.user, token=job.token.hex, name=job.upload_name)
        if not kept:
            messages.info(request, "This file can no longer be checked again (it was imported, or is over a day old).")
            return redirect(job_page_url(job))
        request.session[_IMPORT_WAITING.format(kept.token)] = {"name": kept.name, "options": job.options}
        return redirect("admin:sessions_app_chargingsession_import_columns", token=kept.token)

    @staticmethod
    def _file_preview(car: Car, kept, options: dict):
        return owner_file_preview(
            user=car.user, path=kept.path, name=kept.name, file_format=options["file_format"],
            choices=ImportChoices.from_options(options),
        )  # fmt: skip

    @staticmethod
    def _import_check_start(request, kept, options: dict):
        """The check of `kept`: a new job, or its job's check again (its columns or answers changed)."""
        job = Job.objects.filter(user=request.user, token=kept.token, kind=Job.Kind.SESSIONS_IMPORT).first()
        if job is not None:
            if not job_check_again(job=job, options=options):
                messages.info(request, "This file was checked again already, or imported: here is where it stands.")
            return redirect(job_page_url(job))
        job = job_start(
            user=request.user, kind=Job.Kind.SESSIONS_IMPORT, phase=Job.Phase.CHECK, options=options, uploaded=kept
        )
        return redirect(job_page_url(job))

    def export_view(self, request):
        """One car's sessions as the CSV that `sessions_export` writes, streamed as it is read."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        cars = self.selectable_cars(request).annotate(sessions_count=Count("sessions"))
        initial = {"car": request.GET.get("car__id__exact")}  # the car the list was filtered by
        form = SessionsExportForm(request.POST or None, cars=cars, initial=initial)
        if request.method == "POST" and form.is_valid():
            car, dates = form.cleaned_data["car"], {name: form.cleaned_data[name] for name in ("date_from", "date_to")}
            try:
                lines = charging_sessions_csv(user=car.user, car=car, **dates)
            except PlugTrackError as error:
                form.add_error(None, error.for_admin())
            else:
                return csv_download(lines, sessions_csv_name(user=car.user, car=car))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Export sessions", "form": form,
            "submit": "Download the CSV",
        }  # fmt: skip
        return TemplateResponse(request, "admin/sessions_app/chargingsession/export.html", context)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        cars = list(self.selectable_cars(request)[:2])
        if len(cars) == 1:  # the only car a new session can be for
            initial.setdefault("car", cars[0].pk)
        return initial

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        # Before its first save a session is nobody's baseline and was not created: nothing to show.
        return (
            readonly
            if obj is not None
            else [name for name in readonly if name not in ("baseline_text", "checks_text", "created_at")]
        )

    def get_list_display(self, request):
        # The car column only says something when there is more than one car to tell apart.
        if self.selectable_cars(request).count() < 2:
            return [column for column in self.list_display if column != "car"]
        return self.list_display

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        settings_by_user = user_settings_many(user_ids={session.user_id for session in changelist.result_list})
        for session in changelist.result_list:
            session.owner_settings = settings_by_user[session.user_id]
        return changelist

    @staticmethod
    def _miles(session) -> int | None:
        # The previous session's odometer is stored (see sessions_sequence_recompute): no query per row.
        if session.odometer_before is None:
            return None
        return session.odometer - session.odometer_before

    # Units go in the cells, so the headers stay short enough for every column to fit a laptop.
    @admin.display(description="odometer", ordering="odometer")
    def odometer_miles(self, session):
        return f"{session.odometer:,} mi"

    @admin.display(description="energy", ordering="charge_delivered_kwh")
    def energy(self, session):
        return f"{session.charge_delivered_kwh:,.1f} kWh"

    @admin.display(description="charge", ordering="charge_type")
    def charge(self, session):
        power = analytics.effective_power_kw(session, session.owner_settings)
        if power is None:
            return session.charge_type
        assumed = " (home, assumed)" if session.charge_power_kw is None else ""  # (may wrap: the power may not)
        return f"{session.charge_type} {decimal_text(power)}\u00a0kW{assumed}"

    @admin.display(description="miles", empty_value="–")
    def miles(self, session):
        if session.is_baseline:
            return _BADGE_BASELINE
        miles = self._miles(session)
        return None if miles is None else f"{miles:,}"

    @admin.display(description="location", ordering="location_label")
    def location(self, session):
        home = analytics.is_home(session.location_label, session.charge_network, session.owner_settings)
        return format_html("{} {}", session.location_label, _BADGE_HOME) if home else session.location_label

    @admin.display(description="efficiency")
    def efficiency(self, session):
        efficiency = analytics.session_efficiency(self._miles(session), session.charge_delivered_kwh)
        return "–" if efficiency is None else f"{efficiency:.2f} mi/kWh"

    @admin.display(description="cost/mile")
    def pence_per_mile(self, session):
        miles = self._miles(session)
        if analytics.session_efficiency(miles, session.charge_delivered_kwh) is None:
            return "–"
        cost = ChargingSession.cost_of(session.total_cost_gbp, session.cost_per_kwh, session.charge_delivered_kwh)
        ppm = analytics.ev_pence_per_mile(cost, miles)
        return "–" if ppm is None else f"{ppm:.2f}p"

    @admin.display(description="cost")
    def cost_gbp(self, session):
        cost = ChargingSession.cost_of(session.total_cost_gbp, session.cost_per_kwh, session.charge_delivered_kwh)
        if cost is None and session.estimated_cost_gbp is not None:  # worked out by a tariff, not recorded
            return format_html('<span title="{}">≈ £{}</span>', session.get_cost_source_display(),
                               f"{session.estimated_cost_gbp:,.2f}")  # fmt: skip
        return "–" if cost is None else f"£{cost:,.2f}"

    # A badge where the answer is yes, and nothing where it is no (a column of red crosses reads as errors).
    @admin.display(description="check", ordering="checks", empty_value="")
    def check_badge(self, session):
        if not session.checks:
            return ""
        return format_html('<span class="pt-badge pt-check" title="{}">check</span>', checks_summary(session.checks))

    @admin.display(description="baseline")
    def baseline_text(self, session):
        if session.is_baseline:
            return "Yes: the car's first session, where its miles start (maintained by PlugTrack)."
        return "No"

    @admin.display(description="checks")
    def checks_text(self, session):
        return checks_summary(session.checks) or "nothing looks wrong"

    def save_model(self, request, obj, form, change):
        previous_car = form.initial.get("car") if change else None
        with newly_flagged([obj.car_id, previous_car]) as flagged:
            charging_session_save(session=obj, previous_car_id=previous_car)
        _say_flagged(request, flagged)

    def delete_model(self, request, obj):
        with newly_flagged([obj.car_id]) as flagged:
            charging_sessions_delete(sessions=[obj])
        _say_flagged(request, flagged)

    def delete_queryset(self, request, queryset):
        sessions = list(queryset)
        with newly_flagged({session.car_id for session in sessions}) as flagged:
            charging_sessions_delete(sessions=sessions)
        _say_flagged(request, flagged)


def _say_flagged(request, sessions: list[ChargingSession], named: int = 5) -> None:
    """A write never flags a session silently: name what it flagged (its neighbours too) and why."""
    if not sessions:
        return
    names = "; ".join(f"{session} ({checks_summary(session.checks)})" for session in sessions[:named])
    more = f" and {len(sessions) - named:,} more" if len(sessions) > named else ""
    messages.warning(
        request, f'Now marked "check": {names}{more}. Left out of efficiency and cost per mile until corrected.'
    )


def _checked_again(job: Job) -> bool:
    """Whether an import's check may run again on its upload (its columns or answers changed)."""
    return (
        job.phase == Job.Phase.CHECK and job.status in (Job.Status.CHECKED, Job.Status.FAILED)
        and job.options.get("file_format") in ("spreadsheet", "evcc", "auto")
        and bool(job.upload) and Path(job.upload).is_file()
    )  # fmt: skip


def _import_job_page(request, job: Job) -> dict:
    """An import's job page: the form that answers the question its check stopped at (or the rule its
    rows without an odometer need), while its upload is kept to be checked again; and the way back to
    its columns page, to change its columns or answers."""
    again = (
        {"again_url": reverse("admin:sessions_app_chargingsession_import_again", args=[job.pk])}
        if job.user_id == request.user.pk and _checked_again(job) else {}
    )  # fmt: skip
    question = (job.report or {}).get("question")
    if not question or not job.upload or not Path(job.upload).is_file():
        return again
    form = ImportQuestionsForm(
        questions=[ShapeQuestion(question["message"], kind=question["kind"])],
        kept=ImportChoices.from_options(job.options),
    )  # fmt: skip
    answer_url = reverse("admin:sessions_app_chargingsession_import_answer", args=[job.pk])
    return again | {"answer_form": form, "answer_url": answer_url}


job_page_context_register(Job.Kind.SESSIONS_IMPORT, _import_job_page)


