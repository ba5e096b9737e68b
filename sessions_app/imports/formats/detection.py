"""Which format a file is (`--format auto`, the admin's "Detect it"), from its header: a mapping the
owner saved for it, PlugTrack's own columns (in its own shape, or as a spreadsheet saved it again),
evcc's or TeslaFi's own headings, else a spreadsheet of one's own."""

from itertools import islice
from pathlib import Path

from ..csv_format import FIELDS, csv_records, own_columns
from .evcc import EVCC_ONLY
from .mapped import ISO_DAY, text_open
from .presets import heading_key
from .shape import FileShape
from .teslafi import TESLAFI_COLUMNS


def preset_detect(header: list[str]) -> str:
    """The preset a header (not PlugTrack's own) is: evcc's or TeslaFi's by their own headings, else a spreadsheet."""
    keys = {heading_key(heading) for heading in header}
    if all(column in {heading.strip().lower() for heading in header} for column in TESLAFI_COLUMNS):
        return "teslafi"
    if len(keys & EVCC_ONLY) >= 3:
        return "evcc"
    return "spreadsheet"


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


def _as_plugtrack_writes(path: Path, shape: FileShape, header: list[str]) -> bool:
    if shape.delimiter != "," or shape.encoding != "utf-8" or [h.strip() for h in header if h.strip() not in FIELDS]:
        return False
    date = header.index("date")
    with text_open(path, shape.encoding) as text:
        records = csv_records(text, path.name)
        next(records, None)
        # (a number with a comma, "12,5", is no spreadsheet's save of a comma-separated file: the strict
        # reader says what is wrong with it)
        return all(ISO_DAY.fullmatch(cells[date].strip()) for _, cells in islice(records, OWN_SHAPE_ROWS)
                   if len(cells) == len(header))  # fmt: skip
