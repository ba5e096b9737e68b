"""Hard bounds: an impossible value is an error wherever a session comes in (the admin's form, every
import, a restore); a file wrong as a whole stops with one message; sessions stored before the
bounds that break them are kept and flagged."""

import csv
import io
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from backups.services import RestoreOptions, backup_create, backup_restore
from sessions_app.bounds import Bound, most_cost
from sessions_app.imports.csv_format import CsvFileError
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_export, charging_sessions_import
from sessions_app.models import ChargingSession, kwh_units, price_units
from sessions_app.plausibility import Check, _checks_of
from sessions_app.services import sessions_sequence_recompute
from settings_app.services import settings_update

from .csv_helpers import session_row, write_csv

ADD = "admin:sessions_app_chargingsession_add"


@pytest.fixture
def car(owner, make_car):
    return make_car(owner, battery_kwh=Decimal("88"))


def test_a_price_typed_in_pence_in_the_admin_is_refused_with_the_likely_cause(owner_client, car):
    post = {"car": car.pk, "date": "2025-01-25", "odometer": "1300", "charge_type": "AC",
            "charge_delivered_kwh": "20", "cost_per_kwh": "24.5", "location_label": "Home"}  # fmt: skip
    response = owner_client.post(reverse(ADD), post)
    html = response.content.decode()
    assert response.status_code == 200 and not car.sessions.exists()
    assert "24.5 £/kWh is above the most a kWh costs (£2.00): was it typed in pence?" in html

    response = owner_client.post(reverse(ADD), post | {"cost_per_kwh": "0.245"})
    assert response.status_code == 302 and car.sessions.get().cost_per_kwh == Decimal("0.245")


def test_the_admin_refuses_energy_beyond_the_battery_and_a_total_beyond_the_ceiling(owner_client, car):
    post = {"car": car.pk, "date": "2025-01-25", "odometer": "1300", "charge_type": "AC",
            "charge_delivered_kwh": "36936"}  # fmt: skip
    html = owner_client.post(reverse(ADD), post).content.decode()
    assert (
        "36936 kWh is more than 1.5 × the battery (88 kWh): did a spreadsheet read 36.936 as 36,936, taking the dot "
        "for a thousands separator, or is it in Wh?" in html
    )
    html = owner_client.post(reverse(ADD), post | {"charge_delivered_kwh": "20", "total_cost_gbp": "490"}).content
    assert "£490.00 is more than 20 kWh cost at the most a kWh costs (£2.00), £40.00" in html.decode()
    assert not car.sessions.exists()


def test_the_ceiling_is_the_owners_setting(owner_client, owner, car):
    settings_update(user=owner, values={"max_price_per_kwh": Decimal("0.80")})
    post = {"car": car.pk, "date": "2025-01-25", "odometer": "1300", "charge_type": "DC",
            "charge_delivered_kwh": "20", "cost_per_kwh": "0.85"}  # fmt: skip
    assert "0.85 £/kWh is above the most a kWh costs (£0.80)" in owner_client.post(reverse(ADD), post).content.decode()


def test_an_import_refuses_a_price_in_pence_as_that_rows_error(owner, car, tmp_path):
    rows = [session_row(odometer="1000"), session_row(date="2025-03-02", odometer="1100", cost_per_kwh="24.5")]
    report = charging_sessions_import(user=owner, car=car, source=write_csv(tmp_path, rows))
    assert not report.ok and not car.sessions.exists()
    [error] = report.errors
    assert (error.row, error.field, error.value) == (3, "cost_per_kwh", "24.5")
    assert error.message == "24.5 £/kWh is above the most a kWh costs (£2.00): was it typed in pence?"


@pytest.mark.parametrize(
    ("kwh", "price", "total", "broken"),
    [
        ("132", "", "", set()),  # 1.5 × 88 exactly: the bound itself is allowed
        ("132.001", "", "", {Check.IMPOSSIBLE}),
        ("20", "2.0000", "", set()),
        ("20", "2.0001", "", {Check.IMPOSSIBLE}),
        ("20", "", "40.00", set()),
        ("20", "", "40.01", {Check.IMPOSSIBLE}),
        ("0.003", "", "0.01", set()),  # 0.006 → £0.01 to the penny, as a derived total is kept
        ("0.003", "", "0.02", {Check.IMPOSSIBLE}),
    ],
)
def test_the_bounds_in_python_and_in_sql_agree_at_their_edges(owner, car, tmp_path, kwh, price, total, broken):
    """An import refuses exactly what the stored flags mark (the same rule, in Python and in SQL)."""
    row = session_row(charge_delivered_kwh=kwh, cost_per_kwh=price, total_cost_gbp=total, soc_from="", soc_to="")
    report = charging_sessions_import(
        user=owner, car=car, source=write_csv(tmp_path, [row]),
        options=ImportOptions(dry_run=True),
    )
    assert report.ok == (not broken), report.errors
    flags = _checks_of(
        kwh_units=kwh_units(Decimal(kwh)), battery_units=kwh_units(car.battery_kwh),
        price_units=price_units(Decimal(price)) if price else None,
        cost_units=int(Decimal(total) * 100) if total else None, ceiling_units=price_units(Decimal("2.00")),
    )  # fmt: skip
    assert {check for check in Check if flags & check} & {Check.IMPOSSIBLE} == broken
    assert most_cost(Decimal(kwh), Decimal(2)) >= (Decimal(total) if total and not broken else 0)


