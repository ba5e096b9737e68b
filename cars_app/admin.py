from django.contrib import admin
from django.utils.html import format_html

from plugtrack_site.admin_scoping import OwnedModelAdmin
from sessions_app.analytics import car_summary
from settings_app.services import user_settings_many

from .forms import CarForm
from .models import Car


def _number(value, places: int = 2) -> str:
    return "–" if value is None else f"{value:,.{places}f}"


@admin.register(Car)
class CarAdmin(OwnedModelAdmin):
    form = CarForm
    list_display = [
        "__str__",
        "active",
        "sessions_count",
        "energy_kwh",
        "cost_gbp",
        "home_share",
        "efficiency",
        "ev_vs_petrol",
        "savings_gbp",
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

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # Summaries for the page's cars, each by its owner's settings.
        settings_by_user = user_settings_many(user_ids={car.user_id for car in changelist.result_list})
        for car in changelist.result_list:
            car.summary = car_summary(car=car, settings=settings_by_user[car.user_id])
        return changelist

    @admin.display(description="sessions")
    def sessions_count(self, car):
        return car.summary.sessions

    @admin.display(description="energy (kWh)")
    def energy_kwh(self, car):
        return _number(car.summary.kwh, 1)

    @admin.display(description="cost (£)")
    def cost_gbp(self, car):
        return _number(car.summary.cost_gbp)

    @admin.display(description="home")
    def home_share(self, car):
        summary = car.summary
        return "–" if not summary.kwh else f"{100 * summary.home_kwh / summary.kwh:.0f}% of kWh"

    @admin.display(description="efficiency (mi/kWh)")
    def efficiency(self, car):
        summary = car.summary
        if summary.efficiency_mpkwh is None:
            return summary.efficiency_source.value
        return f"{summary.efficiency_mpkwh:.2f} ({summary.efficiency_source.value})"

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
