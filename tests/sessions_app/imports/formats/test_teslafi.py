"""TeslaFi's polls (issue 20, points 6 and 8): None where TeslaFi read nothing is a missing value, not
the poll's error; polls out of order (newest first, shuffled, two exports merged) rebuild the same
sessions as the file in order, by TeslaFi's data_id (the night the clocks go back too) or by Date, in
flat memory; errors name the poll's own line."""

import csv
import datetime as dt
import random
import tracemalloc
from decimal import Decimal

import pytest

from cars_app.models import Car
from sessions_app.imports.choices import ImportChoices
from sessions_app.imports.csv_format import CsvFileError
from sessions_app.imports.csv_io import ImportOptions, charging_sessions_import
from sessions_app.imports.formats.teslafi import TeslafiRows
from sessions_app.imports.importer import RowIssue

from .test_presets import TESLAFI_COLUMNS, TESLAFI_POLLS

FIELDS = ("date", "odometer", "charge_type", "charge_power_kw", "location_label", "charge_delivered_kwh",
          "duration_mins", "soc_from", "soc_to", "ambient_temp_c", "notes")  # fmt: skip


def export(polls, ids=None) -> str:
    """As TeslaFi writes its export: ~150 columns, its number of the poll first (data_id: `ids`, else 1, 2,
    3…), the Date in quotes, None for each value it did not read."""
    lines = [",".join(TESLAFI_COLUMNS)]
    for data_id, (date, *values) in zip(ids or range(1, len(polls) + 1), polls, strict=True):
        lines.append(",".join([str(data_id), f'"{date}"', *values, *(["None"] * 140)]))
    return "\n".join(lines) + "\n"


def without_data_id(text: str) -> str:
    return "".join(line.split(",", 1)[1] for line in text.splitlines(keepends=True))


def imported(owner, make_car, path, **options):
    car = make_car(owner, name=f"Car {Car.objects.count() + 1}")
    report = charging_sessions_import(
        user=owner, car=car, source=path, options=ImportOptions(file_format="teslafi", **options)
    )
    return report, list(car.sessions.order_by("date", "odometer", "id").values_list(*FIELDS))


# Date, state, charging_state, energy, level, odometer, temp, fast, power, location
WITH_NONE = [
    ("2026-11-02 17:40:00", "asleep", *[""] * 8),  # asleep: TeslaFi reads nothing at all
    ("2026-11-02 17:50:00", "online", "None", "None", "40", "12000.4", "None", "False", "None", "None"),
    # The first poll of the charge has no odometer, temperature nor place: the next polls' are taken.
    ("2026-11-02 18:00:00", "online", "Charging", "0.5", "41", "None", "None", "None", "7", "None"),
    ("2026-11-02 18:30:00", "online", "Charging", "3.9", "NaN", "12000.4", "7", "False", "null", "Home"),
    ("2026-11-02 19:00:00", "online", "Charging", "7.4", "52", "12000.4", "NULL", "False", "None", "Home"),
    ("2026-11-02 19:10:00", "online", "Complete", "8.0", "53", "12000.4", "nan", "False", "0", "Home"),
    ("2026-11-02 19:20:00", "online", "Complete", "8.0", "None", "None", "None", "None", "None", "None"),
]


def test_none_in_teslafis_polls_is_a_missing_value_and_the_charge_is_imported(owner, make_car, tmp_path):
    path = tmp_path / "TeslaFi112026.csv"
    path.write_text(export(WITH_NONE))
    report, rows = imported(owner, make_car, path)
    assert report.ok and report.inserted == 1, report.errors
    assert rows == [
        (dt.date(2026, 11, 2), 12000, "AC", Decimal("7.00"), "Home", Decimal("8.000"), 70, 41, 53, Decimal("7.0"),
         "PlugTrack: reconstructed from 4 TeslaFi polls, 18:00–19:10"),
    ]  # fmt: skip


def test_text_that_is_not_a_number_or_no_date_is_still_the_polls_lines_error(owner, make_car, tmp_path):
    polls = [*WITH_NONE]
    polls[3] = (*polls[3][:6], "abc", *polls[3][7:])  # outside_temp
    polls[4] = ("None", *polls[4][1:])
    polls[5] = (*polls[5][:8], "Infinity", polls[5][9])  # charger_power
    path = tmp_path / "TeslaFi112026.csv"
    path.write_text(export(polls, ids=[1, "9" * 30, 3, 4, 5, 6, "x7"]))
    report, rows = imported(owner, make_car, path, dry_run=True)
    # (The charge left has no odometer: those of its polls that had one are the errors.)
    assert [(issue.row, issue.field, issue.value) for issue in report.errors] == [
        (3, "data_id", "9" * 30), (4, "odometer", ""), (5, "outside_temp", "abc"), (6, "Date", "None"),
        (7, "charger_power", "Infinity"), (8, "data_id", "x7"),
    ]  # fmt: skip
    assert report.errors[2].message == (
        "TeslaFi poll: outside_temp is not a number. Correct it, or write None if not known."
    )
    assert report.errors[3].message.startswith("TeslaFi poll: Date is not a date and time (e.g. 2026-11-02 18:00:00)")


