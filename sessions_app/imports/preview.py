"""A first look at an owner's file, before its check: which format it is, its encoding and
delimiter, its headings with their first values, the mapping PlugTrack proposes for them (the
person's own, else the one they saved for this header, else the preset's), for the person to confirm
or change, and the questions its check would ask (shape.py: a date order, a time zone, the currency of
its costs, an encoding, the rule for blank odometers), to be answered on the same page, before the
check runs. Reads the first line, then at most PREVIEW_ROWS rows for the questions, after the
encoding check (shape.encoding_detect, a pass over the bytes); the check reads the whole file, and
asks on the job's page what only a later row raises."""

import csv
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path

from django.contrib.auth.models import User

from .choices import ImportChoices
from .csv_format import CsvFileError, csv_records, first_line, own_columns
from .formats.detection import format_detect
from .formats.mapped import MappedRows, shape_start, text_open
from .formats.mapping import ColumnMapping
from .formats.mapping_json import MAX_COLUMNS  # (a saved mapping's header keeps it too)
from .formats.presets import preset_mapping
from .formats.shape import FileShape, ShapeQuestion
from .formats.teslafi import TeslafiRows
from .mapping_profiles import mapping_for_header

PREVIEW_ROWS = 2_000  # the rows read for the questions (a year of daily charging is 365)
SAMPLE_ROWS = 50  # the rows read for each heading's first values ...
SAMPLES = 3  # ... this many of them, the blank ones passed over,
SAMPLE_CHARS = 30  # each cut to this length


@dataclass
class FilePreview:
    # "plugtrack", "spreadsheet", "evcc", "teslafi"; "auto" for PlugTrack's own columns in another shape
    file_format: str
    shape: dict  # encoding and delimiter, as people read them
    header: list[str]
    mapping: ColumnMapping | None = None  # the proposal; none for PlugTrack's own columns and TeslaFi's
    problem: str = ""  # what the proposal lacks, in words (e.g. no column for the date)
    questions: list[ShapeQuestion] = field(default_factory=list)  # what the check would ask, asked first
    samples: list[list[str]] = field(default_factory=list)  # each heading's first values, as the header's order


def owner_file_preview(*, user: User, path: Path, name: str, file_format: str, choices: ImportChoices) -> FilePreview:
    """Raises CsvFileError for a file that cannot be read at all."""
    questions = []
    try:
        shape, header = file_header(path, name, choices)
    except ShapeQuestion as question:  # not UTF-8 but Windows-1252: asked, and read as that to be shown
        questions.append(question)
        choices = replace(choices, encoding="cp1252")
        shape, header = file_header(path, name, choices)
    if len(header) > MAX_COLUMNS:
        raise CsvFileError(
            f"{name} has {len(header):,} columns; PlugTrack reads files of up to {MAX_COLUMNS} (TeslaFi's has about "
            "150). Is this the right file? Save only the columns you need."
        )
    described = {key: value for key, value in shape.describe().items() if key in ("encoding", "delimiter")}
    samples = file_samples(path, name, shape)
    saved = choices.mapping or mapping_for_header(user, header)
    if file_format == "auto":
        file_format = format_detect(path=path, shape=shape, header=header, has_mapping=saved is not None)
        if file_format == "spreadsheet" and own_columns(header) and saved is None:
            # Its own columns, resaved: nothing to choose, but maybe questions (read as a spreadsheet)
            questions += _questions(user=user, path=path, name=name, file_format="spreadsheet", shape=shape,
                                    choices=choices)  # fmt: skip
            return FilePreview("auto", described, header, questions=questions, samples=samples)
    if file_format == "plugtrack":
        return FilePreview(file_format, described, header, samples=samples)
    if file_format == "teslafi":
        questions += _questions(user=user, path=path, name=name, file_format="teslafi", shape=shape, choices=choices)
        return FilePreview(file_format, described, header, questions=questions, samples=samples)
    mapping = saved
    if mapping is None:
        mapping, _ = preset_mapping(file_format, header, name, complete=False)  # (never refused: a proposal)
    problem = ""
    try:
        mapping.indexes(header, name, odometer_optional=True)  # (no odometer: asked as a question below)
    except CsvFileError as error:
        problem = error.for_admin()
    proposed = replace(choices, mapping=mapping)
    questions += _questions(user=user, path=path, name=name, file_format=file_format, shape=shape, choices=proposed)
    return FilePreview(file_format, described, header, mapping, problem, questions, samples)


def owner_file_questions(*, user: User, path: Path, name: str, file_format: str,
                         choices: ImportChoices) -> list[ShapeQuestion]:  # fmt: skip
    """What the check of the file (its format decided) would ask with `choices`, from its first rows
    (PREVIEW_ROWS): e.g. after the person changed its columns on the page."""
    try:
        shape, _ = file_header(path, name, choices)
    except ShapeQuestion as question:
        return [question]
    return _questions(user=user, path=path, name=name, file_format=file_format, shape=shape, choices=choices)


def _questions(*, user: User, path: Path, name: str, file_format: str, shape: FileShape,
               choices: ImportChoices) -> list[ShapeQuestion]:  # fmt: skip
    if file_format == "plugtrack":
        return []
    if file_format == "teslafi":
        return TeslafiRows(path, choices, shape).questions(name, rows=PREVIEW_ROWS)
    preset = "evcc" if file_format == "evcc" else "spreadsheet"  # ("auto": its own columns, resaved)
    rows = MappedRows(path, preset, choices, saved_mapping=lambda header: mapping_for_header(user, header), shape=shape)
    return rows.questions(name, rows=PREVIEW_ROWS)


def file_header(path: Path, name: str, choices: ImportChoices) -> tuple[FileShape, list[str]]:
    """The file's encoding and delimiter, and its first line split by them."""
    shape = shape_start(path, name, choices)
    with text_open(path, shape.encoding) as text:
        line = first_line(text, name)
    return shape, [heading.strip() for heading in next(csv.reader([line], delimiter=shape.delimiter))]


def file_samples(path: Path, name: str, shape: FileShape) -> list[list[str]]:
    """The first SAMPLES values of each column that are not blank (from the first SAMPLE_ROWS rows),
    each on one line and cut to SAMPLE_CHARS: what a person needs to see which column holds what."""
    with text_open(path, shape.encoding) as text:
        records = csv_records(text, name, delimiter=shape.delimiter)
        header = next(records, (0, []))[1]
        samples = [[] for _ in header]
        for _, cells in islice(records, SAMPLE_ROWS):
            for column, cell in zip(samples, cells, strict=False):
                if len(column) < SAMPLES and (value := " ".join(cell.split())):
                    column.append(value if len(value) <= SAMPLE_CHARS else f"{value[: SAMPLE_CHARS - 1].rstrip()}…")
    return samples
