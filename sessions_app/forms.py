from dataclasses import replace

from django import forms
from django.core.exceptions import ValidationError

from plugtrack_site.errors import PlugTrackError

from .imports import asks
from .imports.choices import ImportChoices
from .imports.csv_format import FIELDS, HEADER, CsvFileError
from .imports.formats.mapping import UNIT_NAMES, UNITS, ColumnMapping
from .imports.formats.mapping_json import MAX_MAPPING_BYTES, mapping_header_checked, mapping_json_checked
from .imports.mapping_profiles import profile_mapping
from .models import DUPLICATE_KEY, SESSION_FIELD_LABELS, ChargingSession, MappingProfile
from .plausibility import session_problems


class _NotCarriedOver(forms.HiddenInput):
    """The "save anyway" box while it is not shown: a tick given for other figures is never resent."""

    def format_value(self, value):
        return ""


class ChargingSessionForm(forms.ModelForm):
    """A session; one that the plausibility checks would flag is saved only once the person has
    read why and ticked "save anyway" (the box shows only then)."""

    save_despite_checks = forms.BooleanField(
        label="Save anyway", required=False, widget=_NotCarriedOver,
        help_text="These figures are right: save the session, marked \"check\" and left out of efficiency.",
    )  # fmt: skip

    class Meta:
        model = ChargingSession
        fields = ["car", *FIELDS]  # not the user: always the car's owner

    def clean(self):
        cleaned = super().clean()
        self._clean_duplicate(cleaned)
        if not self.errors and not cleaned.get("save_despite_checks"):
            self._warn_of_checks(cleaned)
        return cleaned

    def _warn_of_checks(self, cleaned: dict) -> None:
        values = _key_values(cleaned)
        if any(value is None for value in values.values()):
            return
        problems = session_problems(ChargingSession(pk=self.instance.pk, **values))
        if problems:
            self.fields["save_despite_checks"].widget = forms.CheckboxInput()
            raise ValidationError(
                [f"Please check: {problem}" for problem in problems]
                + ['If the figures are right, tick "Save anyway" below and save again.']
            )

    def _clean_duplicate(self, cleaned: dict) -> None:
        # The duplicate key includes the owner, who is not a form field, so Django cannot check
        # it: check it here, with a message instead of a database error.
        key = _key_values(cleaned)
        if all(value is not None for value in key.values()):
            clash = ChargingSession.objects.filter(**key).exclude(pk=self.instance.pk)
            if clash.exists():
                raise ValidationError(
                    f"{key['car']} already has a session on {key['date']} at {key['odometer']} miles with "
                    f"{key['charge_delivered_kwh']} kWh. Change one of these, or edit that session instead."
                )


def _key_values(cleaned: dict) -> dict:
    """The values that place a session among its car's (and make it a duplicate)."""
    return {name: cleaned.get(name) for name in ("car", *DUPLICATE_KEY)}


