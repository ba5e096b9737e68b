"""One session given field by field (the API's POST), read as a RowSource: its fields become PlugTrack's
cells as an owner's file's do, each conversion said in its notes; and an import that adds to a record."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Q

from sessions_app.analytics import car_summary
from sessions_app.imports import (
    FIELDS,
    EngineOptions,
    ImportChoices,
    ImportReport,
    ImportSource,
    OneSession,
    RowIssue,
    charging_sessions_csv,
    charging_sessions_rows_import,
    import_recorded,
)
from sessions_app.models import ImportBatch
from settings_app.services import user_settings


def cells_of(source: OneSession) -> list[str] | RowIssue:
    with source.open("posted") as (columns, rows, detected):
        assert columns == list(FIELDS) and detected["format"] == "api"
        row = next(rows)
    return row if isinstance(row, RowIssue) else dict(zip(FIELDS, row[1], strict=True))


def test_the_fields_become_cells_with_km_and_another_currency_converted_and_said(owner, make_car):
    car = make_car(owner)
    fields = {"date": "2026-11-02", "odometer": "20117", "charge_type": "ac", "charge_delivered_kwh": "36.1",
              "total_cost_gbp": "10.83", "notes": "evcc", "started_at": "2026-11-02T18:02:11+00:00"}  # fmt: skip
    cells = cells_of(OneSession(fields=fields, car=car, choices=ImportChoices(currency="EUR", rate=Decimal("0.86")),
                                odometer_unit="km"))  # fmt: skip
    assert (cells["odometer"], cells["charge_type"], cells["total_cost_gbp"]) == ("12500", "AC", "9.31")
    assert cells["notes"] == "evcc · PlugTrack: odometer 20117 km → 12500 miles; total cost 10.83 EUR → £9.31 at 0.86"
    assert cells["started_at"] == "2026-11-02T18:02:11+00:00" and cells["ended_at"] == ""


def test_the_previous_rule_takes_the_stored_odometer_before_it(owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2026-11-01", 12480)
    fields = {"date": "2026-11-02", "charge_type": "AC", "charge_delivered_kwh": "30"}
    cells = cells_of(OneSession(fields=fields, car=car, choices=ImportChoices(blank_odometer="previous")))
    assert cells["odometer"] == "12480" and "12,480 mi taken from the session of 1 Nov 2026" in cells["notes"]
    issue = cells_of(OneSession(fields=fields | {"date": "2026-10-01"}, car=car,
                                choices=ImportChoices(blank_odometer="previous")))  # fmt: skip
    assert isinstance(issue, RowIssue) and issue.field == "odometer"


def test_an_import_may_add_its_counts_to_a_record_of_its_owner(owner, other_owner, make_car):
    car = make_car(owner)

    def imported(day: str, adding_to=None) -> ImportBatch:
        report = ImportReport(source="posted", car=str(car), dry_run=False)
        fields = {"date": day, "odometer": str(1000 + int(day[-2:])), "charge_type": "AC", "charge_delivered_kwh": "30"}
        source = OneSession(fields=fields, car=car, choices=ImportChoices())
        with source.open("posted") as (columns, rows, found), import_recorded(
            user=owner, car=car, source=ImportSource("posted", None, found), report=report, adding_to=adding_to
        ) as batch:
            rows = ((line, car, cells) for line, cells in rows)
            charging_sessions_rows_import(user=owner, rows=rows, columns=columns, report=report,
                                          options=EngineOptions(batch=batch))  # fmt: skip
        return batch

    batch = imported("2026-11-01")
    assert imported("2026-11-02", adding_to=batch) == batch
    batch.refresh_from_db()
    assert (batch.rows_read, batch.inserted, batch.format) == (2, 2, "api") and batch.sessions.count() == 2
    theirs = ImportBatch.objects.create(user=other_owner, source_name="theirs")
    with pytest.raises(ValueError, match="of its own owner"):
        imported("2026-11-03", adding_to=theirs)


def test_a_cars_summary_of_some_months_and_the_csv_filtered_further(owner, make_car, make_session):
    car = make_car(owner)
    make_session(car, "2026-01-10", 1000, "20", location_label="Home")
    make_session(car, "2026-02-10", 1100, "25", location_label="Services")
    summary = car_summary(car=car, settings=user_settings(user=owner),
                          months=(dt.date(2026, 2, 1), dt.date(2026, 12, 1)))  # fmt: skip
    assert (summary.sessions, summary.kwh) == (1, Decimal(25))
    lines = list(charging_sessions_csv(user=owner, car=car, only=~Q(location_label="Home")))
    assert len(lines) == 2 and lines[1].startswith("2026-02-10,1100,")
