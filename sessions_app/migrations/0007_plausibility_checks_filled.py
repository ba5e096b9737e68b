from django.db import migrations
from django.db.models import Max, Sum

from sessions_app.totals import month_label_totals_rebuild

# sessions_app.services.session_order_update as it was when this migration was written, frozen here
# so that later changes to the checks cannot break migrating an old database (the table names are
# those of this schema).
SESSION_ORDER_UPDATE = (
    "UPDATE sessions_app_chargingsession AS session "
    "SET odometer_before = checked.odometer_before, is_baseline = checked.is_first, checks = checked.checks "
    "FROM (SELECT id, odometer_before, is_first, "
    "        (CASE WHEN odometer < odometer_before THEN 1 ELSE 0 END"
    "         + CASE WHEN odometer > odometer_after THEN 2 ELSE 0 END"
    "         + CASE WHEN kwh_units * 10 > battery_units * 11 THEN 4 ELSE 0 END"
    "         + CASE WHEN odometer > odometer_before AND ((odometer - odometer_before) * 1000 < kwh_units * 1"
    "                OR (odometer - odometer_before) * 1000 > kwh_units * 7) THEN 8 ELSE 0 END"
    "         + CASE WHEN same_date_odometer > 1 THEN 16 ELSE 0 END) AS checks FROM ("
    "        SELECT s.id, CAST(s.odometer AS BIGINT) AS odometer, "
    "               LAG(s.odometer) OVER chronological AS odometer_before, "
    "               LEAD(s.odometer) OVER chronological AS odometer_after, "
    "               ROW_NUMBER() OVER chronological = 1 AS is_first, "
    "               ROUND(s.charge_delivered_kwh * 1000) AS kwh_units, "
    "               ROUND(car.battery_kwh * 1000) AS battery_units, "
    "               COUNT(*) OVER (PARTITION BY s.car_id, s.date, s.odometer) AS same_date_odometer "
    "       FROM sessions_app_chargingsession AS s JOIN cars_app_car AS car ON car.id = s.car_id "
    "       WINDOW chronological AS (PARTITION BY s.car_id ORDER BY s.date, s.odometer, s.id)) AS neighbours"
    "     ) AS checked "
    "WHERE session.id = checked.id"
)
TOTALS = ("sessions", "kwh_units", "cost_units", "priced_sessions", "priced_kwh_units", "efficiency_miles",
          "efficiency_kwh_units", "costed_miles", "costed_cost_units")  # fmt: skip


def sessions_checked_and_totalled(apps, schema_editor):
    """Every session's flags and every car's month totals, as sessions_sequence_recompute keeps them."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SESSION_ORDER_UPDATE)
    car_ids = list(apps.get_model("cars_app", "Car").objects.values_list("pk", flat=True))
    models_then = (apps.get_model("sessions_app", "ChargingSession"), apps.get_model("sessions_app", "MonthLabelTotal"))
    for start in range(0, len(car_ids), 500):  # a bounded IN list per statement, however many cars
        month_label_totals_rebuild(car_ids=car_ids[start : start + 500], models=models_then)


def totals_merged_by_location(apps, schema_editor):
    """Back to one total per car, month and location (the unique key before this migration)."""
    total_model = apps.get_model("sessions_app", "MonthLabelTotal")
    merged = total_model.objects.values("car_id", "month", "location_label").annotate(
        **{name: Sum(name) for name in TOTALS}, last_full_charge=Max("last_full_charge")
    )
    rows = [total_model(**row) for row in merged]
    total_model.objects.all().delete()
    total_model.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0006_plausibility_checks")]

    operations = [migrations.RunPython(sessions_checked_and_totalled, totals_merged_by_location)]
