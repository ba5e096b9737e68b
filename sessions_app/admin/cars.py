"""The cars' admin: each car with its figures (sessions, energy, cost, efficiency, against petrol)
and its analytics page. It reads the cars' sessions, so it lives with them, above cars_app."""

import datetime as dt
from dataclasses import dataclass

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cars_app import charts
from cars_app.forms import CarForm
from cars_app.models import Car
from cars_app.services import cars_delete
from plugtrack_site.admin_scoping import OwnedModelAdmin
from plugtrack_site.errors import PlugTrackError
from settings_app.petrol import pence_per_kwh_equivalence
from settings_app.services import UserSettings, user_settings, user_settings_many

from ..analytics import (
    CarSummary,
    EfficiencySource,
    car_months,
    car_summaries,
    car_summary,
    full_charge_status,
    home_word_candidate,
)
from ..services import car_save, home_question_answer


def _number(value, places: int = 2) -> str:
    return "–" if value is None else f"{value:,.{places}f}"


def _cost_text(summary: CarSummary, sign: str = "") -> str:
    """The car's known cost, saying how many sessions it covers: a session without a price or a
    cost is unknown, not free, so none priced reads "no prices recorded", never 0.00."""
    if not summary.sessions:
        return "–"
    if not summary.priced_sessions:
        return "no prices recorded"
    cost = f"{sign}{summary.cost_gbp:,.2f}"
    if summary.estimated_cost_gbp:  # some of it worked out by the owner's tariffs, not recorded
        cost = f"≈ {cost}, {summary.estimated_percent:.0f}% estimated"
    if summary.priced_sessions < summary.sessions:
        return f"{cost} ({summary.priced_sessions:,} of {summary.sessions:,} sessions priced)"
    return cost


