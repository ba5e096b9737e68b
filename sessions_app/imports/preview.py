"""A first look at an owner's file, before its check: which format it is, its encoding and
delimiter, its headings and the mapping PlugTrack proposes for them (the person's own, else the
one they saved for this header, else the preset's), for the person to confirm or change. Reads
the first line only, after the encoding check (file_shape.encoding_detect, a pass over the bytes)."""

import csv
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import User

from .choices import ImportChoices
from .csv_format import CsvFileError, first_line, own_columns
from .formats.detection import format_detect
from .formats.mapped import shape_start, text_open
from .formats.mapping import ColumnMapping
from .formats.mapping_json import MAX_COLUMNS  # (a saved mapping's header keeps it too)
from .formats.presets import preset_mapping
from .formats.shape import FileShape
from .mapping_profiles import mapping_for_header


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