class SessionsImportForm(forms.Form):
    """A sessions CSV, the car to import it into (among the user's own cars) and its format. What an
    owner's own file needs besides (its columns, a date order, its costs' currency, ...) is asked on
    the next page, once the file is read (ColumnMappingForm)."""

    car = forms.ModelChoiceField(queryset=None, help_text="The sessions in the file are added to this car.")
    import_file = forms.FileField(
        label="CSV file", help_text="PlugTrack's own sessions CSV, your own spreadsheet saved as CSV, or an export "
        "of evcc or TeslaFi.",
    )  # fmt: skip
    file_format = forms.ChoiceField(
        label=asks.FORMAT_AUTO.field, initial="auto", required=False,  # left out (a script's post): PlugTrack's own
        choices=[("auto", "Detect it"), ("plugtrack", "PlugTrack's own 14 columns"),
                 ("spreadsheet", "My own spreadsheet (Date, Mileage, kWh, Cost, ...)"),
                 ("evcc", "evcc's sessions CSV"), ("teslafi", "TeslaFi's data export (sessions rebuilt from polls)")],
        help_text="Your own file's separator, decimal mark, date order and columns are detected and shown before "
        "anything is written: you may change the columns, and are asked what the file cannot tell (the currency of "
        "its costs, say).",
    )  # fmt: skip

    def __init__(self, *args, cars, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["car"].queryset = cars
        if cars.values("user").distinct().count() > 1:  # a superuser: say whose car each one is
            self.fields["car"].label_from_instance = lambda car: f"{car} ({car.user})"
        elif cars.count() == 1:
            self.fields["car"].initial = cars.get().pk


_CHOOSE = ("", "— choose —")
_ANSWER = {"required": "Answer this before the check."}


def _question_fields(kind: str, *, asked: bool) -> dict[str, forms.Field]:
    """The fields that answer a question of `kind` (ShapeQuestion.kind), labelled as its messages name
    them (asks.py); `asked`: the file raised it, so it must be answered (else it is a choice offered)."""
    if kind == "encoding":
        return {"encoding": forms.ChoiceField(
            label=asks.ENCODING.field, error_messages=_ANSWER,
            choices=[_CHOOSE, ("cp1252", "Windows-1252 (what Excel saves as “CSV” on Windows)")],
        )}  # fmt: skip
    if kind == "date_order":
        return {"date_order": forms.ChoiceField(
            label=asks.DATE_ORDER.field, error_messages=_ANSWER,
            choices=[_CHOOSE, ("dmy", "day/month/year (25/11/2026)"), ("mdy", "month/day/year (11/25/2026)")],
        )}  # fmt: skip
    if kind == "time_zone":
        return {"time_zone": forms.CharField(
            label=asks.TIME_ZONE.field, max_length=60, error_messages=_ANSWER,
            help_text="Where you charge, as a zone name: e.g. Europe/London, Europe/Berlin.",
        )}  # fmt: skip
    if kind == "currency":
        return {
            "currency": forms.CharField(
                label=asks.CURRENCY.field, required=asked, max_length=4, error_messages=_ANSWER,
                help_text=("" if asked else "Blank: pounds. ") + 'A currency\'s code (EUR, USD, ...) with its rate; '
                '"GBP" if they are pounds; "none" leaves the costs out.',
            ),
            "rate": forms.DecimalField(
                label=asks.RATE.field, required=False, min_value=0, decimal_places=6,
                help_text="Pounds per unit of that currency, e.g. 0.86 for euros.",
            ),
        }  # fmt: skip
    if kind == "blank_odometer":
        rules = [("error", "is an error of that row"), ("skip", "is left out (a warning)"),
                 ("previous", "takes the previous session's odometer (said in its notes)")]  # fmt: skip
        return {"blank_odometer": forms.ChoiceField(
            label=asks.BLANK_ODOMETER.field, required=asked, error_messages=_ANSWER, initial="" if asked else "error",
            choices=[_CHOOSE, *rules] if asked else rules,
        )}  # fmt: skip
    return {}


class ImportQuestionsForm(forms.Form):
    """The answers to what an owner's file needs before its check (shape.ShapeQuestion: a date order,
    a time zone, its costs' currency, an encoding, the rule for blank odometers), each question in its
    words above its field; and the choices `offered` besides, answered or not (the currency of costs
    the file does not mark, the rule for blank odometers). `kept`: the choices made before, which
    the answers complete; cleaned_data["choices"] has them all (ImportChoices, checked)."""

    def __init__(self, *args, questions: list[PlugTrackError] = (), offered: tuple[str, ...] = (),
                 kept: ImportChoices | None = None, **kwargs):  # fmt: skip
        super().__init__(*args, **kwargs)
        self.kept = kept or ImportChoices()
        self.asked = list(dict.fromkeys(question.kind for question in questions))  # (each kind once)
        self.questions, named = [], set()
        for question in questions:
            fields = {} if question.kind in named else _question_fields(question.kind, asked=True)
            named.add(question.kind)
            self.fields.update(fields)
            self.questions.append((question.for_admin(), [self[name] for name in fields]))
        offered = [kind for kind in offered if kind not in self.asked]
        for kind in offered:
            for name, field in _question_fields(kind, asked=False).items():
                field.initial = getattr(self.kept, name) or field.initial  # (as chosen before, if it was)
                self.fields[name] = field
        self.offered = [self[name] for kind in offered for name in _question_fields(kind, asked=False)]

    def clean_time_zone(self):
        zone = self.cleaned_data["time_zone"].strip()
        try:
            ImportChoices(time_zone=zone)
        except PlugTrackError as error:
            raise ValidationError(error.for_admin()) from None
        return zone

    def clean(self):
        cleaned = super().clean()
        answers = {name: cleaned.get(name) or None for name in ("encoding", "date_order", "time_zone", "currency")
                   if name in self.fields}  # fmt: skip
        if "rate" in self.fields:
            answers["rate"] = cleaned.get("rate")
        if "blank_odometer" in self.fields:
            answers["blank_odometer"] = cleaned.get("blank_odometer") or "error"
        try:
            cleaned["choices"] = replace(self.kept, **answers)
        except PlugTrackError as error:  # under the field it asks for, else above the form
            field = next((ask.choice for ask in error.asks if ask.choice in self.fields), None)
            self.add_error(field, error.for_admin())
        return cleaned


def heading_choices(header: list[str], samples: list[list[str]] = ()) -> list[tuple[str, str]]:
    """A select's choices of a file's headings, each with its first values beside it (`samples`, as
    preview.file_samples reads them): "Kilometerstand (km) — 12500 · 12620 · 12750"."""
    choices, seen = [("", "— not in the file —")], set()
    for index, heading in enumerate(header):
        if heading and heading not in seen:
            seen.add(heading)
            values = samples[index] if index < len(samples) else []
            choices.append((heading, f"{heading} — {' · '.join(values)}" if values else heading))
    return choices


class _MappingRows:
    """A form's rows of a mapping: one per PlugTrack field (labelled with the model's verbose name,
    "energy (kWh)"), the heading of the file that feeds it — a select of `header`, each heading with
    its first values beside it, or typed when there is no header — and its unit where it has several
    (mapping.UNITS); with "every session is AC/DC" for a charge type no column says. Fixed values the
    rows do not show (a saved mapping's network, say) are kept as they were."""

    def mapping_rows_add(self, proposal: ColumnMapping, header: list[str] | None, samples=()) -> None:
        by_key = {heading.strip().lower(): heading for heading in header or []}  # (as a mapping matches them)
        self.rows = []
        for column in HEADER:
            label = str(ChargingSession._meta.get_field(column).verbose_name)
            proposed = proposal.headings.get(column, "")
            if header is None:
                field = forms.CharField(label=label, required=False, initial=proposed)
            else:
                initial = by_key.get(proposed.lower(), "")
                field = forms.ChoiceField(label=label, choices=heading_choices(header, samples), required=False,
                                          initial=initial)  # fmt: skip
            self.fields[f"column_{column}"] = field
            if column in UNITS:
                self.fields[f"unit_{column}"] = forms.ChoiceField(
                    label=f"{label}: unit", initial=proposal.unit(column), required=False,  # (left out: its first)
                    choices=[(choice, UNIT_NAMES[choice]) for choice in UNITS[column]],
                )  # fmt: skip
            self.rows.append((self[f"column_{column}"], self[f"unit_{column}"] if column in UNITS else None))
        self.fields["charge_type_fixed"] = forms.ChoiceField(
            label="With no AC/DC column, every session is", required=False,
            initial=proposal.fixed.get("charge_type", ""),
            choices=[("", "— (the file says)"), ("AC", "AC"), ("DC", "DC")],
        )  # fmt: skip
        self.fixed_kept = {column: value for column, value in proposal.fixed.items() if column != "charge_type"}

    def mapping_cleaned(self, cleaned: dict, name: str) -> ColumnMapping:
        """The mapping the rows say (not yet checked against a file)."""
        headings = {column: cleaned[f"column_{column}"].strip() for column in HEADER
                    if (cleaned.get(f"column_{column}") or "").strip()}  # fmt: skip
        units = {column: cleaned[f"unit_{column}"] for column in UNITS if cleaned.get(f"unit_{column}")}
        fixed = {column: value for column, value in self.fixed_kept.items() if column not in headings}
        if cleaned.get("charge_type_fixed") and "charge_type" not in headings:
            fixed["charge_type"] = cleaned["charge_type_fixed"]
        units = {column: unit for column, unit in units.items() if unit != UNITS[column][0]}
        return ColumnMapping(headings=headings, units=units, fixed=fixed, name=name)

    @staticmethod
    def charge_type_check(mapping: ColumnMapping) -> None:
        if "charge_type" not in mapping.headings and "charge_type" not in mapping.fixed:
            raise ValidationError("Choose the AC/DC column, or say what every session is (AC at a home wallbox).")


class ColumnMappingForm(_MappingRows, ImportQuestionsForm):
    """The columns page: which of the file's columns is each PlugTrack field, in which unit (proposed,
    then the person's), and the answers the check needs (ImportQuestionsForm). `name`: the file's
    name, as messages call it. A page without a `proposal` (TeslaFi's polls, PlugTrack's own columns
    resaved) asks its questions only."""

    save_as = forms.CharField(
        label="Save this mapping as", required=False, max_length=80,
        help_text="A name, to have it offered again for files with these headings (Column mappings, in the admin); "
        "a saved mapping of that name is replaced.",
    )  # fmt: skip

    def __init__(self, *args, name: str, header: list[str], proposal: ColumnMapping | None, samples=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.source, self.header, self.proposal = name, header, proposal
        self.mapping_chosen = None  # once cleaned: the mapping the rows say, checked or not
        if proposal is None:
            del self.fields["save_as"]
            self.rows = []
            return
        self.mapping_rows_add(proposal, header, samples)
        self.name = proposal.name

    def clean(self):
        cleaned = super().clean()
        if self.proposal is None:
            return cleaned
        mapping = self.mapping_chosen = self.mapping_cleaned(cleaned, cleaned.get("save_as") or self.name)
        choices = cleaned.get("choices")
        previous = (choices.blank_odometer if choices else cleaned.get("blank_odometer")) == "previous"
        try:
            mapping.indexes(self.header, self.source, odometer_optional=previous)
        except CsvFileError as error:
            raise ValidationError(error.for_admin()) from None
        self.charge_type_check(mapping)
        cleaned["mapping"] = mapping
        return cleaned


class SessionsExportForm(forms.Form):
    """One of the user's cars (named with its session count) and an optional date range."""

    car = forms.ModelChoiceField(queryset=None, help_text="A file holds one car's sessions: it has no car column.")
    date_from = forms.DateField(required=False, help_text="First day to include (YYYY-MM-DD). Blank: from the start.")
    date_to = forms.DateField(required=False, help_text="Last day to include. Blank: to the latest session.")

    def __init__(self, *args, cars, **kwargs):
        """`cars` annotated with `sessions_count`."""
        super().__init__(*args, **kwargs)
        self.fields["car"].queryset = cars
        self.fields["car"].label_from_instance = lambda car: (
            f"{car} ({car.sessions_count:,} session{'' if car.sessions_count == 1 else 's'})"
        )


class MappingProfileForm(_MappingRows, forms.ModelForm):
    """A saved mapping as a form: one row per PlugTrack field with the heading of the file that feeds
    it (a select of the headings it is offered for, or typed when it has none) and its unit; or a
    mapping's JSON file (as downloaded from the list) uploaded instead. Whatever is saved keeps the
    bounds of a mapping's JSON (mapping_json.py), as `mapping_profiles --import` does."""

    json_file = forms.FileField(
        label="Or a mapping's JSON file", required=False,
        help_text="A mapping downloaded from here (the list's action “Download the selected mapping as JSON”): its "
        "columns and headings replace those above.",
    )  # fmt: skip

    class Meta:
        model = MappingProfile
        fields = ["user", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        proposal, header = _profile_stored(self.instance)
        keys = {heading.strip().lower() for heading in header}
        # A select of the headings when they hold every one it reads (else typed: a profile used by name only).
        self.header_fixed = header if header and all(
            heading.lower() in keys for heading in proposal.headings.values()
        ) else None  # fmt: skip
        self.mapping_rows_add(proposal, self.header_fixed)
        if self.header_fixed is None:
            self.fields["headings"] = forms.CharField(
                label="headings of the file", required=False, initial="\n".join(header), widget=forms.Textarea(
                    attrs={"rows": 4}),
                help_text="The file's headings it is offered for, one per line; blank: it is used by name only.",
            )  # fmt: skip

    # The fields its page (mappingprofile/change_form.html) lays out itself, beside the admin's fieldsets
    @property
    def headings_field(self) -> list:
        return [self["headings"]] if "headings" in self.fields else []

    @property
    def fixed_field(self) -> list:
        return [self["charge_type_fixed"]]

    @property
    def file_field(self) -> list:
        return [self["json_file"]]

    def clean(self):
        cleaned = super().clean()
        owner = cleaned.get("user") or getattr(self.instance, "user", None)  # (an owner's form has no user field)
        name = cleaned.get("name")
        if (
            owner
            and name
            and MappingProfile.objects.filter(user=owner, name=name).exclude(pk=self.instance.pk).exists()
        ):
            self.add_error("name", f'{owner} has a saved mapping "{name}" already: choose another name.')
        uploaded = cleaned.get("json_file")
        try:
            mapping, header = self._uploaded(uploaded) if uploaded else self._from_rows(cleaned)
        except CsvFileError as error:
            self.add_error("json_file" if uploaded else None, error.for_admin())
            return cleaned
        mapping.name = name or ""
        self.instance.mapping, self.instance.header = mapping.to_json(), header
        return cleaned

    @staticmethod
    def _uploaded(uploaded) -> tuple[ColumnMapping, list[str]]:
        """A mapping's JSON file, as `mapping_profiles --import` reads one: within its bounds, or refused."""
        data = mapping_json_checked(uploaded.read(MAX_MAPPING_BYTES + 1), uploaded.name)
        mapping = ColumnMapping.from_json(data, uploaded.name)
        header = data.get("header") or [] if isinstance(data, dict) else []
        return mapping, [h.strip() for h in mapping_header_checked(header, f'The "header" of {uploaded.name}')]

    def _from_rows(self, cleaned: dict) -> tuple[ColumnMapping, list[str]]:
        mapping = self.mapping_cleaned(cleaned, cleaned.get("name") or "")
        typed = [line.strip() for line in (cleaned.get("headings") or "").splitlines() if line.strip()]
        header = mapping_header_checked(self.header_fixed or typed, "The headings of the file")
        ColumnMapping.from_json(mapping.to_json())  # the bounds of a mapping's JSON: a heading of 5,000 characters
        if missing := [column for column in ("date", "charge_delivered_kwh") if column not in mapping.headings]:
            said = " and the ".join(SESSION_FIELD_LABELS[column] for column in missing)
            raise CsvFileError(f"Choose the column of the {said}, which every session needs.")
        keys = {heading.lower() for heading in header}
        if header and (unknown := [h for h in mapping.headings.values() if h.lower() not in keys]):
            raise CsvFileError(
                f"The headings of the file have no {', '.join(repr(h) for h in unknown)}, which the mapping reads: add "
                "it to them, or choose another."
            )
        try:
            self.charge_type_check(mapping)
        except ValidationError as error:
            raise CsvFileError(error.messages[0]) from None
        return mapping, header


def _profile_stored(profile: MappingProfile) -> tuple[ColumnMapping, list[str]]:
    """A profile's mapping and headings, to be edited; nothing of what is stored that is not a mapping's
    (saved before mappings were checked: its page says why, to replace it)."""
    if profile.pk is None:
        return ColumnMapping(headings={}), []
    try:
        return profile_mapping(profile), [heading.strip() for heading in profile.header]
    except CsvFileError:
        try:
            header = mapping_header_checked(profile.header, "The headings")
        except (CsvFileError, RecursionError):
            header = []
        return ColumnMapping(headings={}), header
