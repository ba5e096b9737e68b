"""Flag stored sessions that break a hard bound (sessions_app/bounds.py), added with these bounds:
kept as they are, marked "check" for their owner to correct; nothing is deleted, nothing fails."""

from django.db import migrations

from sessions_app.totals import month_label_totals_rebuild

# sessions_app.services.session_order_update as it was when this migration was written, frozen here
# so that later changes to the checks cannot break migrating an old database: migration 0007's
# flags, and 32 for a value beyond a hard bound (1.5 × the battery; the owner's most a kWh costs,
# £2.00 unless set, for the price and for the total cost).
SESSION_ORDER_UPDATE = (
    "UPDATE sessions_app_chargingsession AS session "
    "SET odometer_before = checked.odometer_before, is_baseline = checked.is_first, checks = checked.checks "
    "FROM (SELECT id, odometer_before, is_first, "
    "        (CASE WHEN odometer < odometer_before THEN 1 ELSE 0 END"
    "         + CASE WHEN odometer > odometer_after THEN 2 ELSE 0 END"
    "         + CASE WHEN kwh_units * 10 > battery_units * 11 THEN 4 ELSE 0 END"
    "         + CASE WHEN odometer > odometer_before AND ((odometer - odometer_before) * 1000 < kwh_units * 1"
    "                OR (odometer - odometer_before) * 1000 > kwh_units * 7) THEN 8 ELSE 0 END"
    "         + CASE WHEN same_date_odometer > 1 THEN 16 ELSE 0 END"
    "         + CASE WHEN kwh_units * 10 > battery_units * 15 OR price_units > ceiling_units"
    "                OR cost_units * 100000 > kwh_units * ceiling_units + 50000 THEN 32 ELSE 0 END) AS checks FROM ("
    "        SELECT s.id, CAST(s.odometer AS BIGINT) AS odometer, "
    "               LAG(s.odometer) OVER chronological AS odometer_before, "
    "               LEAD(s.odometer) OVER chronological AS odometer_after, "
    "               ROW_NUMBER() OVER chronological = 1 AS is_first, "
    "               ROUND(s.charge_delivered_kwh * 1000) AS kwh_units, "
    "               ROUND(car.battery_kwh * 1000) AS battery_units, "
    "               COUNT(*) OVER (PARTITION BY s.car_id, s.date, s.odometer) AS same_date_odometer, "
    "               ROUND(s.cost_per_kwh * 10000) AS price_units, ROUND(s.total_cost_gbp * 100) AS cost_units, "
    "               COALESCE(ceiling.units, 20000) AS ceiling_units "
    "       FROM sessions_app_chargingsession AS s JOIN cars_app_car AS car ON car.id = s.car_id "
    "       LEFT JOIN ceilings AS ceiling ON ceiling.user_id = car.user_id "
    "       WINDOW chronological AS (PARTITION BY s.car_id ORDER BY s.date, s.odometer, s.id)) AS neighbours"
    "     ) AS checked "
    "WHERE session.id = checked.id AND session.checks <> checked.checks"
)


def impossible_values_flagged(apps, schema_editor):
    """Every session's flags, then the month totals of the cars whose flags changed (flagged sessions
    are left out of efficiency). Each owner's price ceiling is read as the settings' own parser reads it."""
    from decimal import Decimal, InvalidOperation

    setting_model = apps.get_model("settings_app", "Setting")
    session_model = apps.get_model("sessions_app", "ChargingSession")
    ceilings = []
    for user_id, text in setting_model.objects.filter(key="max_price_per_kwh", encrypted=False).values_list(
        "user_id", "value"
    ):
        try:
            ceilings.append((user_id, int(Decimal(text.strip()) * 10000)))
        except (InvalidOperation, ValueError):
            pass  # unreadable: the default, as the settings themselves fall back to it
    before = dict(session_model.objects.filter(checks__gt=0).values_list("pk", "car_id"))
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE ceilings (user_id BIGINT PRIMARY KEY, units BIGINT)")
        if ceilings:
            cursor.executemany("INSERT INTO ceilings VALUES (%s, %s)", ceilings)
        cursor.execute(SESSION_ORDER_UPDATE)
        cursor.execute("DROP TABLE ceilings")
    after = dict(session_model.objects.filter(checks__gt=0).values_list("pk", "car_id"))
    changed = sorted({car_id for pk, car_id in (before | after).items() if (pk in before) != (pk in after)})
    models_then = (session_model, apps.get_model("sessions_app", "MonthLabelTotal"))
    for start in range(0, len(changed), 500):  # a bounded IN list per statement, however many cars
        month_label_totals_rebuild(car_ids=changed[start : start + 500], models=models_then)


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0010_mapping_profile_read_back"), ("settings_app", "0002_seed_existing_users")]

    operations = [migrations.RunPython(impossible_values_flagged, migrations.RunPython.noop)]