def libreoffice_german(export: str) -> str:
    """An export opened and saved by LibreOffice Calc with its German defaults: a number with a dot and
    three digits after it is read as thousands (36.936 → 36936, 0.075 → 75); others stay as they were;
    ISO dates and the commas between cells are kept, as Calc keeps them for a CSV it opened."""
    rows = list(csv.reader(io.StringIO(export)))
    thousands = re.compile(r"^(\d{1,3})\.(\d{3})$")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        writer.writerow([str(int(m[1] + m[2])) if (m := thousands.match(cell)) else cell for cell in row])
    return out.getvalue()


def test_a_demo_export_saved_by_a_german_libreoffice_stops_with_one_message(owner, car, make_session, tmp_path):
    for day in range(1, 31):
        make_session(car, f"2025-04-{day:02}", 1000 + day * 120, f"{30 + day / 1000:.3f}",
                     cost_per_kwh=Decimal("0.075"), location_label="Home")  # fmt: skip
    stream = StringIO()
    charging_sessions_export(user=owner, car=car, target=stream)
    path = tmp_path / "calc.csv"
    path.write_text(libreoffice_german(stream.getvalue()), encoding="utf-8")
    assert "30.001" in stream.getvalue() and "30001" in path.read_text()
    before = list(car.sessions.values_list("pk", "charge_delivered_kwh"))

    with pytest.raises(CsvFileError) as refused:
        charging_sessions_import(user=owner, car=car, source=path)
    message = str(refused.value)
    assert message.startswith("calc.csv: most rows break the same bound, so nothing was imported: ")
    # (30.010 is written 30.01 by the export: not read as thousands, so those 3 rows are duplicates)
    assert "energy (kWh) in 27 of 30 rows (line 2: 30001 kWh is more than 1.5 × the battery (88 kWh)" in message
    assert "price (£/kWh) in 27 of 30 rows (line 2: 75 £/kWh is above the most a kWh costs (£2.00)" in message
    assert "a spreadsheet set to a language that writes decimal commas (German, French, ...)" in message
    assert len(message) < 1500  # one message, not a row error each
    assert list(car.sessions.values_list("pk", "charge_delivered_kwh")) == before

    with pytest.raises(CommandError) as command:
        call_command("sessions_import", "--from", str(path), "--format", "auto", stdout=StringIO())
    assert command.value.returncode == 2 and "most rows break the same bound" in str(command.value)


def test_a_few_rows_beyond_a_bound_are_row_errors_not_a_refused_file(owner, car, tmp_path):
    rows = [session_row(date=f"2025-03-{day:02}", odometer=str(1000 + day * 100)) for day in range(1, 11)]
    rows[4]["charge_delivered_kwh"] = "300"
    report = charging_sessions_import(
        user=owner, car=car, source=write_csv(tmp_path, rows),
        options=ImportOptions(allow_partial=True),
    )
    assert report.error_count == 1 and report.inserted == 9
    assert report.errors[0].message == (
        "300 kWh is more than 1.5 × the battery (88 kWh): is it another car's, or another column's value?"
    )


def test_a_stored_session_beyond_a_bound_is_kept_and_flagged_then_cleared_when_corrected(owner, car, make_session):
    session = make_session(car, "2025-01-01", 1000, "36936", cost_per_kwh=Decimal("0.10"))
    assert session.checks & Check.IMPOSSIBLE
    priced = make_session(car, "2025-02-01", 1500, "30", cost_per_kwh=Decimal("1.50"))
    assert not priced.checks & Check.IMPOSSIBLE

    settings_update(user=owner, values={"max_price_per_kwh": Decimal("1.00")})  # re-flags the owner's sessions
    priced.refresh_from_db()
    assert priced.checks & Check.IMPOSSIBLE and ChargingSession.objects.count() == 2

    ChargingSession.objects.filter(pk=session.pk).update(charge_delivered_kwh=Decimal("36.936"))
    sessions_sequence_recompute(car_ids=[car.pk])
    session.refresh_from_db()
    assert not session.checks & Check.IMPOSSIBLE


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_flags_stored_impossible_sessions_and_deletes_none(owner, make_car):
    from django.db import connection

    car = make_car(owner, battery_kwh=Decimal("88"))
    try:
        call_command("migrate", "sessions_app", "0010", verbosity=0)
        with connection.cursor() as cursor:
            for day, kwh, price in (("2025-01-01", "30", "0.10"), ("2025-01-05", "36936", "0.10"),
                                    ("2025-01-09", "30", "75")):  # fmt: skip
                cursor.execute(
                    "INSERT INTO sessions_app_chargingsession (user_id, car_id, date, odometer, charge_type, "
                    "location_label, charge_network, charge_delivered_kwh, cost_per_kwh, notes, is_baseline, checks, "
                    "created_at) VALUES (%s, %s, %s, %s, 'AC', '', '', %s, %s, '', false, 0, CURRENT_TIMESTAMP)",
                    [owner.pk, car.pk, day, 1000 + int(day[-2:]) * 10, kwh, price],
                )
    finally:
        call_command("migrate", verbosity=0)
    flags = dict(ChargingSession.objects.values_list("date", "checks"))
    assert len(flags) == 3
    assert [bool(checks & Check.IMPOSSIBLE) for _, checks in sorted(flags.items())] == [False, True, True]


