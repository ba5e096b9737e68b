"""A first look at an owner's file, before its check: which format it is, its encoding and
delimiter, its headings and the mapping PlugTrack proposes for them (the person's own, else the
one they saved for this header, else the preset's), for the person to confirm or change. Reads
the first line only, after the encoding check (file_shape.encoding_detect, a pass over the bytes)."""

import csv
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from django.contrib.auth.models import User

from .column_mapping import ColumnMapping
from .csv_format import HEADER, CsvFileError, csv_records, first_line
from .file_shape import FileShape
from .import_choices import ImportChoices
from .mapped_csv import ISO_DAY, shape_start, text_open
from .mapping_json import MAX_COLUMNS  # (a saved mapping's header keeps it too)
from .mapping_profiles import mapping_for_header
from .presets import preset_detect, preset_mapping


@dataclass
class FilePreview:
    # "plugtrack", "spreadsheet", "evcc", "teslafi"; "auto" for PlugTrack's own columns in another shape
    file_format: str
    shape: dict  # encoding and delimiter, as people read them
    header: list[str]
    mapping: ColumnMapping | None = None  # the proposal; none for PlugTrack's own columns and TeslaFi's
    problem: str = ""  # what the proposal lacks, in words (e.g. no column for the date)


def owner_file_preview(*, user: User, path: Path, name: str, file_format: str, choices: ImportChoices) -> FilePreview:
    """Raises CsvFileError (and ShapeQuestion) for a file that cannot be read at all."""
    shape, header = file_header(path, name, choices)
    if len(header) > MAX_COLUMNS:
        raise CsvFileError(
            f"{name} has {len(header):,} columns; PlugTrack reads files of up to {MAX_COLUMNS} (TeslaFi's has about "
            "150). Is this the right file? Save only the columns you need."
        )
    described = {key: value for key, value in shape.describe().items() if key in ("encoding", "delimiter")}
    saved = choices.mapping or mapping_for_header(user, header)
    if file_format == "auto":
        file_format = format_detect(path=path, shape=shape, header=header, has_mapping=saved is not None)
        if file_format == "spreadsheet" and own_columns(header) and saved is None:
            return FilePreview("auto", described, header)  # its own columns, resaved: nothing to choose
    if file_format in ("plugtrack", "teslafi"):
        return FilePreview(file_format, described, header)
    mapping = saved
    if mapping is None:
        mapping, _ = preset_mapping(file_format, header, name, complete=False)  # (never refused: a proposal)
    problem = ""
    try:
        mapping.indexes(header, name, odometer_optional=choices.blank_odometer == "previous")
    except CsvFileError as error:
        problem = str(error)
    return FilePreview(file_format, described, header, mapping, problem)


def file_header(path: Path, name: str, choices: ImportChoices) -> tuple[FileShape, list[str]]:
    """The file's encoding and delimiter, and its first line split by them."""
    shape = shape_start(path, name, choices)
    with text_open(path, shape.encoding) as text:
        line = first_line(text, name)
    return shape, [heading.strip() for heading in next(csv.reader([line], delimiter=shape.delimiter))]


# How many rows of a file with PlugTrack's own columns are looked at to tell one as PlugTrack writes it
# from one a spreadsheet saved again: a spreadsheet rewrites every date and number alike.
OWN_SHAPE_ROWS = 100


def format_detect(*, path: Path, shape: FileShape, header: list[str], has_mapping: bool = False) -> str:
    """What `--format auto` (the admin's "Detect it") reads a file as:
    - with a mapping the owner saved for this header (or gave): through it, whatever the header is
      (the spreadsheet reader, or evcc's, which asks its costs' currency);
    - PlugTrack's own columns (any order), comma-separated, UTF-8, as PlugTrack writes them (its
      first rows with ISO dates and decimal points): PlugTrack's own reader, as strict as ever;
    - PlugTrack's own columns in any other shape (semicolons or tabs, decimal commas, a spreadsheet's
      day-first or month-first dates, other case): the spreadsheet reader, which reads those names as
      themselves and works out the shape (and asks when the dates could be either);
    - else the preset the header says (evcc's, TeslaFi's, or a spreadsheet)."""
    detected = preset_detect(header)
    if has_mapping:
        return "evcc" if detected == "evcc" else "spreadsheet"
    if not own_columns(header):
        return detected
    return "plugtrack" if _as_plugtrack_writes(path, shape, header) else "spreadsheet"


def own_columns(header: list[str]) -> bool:
    """PlugTrack's 14 columns, in any order and case."""
    return sorted(heading.strip().lower() for heading in header) == sorted(HEADER)


def _as_plugtrack_writes(path: Path, shape: FileShape, header: list[str]) -> bool:
    if shape.delimiter != "," or shape.encoding != "utf-8" or [h.strip() for h in header if h.strip() not in HEADER]:
        return False
    date = header.index("date")
    with text_open(path, shape.encoding) as text:
        records = csv_records(text, path.name)
        next(records, None)
        # (a number with a comma, "12,5", is no spreadsheet's save of a comma-separated file: the strict
        # reader says what is wrong with it)
        return all(ISO_DAY.fullmatch(cells[date].strip()) for _, cells in islice(records, OWN_SHAPE_ROWS)
                   if len(cells) == len(header))  # fmt: skip