def test_a_charge_without_any_odometer_or_kwh_is_its_first_polls_lines_error(owner, make_car, tmp_path):
    polls = [(*poll[:5], "None", *poll[6:]) if poll[0] < "2026-11-03" else poll for poll in TESLAFI_POLLS]
    polls[6:9] = [(*poll[:3], "None", *poll[4:]) for poll in polls[6:9]]  # the charge of 2026-11-03
    path = tmp_path / "TeslaFi112026.csv"
    path.write_text(export(polls))
    report, _ = imported(owner, make_car, path, allow_partial=True)
    assert report.inserted == 2
    assert [(issue.row, issue.field, issue.value) for issue in report.errors] == [
        (3, "odometer", ""), (8, "charge_delivered_kwh", "")
    ]  # fmt: skip
    assert report.errors[1].message.endswith("has no charge_energy_added: TeslaFi wrote None in every one of its "
                                             "polls (it could not read the car). Fill in the charge_energy_added of "
                                             "one of them.")  # fmt: skip
    assert report.errors[0].message == (
        "The charge of 2026-11-02, 18:00–19:10 (4 TeslaFi polls, the first on this line) has no odometer: TeslaFi "
        "wrote None in every one of its polls (it could not read the car). Fill in the odometer of one of them."
    )


def test_polls_out_of_order_rebuild_the_same_sessions_as_the_file_in_order(owner, make_car, tmp_path):
    in_order = tmp_path / "in_order.csv"
    in_order.write_text(export(TESLAFI_POLLS))
    report, expected = imported(owner, make_car, in_order)
    assert report.ok and len(expected) == 4
    order = list(range(len(TESLAFI_POLLS)))
    random.Random(20).shuffle(order)
    variants = {
        "newest_first.csv": export(TESLAFI_POLLS[::-1], ids=range(13, 0, -1)),
        "shuffled.csv": export([TESLAFI_POLLS[index] for index in order], ids=[index + 1 for index in order]),
        # Two monthly exports joined end to end, overlapping by four polls (the header written again).
        "merged.csv": export(TESLAFI_POLLS[:9]) + export(TESLAFI_POLLS[5:], ids=range(6, 14)),
    }
    for name, text in variants.items():
        for data_id, written in ((True, text), (False, without_data_id(text))):  # (without: by Date)
            (tmp_path / name).write_text(written)
            report, rows = imported(owner, make_car, tmp_path / name)
            assert report.ok and rows == expected, (name, data_id)
    # Each session named by its first poll's line (here the last of its polls in the file), in the order of time.
    (tmp_path / "newest_first.csv").write_text(variants["newest_first.csv"])
    report, _ = imported(owner, make_car, tmp_path / "newest_first.csv", dry_run=True)
    assert [(new["row"], new["cells"]["notes"][-11:]) for new in report.first_new] == [
        (13, "18:00–19:10"), (8, "12:10–12:30"), (5, "20:00–20:30"), (3, "21:00–21:10")
    ]  # fmt: skip


def test_a_charge_through_the_night_the_clocks_go_back_is_one_charge(owner, make_car, tmp_path):
    """TeslaFi writes local time: 01:00–02:00 comes twice that night. Its data_id keeps the polls in order (by
    their Date, the two hours' polls would interleave, and each drop of charge_energy_added start a charge)."""
    night = [
        ("2026-10-25 00:30:00", "online", "Charging", "1.0", "40", "12000.4", "9", "False", "7", "Home"),
        ("2026-10-25 01:00:10", "online", "Charging", "4.5", "45", "12000.4", "9", "False", "7", "Home"),
        ("2026-10-25 01:30:10", "online", "Charging", "8.0", "51", "12000.4", "8", "False", "7", "Home"),
        ("2026-10-25 01:00:40", "online", "Charging", "11.5", "56", "12000.4", "8", "False", "7", "Home"),  # GMT
        ("2026-10-25 01:30:40", "online", "Charging", "15.0", "61", "12000.4", "8", "False", "7", "Home"),
        ("2026-10-25 02:00:00", "online", "Complete", "17.0", "64", "12000.4", "8", "False", "0", "Home"),
    ]
    (tmp_path / "night.csv").write_text(export(night))
    (tmp_path / "newest_first.csv").write_text(export(night[::-1], ids=range(6, 0, -1)))
    for name in ("night.csv", "newest_first.csv"):
        report, rows = imported(owner, make_car, tmp_path / name)
        assert report.ok and [(row[5], row[7], row[8], row[10]) for row in rows] == [
            (Decimal("17.000"), 40, 64, "PlugTrack: reconstructed from 6 TeslaFi polls, 00:30–02:00")
        ], name  # fmt: skip


