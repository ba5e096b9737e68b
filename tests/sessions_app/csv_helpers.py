"""Helpers for the sessions CSV tests."""

import csv
from pathlib import Path

from sessions_app.imports.csv_format import HEADER


def session_row(**cells) -> dict[str, str]:
    """A valid CSV row; `cells` override columns."""
    row = {
        "date": "2025-03-01",
        "odometer": "1000",
        "charge_type": "AC",
        "charge_power_kw": "7",
        "location_label": "Home",
        "charge_network": "Octopus",
        "charge_delivered_kwh": "30.5",
        "duration_mins": "260",
        "cost_per_kwh": "0.075",
        "total_cost_gbp": "",
        "soc_from": "20",
        "soc_to": "80",
        "ambient_temp_c": "8.5",
        "notes": "",
    }
    return row | cells


def write_csv(folder: Path, rows: list[dict], name: str = "may.csv", header=HEADER, **open_options) -> Path:
    path = folder / name
    with path.open("w", newline="", **({"encoding": "utf-8"} | open_options)) as handle:
        writer = csv.writer(handle, lineterminator=open_options.pop("lineterminator", "\n"))
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])
    return path


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
