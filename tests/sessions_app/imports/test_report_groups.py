"""Every warning and error seen: the report groups problems by kind with counts and examples, says
"the first N of M" wherever it cuts, and the error file lists them all, warnings marked as such."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import

from ..csv_helpers import read_csv, session_row, write_csv


@pytest.fixture
def mixed_file(tmp_path):
    """150 sessions whose total differs from price × kWh (warnings), then 3 charging more than the
    battery × 1.1 (a plausibility warning) and 2 that cannot be imported (errors)."""
    rows = [
        session_row(date=f"2025-{1 + day // 28:02}-{1 + day % 28:02}", odometer=str(1000 + day * 100),
                    charge_delivered_kwh="25", cost_per_kwh="0.10", total_cost_gbp="9.99")
        for day in range(150)
    ]  # fmt: skip
    rows += [session_row(date=f"2025-07-{day:02}", odometer=str(15900 + day * 300), charge_delivered_kwh="75",
                         soc_from="", soc_to="") for day in (1, 2, 3)]  # fmt: skip
    rows += [session_row(date="2025-07-10", odometer="x"), session_row(date="2025-07-11", odometer="y")]
    return write_csv(tmp_path, rows)


def test_the_report_groups_every_problem_by_kind_with_counts_and_examples(owner, make_car, mixed_file):
    car = make_car(owner, battery_kwh=Decimal("64.8"))
    options = ImportOptions(dry_run=True)
    report = charging_sessions_import(user=owner, car=car, source=mixed_file, options=options).to_dict()
    groups = {(group["severity"], group["field"], group["kind"]): group for group in report["groups"]}
    assert report["warning_count"] == 153 and len(report["warnings"]) == 100  # the list is cut ...
    differs = groups["warning", "total_cost_gbp", "a total cost that differs from price × energy"]
    assert differs["count"] == 150 and [issue["row"] for issue in differs["examples"]] == [2, 3, 4]
    # ... and the battery warnings, after the first 100 of the list, are seen in their own group
    battery = groups["warning", "charge_delivered_kwh", "more kWh than the battery × 1.1"]
    assert battery["count"] == 3 and battery["examples"][0]["row"] == 152
    assert groups["error", "odometer", "not a whole number"]["count"] == 2
    assert [group["severity"] for group in report["groups"]][:1] == ["error"]  # errors first

    every = read_csv(mixed_file.with_name("may.err.csv"))  # all of them, warnings marked as such
    assert len(every) == 155 and sum(row["severity"] == "warning" for row in every) == 153
    assert {row["row"] for row in every if row["field"] == "charge_delivered_kwh"} == {"152", "153", "154"}


def test_the_command_prints_the_groups_and_says_where_it_cuts(owner, make_car, mixed_file):
    make_car(owner)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("sessions_import", "--from", str(mixed_file), "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Problems by kind:" in text
    assert "     2 errors   odometer: not a whole number; rows 155, 156" in text
    assert "   150 warnings total_cost_gbp: a total cost that differs from price × energy; rows 2, 3, 4 " \
           "(first 3 of 150)" in text  # fmt: skip
    assert "     3 warnings charge_delivered_kwh: more kWh than the battery × 1.1; rows 152, 153, 154" in text
    assert "Warnings (first 10 of 153):" in text
    assert "All errors and warnings are listed in" in text

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("sessions_import", "--from", str(mixed_file), "--dry-run", "--json", stdout=out)
    assert {group["count"] for group in json.loads(out.getvalue())["groups"]} == {2, 150, 3}