def test_polls_whose_data_id_and_date_disagree_are_refused_with_their_lines(owner, make_car, tmp_path):
    path = tmp_path / "TeslaFi112026.csv"
    path.write_text(export(TESLAFI_POLLS[:9], ids=[9, 2, 3, 4, 5, 6, 7, 8, 1]))
    car = make_car(owner)
    message = (r"TeslaFi112026.csv: the polls' data_id and Date disagree: line 3 \(data_id 2\) is dated 2026-11-02 "
               r"18:00, more than an hour before line 10 \(data_id 1, 2026-11-03 12:40\)\. TeslaFi numbers its polls "
               "in time order: correct the file, or remove its data_id column")  # fmt: skip
    with pytest.raises(CsvFileError, match=message):
        charging_sessions_import(user=owner, car=car, source=path, options=ImportOptions(file_format="teslafi"))
    assert not car.sessions.exists()


def test_an_unreadable_poll_out_of_order_is_reported_at_its_own_line(owner, make_car, tmp_path):
    polls = TESLAFI_POLLS[::-1]
    polls[10] = (*polls[10][:3], "lots", *polls[10][4:])  # 2026-11-02 18:30, at line 12
    path = tmp_path / "TeslaFi112026.csv"
    path.write_text(export(polls, ids=range(13, 0, -1)))
    report, _ = imported(owner, make_car, path, dry_run=True)
    assert [(issue.row, issue.field, issue.value) for issue in report.errors] == [(12, "charge_energy_added", "lots")]


def generated_export(path, polls: int) -> None:
    """`polls` polls a minute apart, newest first: a charge of 60 polls every 2 hours, then 60 idle."""
    start = dt.datetime(2026, 1, 1)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(TESLAFI_COLUMNS[:11])
        for number in reversed(range(polls)):
            minute = number % 120
            state = "Charging" if minute < 60 else "Complete" if minute == 60 else "Disconnected"
            energy = f"{min(minute, 60) * 0.2:.1f}" if minute <= 60 else "0"
            time, odometer = start + dt.timedelta(minutes=number), f"{12000 + number // 120 * 40}.4"
            out.writerow([number, f"{time:%Y-%m-%d %H:%M:%S}", "online", state, energy, 20 + min(minute, 60) // 2,
                          odometer, "None" if number % 7 else "8", "False", 7, "Home"])  # fmt: skip


def peak_read(path) -> tuple[int, int, int]:
    """Python's peak memory while TeslaFi's file is read (its shape, then its polls sorted and rebuilt),
    and the sessions found."""
    tracemalloc.start()
    try:
        with TeslafiRows(path, ImportChoices()).open(path.name) as (_, rows, _):
            shape = tracemalloc.get_traced_memory()[1]  # (bounded by shape_start's 1 MiB blocks of bytes)
            tracemalloc.reset_peak()
            sessions = sum(1 for row in rows if not isinstance(row, RowIssue))
            return shape, tracemalloc.get_traced_memory()[1], sessions
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_polls_are_sorted_in_flat_memory(tmp_path):
    """A file ten times longer, newest first, takes no more memory: the polls are sorted on disk. (10,000
    polls here, for speed: tracemalloc makes reading them several times slower.)"""
    generated_export(tmp_path / "short.csv", 1_000)
    generated_export(tmp_path / "long.csv", 10_000)
    peak_read(tmp_path / "short.csv")  # (anything loaded once, before measuring)
    _, short, short_sessions = peak_read(tmp_path / "short.csv")
    shape, long, long_sessions = peak_read(tmp_path / "long.csv")
    assert (short_sessions, long_sessions) == (9, 84)
    tracemalloc.start()
    with (tmp_path / "long.csv").open(newline="") as handle:
        held = list(csv.reader(handle))  # the polls held as the least they could be: their cells
    holding = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    assert long < short + 100 * 1024, (short, long)
    assert max(shape, long) < holding / 3 and long < holding / 10, (shape, long, holding)