def test_a_restore_brings_back_a_stored_session_beyond_a_bound_flagged_and_said(owner, car, make_session, tmp_path):
    """A backup holds what was stored, sessions from before the bounds included: restored exactly, flagged,
    with a warning; never refused (the owner's own backup stays restorable)."""
    make_session(car, "2025-01-01", 1000, "30")
    make_session(car, "2025-01-09", 1100, "36936")  # stored before the bounds: kept, flagged
    backup = backup_create(user=owner, target=tmp_path / "b.zip").path
    for mode in ("replace", "merge"):
        if mode == "merge":
            ChargingSession.objects.filter(user=owner).delete()  # (the replace made the car anew)
        check = backup_restore(user=owner, source=backup, mode=mode, options=RestoreOptions(dry_run=True))
        report = backup_restore(user=owner, source=backup, mode=mode)
        assert report.ok and report.sessions.inserted == 2, mode
        for said in (check, report):  # the dry run says what the restore does
            [warning] = [issue for issue in said.sessions.warnings if issue.kind == Bound.ENERGY]
            assert warning.message.startswith("36936 kWh is more than 1.5 × the battery (88 kWh)")
            assert warning.message.endswith('Restored as it was stored, marked "check" for you to correct.')
        restored = ChargingSession.objects.get(charge_delivered_kwh=Decimal("36936"))
        assert restored.checks & Check.IMPOSSIBLE


def test_a_restored_price_ceiling_flags_the_sessions_above_it(owner, car, make_session, tmp_path):
    settings_update(user=owner, values={"max_price_per_kwh": Decimal("1.00")})
    backup = backup_create(user=owner, target=tmp_path / "b.zip").path
    settings_update(user=owner, values={"max_price_per_kwh": Decimal("2.00")})
    priced = make_session(car, "2025-02-01", 1500, "30", cost_per_kwh=Decimal("1.50"))
    assert not priced.checks & Check.IMPOSSIBLE
    backup_restore(user=owner, source=backup, mode="merge")  # the backup's ceiling comes back: £1.00
    priced.refresh_from_db()
    assert priced.checks & Check.IMPOSSIBLE


def test_a_car_whose_battery_is_given_as_a_number_is_checked_in_decimals(owner, tmp_path):
    """The benchmarks made their cars with battery_kwh=64.8 (a float) and the import's checks crashed."""
    from cars_app.models import Car

    car = Car.objects.create(user=owner, make="Kia", model="Niro EV", battery_kwh=64.8)
    assert car.battery_kwh == Decimal("64.8") and isinstance(car.battery_kwh, Decimal)
    rows = [session_row(odometer="1000"), session_row(date="2025-03-02", odometer="1100", charge_delivered_kwh="90")]
    report = charging_sessions_import(user=owner, car=car, source=write_csv(tmp_path, rows))
    assert report.inserted == 2 and [issue.kind for issue in report.warnings][:1] == ["more kWh than the battery × 1.1"]


def test_prices_a_spreadsheet_read_a_thousand_times_over_are_said_to_be_its_locale(owner, car, tmp_path):
    rows = [session_row(date=f"2025-03-{day:02}", odometer=str(1000 + day * 100), cost_per_kwh="75")
            for day in range(1, 11)]  # fmt: skip
    with pytest.raises(CsvFileError, match="a spreadsheet set to a language that writes decimal commas"):
        charging_sessions_import(user=owner, car=car, source=write_csv(tmp_path, rows))
    for row in rows:
        row["cost_per_kwh"] = "24.5"  # in pence
    with pytest.raises(CsvFileError, match="Are the prices or costs in pence"):
        charging_sessions_import(user=owner, car=car, source=write_csv(tmp_path, rows))


def test_money_in_a_bounds_message_has_its_thousands_separators():
    from sessions_app.bounds import bounds_broken

    errors = bounds_broken(kwh=Decimal("40"), price=Decimal("2770200"), total=None, battery_kwh=Decimal("64"),
                           price_ceiling=Decimal("2.00"))  # fmt: skip
    assert errors["cost_per_kwh"].message.startswith("2,770,200 £/kWh is above the most a kWh costs (£2.00)")
    errors = bounds_broken(kwh=Decimal("40"), price=None, total=Decimal("2770200"), battery_kwh=Decimal("64"),
                           price_ceiling=Decimal("2.00"))  # fmt: skip
    assert errors["total_cost_gbp"].message.startswith("£2,770,200.00 is more than 40 kWh cost")
