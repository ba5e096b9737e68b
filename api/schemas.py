"""What the API takes and gives, as typed schemas (pydantic, through django-ninja): the OpenAPI document
is generated from them. A posted session's values are only typed here; what they may be (bounds, the
date of its start, the duplicate key) is the import engine's to say, as for any file's row."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import AwareDatetime, BeforeValidator, ConfigDict, Field, model_validator

# A number as a string or a JSON number; bounded, so that no exponent can make PlugTrack write a billion digits.
Number = Annotated[Decimal, Field(max_digits=20)]
ChargeType = Annotated[
    Literal["AC", "DC"], BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value)
]


class SessionIn(Schema):
    """One finished charging session. The same checks as a row of an imported file: the same bounds, the
    same warnings, the same duplicate key (car, date, odometer, kWh)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "car": 1, "started_at": "2026-03-28T22:30:00+00:00", "ended_at": "2026-03-29T06:30:00+01:00",
        "odometer": 12480, "charge_type": "AC", "charge_delivered_kwh": 30.5, "cost_per_kwh": 0.075,
        "location_label": "Home", "external_id": "wallbox-2026-03-29T06:30:00",
    }]})  # fmt: skip

    car: int = Field(description="The car's id (GET /cars).")
    date: dt.date | None = Field(None, description="The session's date; left out, the local date of started_at.")
    started_at: AwareDatetime | None = Field(None, description="When it began: ISO 8601 with its UTC offset.")
    ended_at: AwareDatetime | None = Field(None, description="When it ended: ISO 8601 with its UTC offset.")
    odometer: int | None = Field(None, description="The odometer, in odometer_unit; or give odometer_rule.")
    odometer_unit: Literal["mi", "km"] = Field("mi", description="km is converted to whole miles (said in notes).")
    odometer_rule: Literal["previous"] | None = Field(
        None, description="For a wallbox that cannot know the odometer: the latest one stored before this "
        "session's date (0 miles driven, said in notes). Give this or odometer.",
    )  # fmt: skip
    charge_type: ChargeType
    charge_delivered_kwh: Number = Field(description="Energy delivered, kWh (at most 3 decimals).")
    charge_power_kw: Number | None = None
    duration_mins: int | None = None
    cost_per_kwh: Number | None = Field(None, description="Price per kWh, in `currency`.")
    total_cost: Number | None = Field(None, description="Total cost, in `currency`; left out: price × kWh.")
    currency: str | None = Field(
        None, description="The costs' currency (ISO code): GBP by default; another needs `rate`; \"none\" leaves "
        "the costs out.",
    )  # fmt: skip
    rate: Number | None = Field(None, description="Pounds per unit of `currency` (e.g. 0.86 for EUR).")
    location_label: str = ""
    charge_network: str = ""
    soc_from: int | None = None
    soc_to: int | None = None
    ambient_temp_c: Number | None = None
    notes: str = ""
    external_id: str = Field(
        "", max_length=200, description="The session's id where it came from (evcc's, a wallbox's): a car's "
        "second session with the same one is refused (409).",
    )  # fmt: skip

    @model_validator(mode="after")
    def _odometer_and_date(self):
        if (self.odometer is None) == (self.odometer_rule is None):
            raise ValueError('give either "odometer" or "odometer_rule": "previous", not both and not neither')
        if self.date is None and self.started_at is None:
            raise ValueError('give "date", or "started_at" (whose local date the session then has)')
        return self


class Issue(Schema):
    """A problem with the session, as an import's report names a row's: the row (1: the session posted),
    the field, its value, what is wrong and what to do, and its kind in a few words."""

    row: int | None = 1
    field: str
    value: str
    message: str
    kind: str


class Message(Schema):
    message: str = Field(description="What happened, in people's words.")


class Invalid(Message):
    errors: list[Issue] = Field([], description="Each problem, as an import's report names a row's.")


class Duplicate(Message):
    session_id: int = Field(description="The stored session's id.")


class SessionOut(Schema):
    id: int
    car: int
    date: dt.date
    odometer: int = Field(description="Miles.")
    miles: int | None = Field(description="Since the car's previous session; none for its first.")
    charge_type: str
    charge_power_kw: float | None
    location_label: str
    charge_network: str
    charge_delivered_kwh: float
    duration_mins: int | None
    cost_per_kwh: float | None = Field(description="£ per kWh.")
    total_cost_gbp: float | None
    soc_from: int | None
    soc_to: int | None
    ambient_temp_c: float | None
    notes: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    home: bool = Field(description="Charged at home, by the owner's home words and public networks.")
    flagged: bool = Field(description="Looks wrong to the plausibility checks: left out of efficiency.")
    import_id: int | None = Field(description="The import record that added it (undone together).")
    external_id: str | None


class SessionCreated(Schema):
    session: SessionOut
    warnings: list[Issue] = Field(description="What looks wrong about it (stored all the same, flagged).")
    import_id: int


class SessionPage(Schema):
    sessions: list[SessionOut]
    next_cursor: str | None = Field(description="Give it as `cursor` for the next page; none after the last.")


class CarOut(Schema):
    id: int
    name: str
    make: str
    model: str
    battery_kwh: float
    efficiency_mpkwh: float | None
    active: bool


class SummaryOut(Schema):
    car: int
    period: Literal["month", "year", "all"]
    first_day: dt.date | None = Field(description="The period's first day; none for all.")
    last_day: dt.date | None
    sessions: int
    kwh: float
    cost_gbp: float = Field(description="Of the sessions with a price or a cost.")
    priced_sessions: int
    miles: int = Field(description="Of the sessions counted for efficiency.")
    efficiency_mpkwh: float | None
    efficiency_source: str = Field(description="measured, car figure, default setting, or not enough data.")
    efficiency_note: str
    pence_per_mile: float | None
    petrol_pence_per_mile: float
    savings_gbp: float | None
    home_kwh: float
    home_share_percent: float | None
    flagged_left_out: int


class Outcome(Schema):
    level: Literal["success", "warning", "error"]
    message: str


class JobOut(Schema):
    id: int
    kind: str
    status: Literal["queued", "running", "checked", "done", "failed"]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    outcome: list[Outcome]
    report: dict | None = Field(description="The backup's counts and file, once written.")
    url: str
