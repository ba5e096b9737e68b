"""A first look at an owner's file, before its check: which format it is, its encoding and
delimiter, its headings and the mapping PlugTrack proposes for them (the person's own, else the
one they saved for this header, else the preset's), for the person to confirm or change. Reads
the first line only, after the encoding check (file_shape.encoding_detect, a pass over the bytes)."""

import csv
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import User

from .column_mapping import ColumnMapping
from .csv_format import CsvFileError, first_line, header_check
from .file_shape import FileShape
from .import_choices import ImportChoices
from .mapped_csv import shape_start, text_open
from .mapping_json import MAX_COLUMNS  # (a saved mapping's header keeps it too)
from .mapping_profiles import mapping_for_header
from .presets import preset_detect, preset_mapping


@dataclass
class FilePreview:
    file_format: str  # "plugtrack", "spreadsheet", "evcc" or "teslafi"
    shape: dict  # encoding and delimiter, as people read them
    header: list[str]
    mapping: ColumnMapping | None = None  # the proposal; none for PlugTrack's own file and TeslaFi's
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
    if file_format == "auto":
        file_format = format_detect(header, name)
    if file_format in ("plugtrack", "teslafi"):
        return FilePreview(file_format, described, header)
    mapping = choices.mapping or mapping_for_header(user, header)
    if mapping is None:
        mapping, _ = preset_mapping(file_format, header, name, complete=False)
    problem = ""
    try:
        mapping.indexes(header, name)
    except CsvFileError as error:
        problem = str(error)
    return FilePreview(file_format, described, header, mapping, problem)


def file_header(path: Path, name: str, choices: ImportChoices) -> tuple[FileShape, list[str]]:
    """The file's encoding and delimiter, and its first line split by them."""
    shape = shape_start(path, name, choices)
    with text_open(path, shape.encoding) as text:
        line = first_line(text, name)
    return shape, [heading.strip() for heading in next(csv.reader([line], delimiter=shape.delimiter))]


def format_detect(header: list[str], name: str) -> str:
    """PlugTrack's own format when the header is exactly its columns (any order), else the preset it says."""
    try:
        header_check(header, name)
    except CsvFileError:
        return preset_detect(header)
    return "plugtrack"