@admin.register(Car)
class CarAdmin(OwnedModelAdmin):
    form = CarForm
    list_display = [
        "__str__",
        "active_badge",
        "sessions_count",
        "energy_kwh",
        "cost_gbp",
        "home_share",
        "efficiency",
        "ev_vs_petrol",
        "savings_gbp",
        "analytics_link",
    ]
    list_filter = ["active", "make"]
    search_fields = ["name", "make", "model"]
    fieldsets = [
        (None, {"fields": ["name", "make", "model", "battery_kwh", "efficiency_mpkwh", "active"]}),
        (
            "Full charge reminder",
            {
                "fields": [
                    "recommended_full_charge_enabled",
                    "recommended_full_charge_frequency_value",
                    "recommended_full_charge_frequency_unit",
                ]
            },
        ),
        (None, {"fields": ["notes"]}),
    ]

    change_form_template = "admin/cars_app/car/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/analytics/", view(self.analytics_view), name="cars_app_car_analytics"),
            path("<path:object_id>/home-question/", view(self.home_question_view), name="cars_app_car_home_question"),
            *super().get_urls(),
        ]

    def analytics_view(self, request, object_id):
        car = get_object_or_404(self.get_queryset(request), pk=object_id)  # only the user's own cars
        settings = user_settings(user=car.user_id)
        summary = car_summary(car=car, settings=settings)
        today = timezone.localdate()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{car}: what charging really costs",
            "car": car,
            "summary": summary,
            "figures": headline_figures(summary, settings),
            "charts": month_charts(car, settings, summary, today=today),
            "full_charge": full_charge_status(car=car, today=today),
            "question": home_question_context(request, car, settings),
        }
        return TemplateResponse(request, "admin/cars_app/car/analytics.html", context)

    @method_decorator(require_POST)
    def home_question_view(self, request, object_id):
        """One click on "Is Carport your home?" (yes or no), then back to the page that asked."""
        car = get_object_or_404(self.get_queryset(request), pk=object_id)  # only the user's own cars
        label, at_home = request.POST.get("label", ""), request.POST.get("answer") == "yes"
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=False):
            back = reverse("admin:cars_app_car_analytics", args=[car.pk])
        if not request.user.has_perm("settings_app.change_setting"):
            messages.error(request, "You may not change the settings, so the question was left unanswered.")
            return redirect(back)
        before = car_summary(car=car, settings=user_settings(user=car.user_id)).home_share_percent or 0
        try:
            home_question_answer(car=car, label=label, at_home=at_home)
        except PlugTrackError as error:
            messages.warning(request, str(error))
            return redirect(back)
        if at_home:
            after = car_summary(car=car, settings=user_settings(user=car.user_id)).home_share_percent or 0
            messages.success(
                request,
                f"“{label}” is now one of your home words: {after:.0f}% of {car}'s kWh is charged at home "
                f"(it was {before:.0f}%). Your settings' Home Detection tab lists your home words.",
            )
        else:
            messages.info(
                request,
                f"PlugTrack will not ask about “{label}” again: it is kept under “Places that are not home” in your "
                "settings' Home Detection tab.",
            )
        return redirect(back)

    def save_model(self, request, obj, form, change):
        car_save(car=obj)

    def delete_model(self, request, obj):
        cars_delete(cars=Car.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        cars_delete(cars=queryset)

    # A badge for an active car and nothing for a retired one: a red cross reads as an error.
    @admin.display(description="active", ordering="active", empty_value="")
    def active_badge(self, car):
        return format_html('<span class="pt-badge">{}</span>', "active") if car.active else ""

    @admin.display(description="")
    def analytics_link(self, car):
        return format_html('<a href="{}">Analytics</a>', reverse("admin:cars_app_car_analytics", args=[car.pk]))

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # Summaries for the page's cars, each by its owner's settings.
        settings_by_user = user_settings_many(user_ids={car.user_id for car in changelist.result_list})
        summaries = car_summaries(cars=changelist.result_list, settings_by_user=settings_by_user)
        for car in changelist.result_list:
            car.summary = summaries[car.pk]
        return changelist

    @admin.display(description="sessions")
    def sessions_count(self, car):
        return car.summary.sessions

    @admin.display(description="energy (kWh)")
    def energy_kwh(self, car):
        return _number(car.summary.kwh, 1)

    @admin.display(description="cost (£)")
    def cost_gbp(self, car):
        return _cost_text(car.summary)

    @admin.display(description="home")
    def home_share(self, car):
        summary = car.summary
        return "–" if summary.home_share_percent is None else f"{summary.home_share_percent:.0f}% of kWh"

    @admin.display(description="efficiency (mi/kWh)")
    def efficiency(self, car):
        summary = car.summary
        left_out = f"; {summary.left_out:,} session(s) left out to check" if summary.left_out else ""
        return summary.efficiency_text() + left_out

    @admin.display(description="EV vs petrol (p/mi)")
    def ev_vs_petrol(self, car):
        summary = car.summary
        if summary.ev_ppm is None:
            return f"– vs {summary.petrol_ppm:.2f}"
        colour = "green" if summary.cheaper_than_petrol else "firebrick"
        return format_html(
            '<span style="color:{}">{}</span> vs {}', colour, f"{summary.ev_ppm:.2f}", f"{summary.petrol_ppm:.2f}"
        )

    @admin.display(description="saved vs petrol (£)")
    def savings_gbp(self, car):
        return _number(car.summary.savings_gbp)


@dataclass(frozen=True)
class Figure:
    """A headline figure of the analytics page, with what it includes or how it is worked out."""

    label: str
    value: str
    note: str = ""


def home_question_context(request, car, settings: UserSettings | None = None) -> dict | None:
    """The "Is Carport your home?" question about `car` (analytics.home_word_candidate), for the
    template admin/sessions_app/home_question.html; None when there is none, or when this person may
    not change the settings the answer writes."""
    if not request.user.has_perm("settings_app.change_setting"):
        return None
    settings = settings or user_settings(user=car.user_id)
    candidate = home_word_candidate(car=car, settings=settings)
    if candidate is None:
        return None
    return {
        "candidate": candidate,
        "car": car,
        "home_words": ", ".join(settings.home_aliases_csv),
        "url": reverse("admin:cars_app_car_home_question", args=[car.pk]),
        "next": request.get_full_path(),
    }


def break_even_note(summary: CarSummary, settings: UserSettings) -> str:
    """Why the car's break-even price differs from the settings page's: the car's own efficiency."""
    default = settings.default_efficiency_mpkwh
    at_default = pence_per_kwh_equivalence(summary.petrol_ppm, default)
    settings_page = f"the settings' {at_default:.1f} p/kWh is at the default {default:.1f} mi/kWh"
    if summary.efficiency_source is EfficiencySource.MEASURED:
        return f"at this car's {summary.efficiency_mpkwh:.2f} mi/kWh (measured); {settings_page}"
    if summary.efficiency_source is EfficiencySource.CAR_FIGURE:
        return f"at this car's own figure, {summary.efficiency_mpkwh:.2f} mi/kWh (not measured); {settings_page}"
    return f"at the default {default:.1f} mi/kWh, as on the settings page (too little measured for this car)"


def headline_figures(summary: CarSummary, settings: UserSettings) -> list[Figure]:
    """The analytics page's figures, each saying what it includes: the same selectors as the car list."""
    if not summary.sessions:
        return _figures_without_sessions(summary)
    flagged = summary.left_out
    every = "the only session" if summary.sessions == 1 else f"all {summary.sessions:,} sessions"
    flagged_in = f", the {flagged:,} flagged included" if flagged else ""
    flagged_out = f" and the {flagged:,} flagged" if flagged else ""
    if summary.priced_sessions == summary.sessions:
        priced = f"{every}, all priced"
    else:  # the value says how many are priced
        priced = "the priced sessions; one without a price is unknown, not free"
    if summary.estimated_sessions:
        priced += (f"; the cost recorded, else estimated by your tariffs ({summary.estimated_sessions:,} "
                   "session(s) estimated)")  # fmt: skip
    about = "≈ " if summary.estimated_cost_gbp else ""  # a figure that rests on estimated costs
    measured = summary.efficiency_source is EfficiencySource.MEASURED
    efficiency = summary.efficiency_mpkwh
    equivalence = None if efficiency is None else pence_per_kwh_equivalence(summary.petrol_ppm, efficiency)
    home_words = ", ".join(settings.home_aliases_csv)
    return [
        Figure("Sessions", f"{summary.sessions:,}", f"{flagged:,} flagged to check" if flagged else "none flagged"),
        Figure("Energy", f"{summary.kwh:,.1f} kWh", f"{every}{flagged_in}"),
        Figure("Total cost", _cost_text(summary, sign="£"), priced + flagged_in),
        Figure(
            "Miles counted", f"{summary.miles:,}", f"each since the session before; the first{flagged_out} left out"
        ),
        Figure(
            "Efficiency", summary.efficiency_text(" mi/kWh"), "the miles counted over their kWh" if measured else ""
        ),
        Figure(
            "EV cost per mile",
            "not enough data" if summary.ev_ppm is None else f"{about}{summary.ev_ppm:.2f} p/mi",
            "" if summary.ev_ppm is None
            else "the priced sessions' average price over the efficiency" + (", flagged left out" if flagged else ""),
        ),
        Figure(
            "Petrol cost per mile",
            f"{summary.petrol_ppm:.2f} p/mi",
            f"{settings.petrol_price_p_per_litre} p/litre at {settings.petrol_mpg} mpg (your settings)",
        ),
        Figure(
            "Break-even electricity price",
            "–" if equivalence is None else f"{equivalence:.1f} p/kWh",
            "" if equivalence is None else break_even_note(summary, settings),
        ),
        Figure(
            "Saved against petrol",
            "not enough data" if summary.savings_gbp is None else f"{about}£{summary.savings_gbp:,.2f}",
            "" if summary.savings_gbp is None else f"over the {summary.miles:,} miles counted",
        ),
        Figure(
            "Charged at home",
            f"{summary.home_share_percent:.0f}% of kWh",
            f"of the kWh of {every}{flagged_in}; home by your home words ({home_words})",
        ),
        *_off_peak_figure(summary),
    ]


def _off_peak_figure(summary: CarSummary) -> list[Figure]:
    """The share of the home kWh charged in off-peak bands, once a tariff's bands split any of them."""
    if summary.home_off_peak_percent is None:
        return []
    return [
        Figure(
            "Off-peak at home",
            f"{summary.home_off_peak_percent:.0f}% of home kWh",
            f"of the {summary.home_banded_kwh:,.1f} kWh charged at home that your tariffs split into bands "
            "(off-peak: cheaper than the tariff's default price)",
        )
    ]


def _figures_without_sessions(summary: CarSummary) -> list[Figure]:
    return [
        Figure("Sessions", "0"),
        Figure("Energy", "0.0 kWh"),
        Figure("Total cost", "–"),
        Figure("Miles counted", "0"),
        Figure("Efficiency", summary.efficiency_text(" mi/kWh")),
        Figure("EV cost per mile", "not enough data"),
        Figure("Petrol cost per mile", f"{summary.petrol_ppm:.2f} p/mi"),
        Figure("Break-even electricity price", "–"),
        Figure("Saved against petrol", "not enough data"),
        Figure("Charged at home", "–"),
    ]


HOME, PUBLIC, EV, PETROL, OFF_PEAK = "#2e7d32", "#1565c0", "#6a1b9a", "#c62828", "#00897b"


def month_charts(
    car, settings: UserSettings, summary: CarSummary, *, today: dt.date | None = None
) -> list[tuple[str, str]]:
    """(title, chart) for each chart of the analytics page. The month of `today` (by default the
    site's today), partly over, is drawn as the month so far, not as a whole month."""
    months = car_months(car=car, settings=settings)
    dates = [month.month for month in months]
    today = today or timezone.localdate()
    so_far = charts.SoFar(today.replace(day=1), today.day)

    def series(label: str, colour: str, attribute: str) -> charts.Series:
        return charts.Series(label, [getattr(month, attribute) for month in months], colour)

    petrol = charts.Series("petrol", [summary.petrol_ppm] * len(dates), PETROL)
    drawn = {
        "Energy charged per month": lambda title: charts.stacked_bars(
            title=title, months=dates, unit="kWh",
            series=[series("home", HOME, "home_kwh"), series("public", PUBLIC, "public_kwh")], so_far=so_far,
        ),
        "Cost per month": lambda title: charts.stacked_bars(
            title=title, months=dates, unit="£",
            series=[series("home", HOME, "home_cost_gbp"), series("public", PUBLIC, "public_cost_gbp")],
            so_far=so_far,
        ),
        "Cost per month by band": lambda title: charts.stacked_bars(
            title=title, months=dates, unit="£",
            series=[series("off-peak (home)", OFF_PEAK, "home_off_peak_cost_gbp"),
                    series("peak (home)", HOME, "home_peak_cost_gbp"), series("public", PUBLIC, "public_cost_gbp")],
            so_far=so_far,
        ),
        "Cost per mile: electric against petrol": lambda title: charts.lines(
            title=title, months=dates, unit="p/mi", series=[series("electric", EV, "ev_ppm")], reference=petrol,
            so_far=so_far,
        ),
        "Efficiency per month": lambda title: charts.lines(
            title=title, months=dates, unit="mi/kWh", series=[series("mi/kWh", EV, "efficiency_mpkwh")],
            so_far=so_far,
        ),
    }  # fmt: skip
    if not summary.home_banded_kwh:  # no tariff has split any home charging into bands yet
        del drawn["Cost per month by band"]
    return [(title, draw(title)) for title, draw in drawn.items()]
