"""The bounds of a mapping's JSON (mapping.py), however it comes: a file given to
`mapping_profiles --import` or `sessions_import --mapping`, the admin's Column mappings form, a
mapping saved by the import's columns page, a profile as stored. A mapping is a few hundred bytes,
3 levels deep, with short headings and numbers; anything beyond is refused with a message before it
goes further (a 5,000-digit number, NaN, or a text PostgreSQL cannot store each once ended in a 500
or a traceback). The rules are here once; ColumnMapping.from_json applies them to whatever it reads.
"""

import json
import math

from plugtrack_site.errors import excerpt

from ..csv_format import CsvFileError

JsonValue = dict | list | str | int | float | bool | None

MAX_MAPPING_BYTES = 64 * 1024
MAX_MAPPING_DEPTH = 10  # {"columns": {"odometer": {"heading": ...}}} is 3
MAX_HEADING_CHARS = 200
MAX_NUMBER_CHARS = 30  # e.g. "value": 7.5 (Python will not even read an integer past 4,300 digits)
MAX_COLUMNS = 500  # a file's headings: each one is a choice in each of the columns page's 14 lists


def mapping_json_checked(text: str | bytes, source: str) -> JsonValue:
    """JSON text (a file's bytes, a box's text) as data, refused with a message when it is larger than
    a mapping can be, not JSON, or holds what no mapping does (mapping_data_check)."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_MAPPING_BYTES:
        raise CsvFileError(f"{source} is larger than a mapping can be ({MAX_MAPPING_BYTES // 1024} KB).")

    def constant(name: str):  # NaN, Infinity, -Infinity: Python reads them, JSON (and PostgreSQL) has none
        raise CsvFileError(f"{source} holds {name}, which is not a number JSON allows: give a number, or text.")

    def number(digits: str, kind=int):  # checked before it is read: int() of 5,000 digits is a ValueError
        value = kind(digits) if len(digits) <= MAX_NUMBER_CHARS else math.inf
        if not math.isfinite(value):  # (also 1e999, a float too large)
            raise CsvFileError(
                f"{source} holds the number {excerpt(digits, 24)}, larger than any a mapping has (e.g. 7.5)."
            )
        return value

    try:
        data = json.loads(
            text.decode("utf-8") if isinstance(text, bytes) else text,
            parse_constant=constant, parse_int=number, parse_float=lambda digits: number(digits, float),
        )  # fmt: skip
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CsvFileError(f"{source} is not a mapping's JSON ({error}).") from None
    except RecursionError:  # [[[[... thousands deep, too deep for the parser before the bound is checked
        raise CsvFileError(f"{source} is not a mapping's JSON (nested too deep).") from None
    mapping_data_check(data, source)
    return data


def mapping_data_check(data: JsonValue, source: str) -> None:
    """Refuse JSON data (as read, or as stored) no mapping holds: nested deeper than MAX_MAPPING_DEPTH,
    NaN, Infinity or a huge number, a text (or key) with a NUL or half a character (a lone surrogate,
    "\\ud800"), which PostgreSQL cannot store nor a page show. Walked without recursion."""
    waiting = [(data, 1, ())]
    while waiting:
        value, depth, path = waiting.pop()
        if isinstance(value, dict | list):
            if depth > MAX_MAPPING_DEPTH:
                raise CsvFileError(
                    f"{source} is not a mapping's JSON (nested too deep: more than {MAX_MAPPING_DEPTH} levels; "
                    "a mapping has 3)."
                )
            for key, item in value.items() if isinstance(value, dict) else enumerate(value):
                _text_check(key, source, path)
                waiting.append((item, depth + 1, (*path, key)))
        elif isinstance(value, str):
            _text_check(value, source, path)
        elif (
            isinstance(value, float) and not math.isfinite(value) or isinstance(value, int) and value.bit_length() > 99
        ):
            # (in data as stored: text with these is refused as it is read)
            shown = (
                str(value) if isinstance(value, float) else f"about {int(value.bit_length() * 0.30103):,} digits long"
            )
            raise CsvFileError(f"{source} holds a number {shown}{_where(path)}, not one a mapping has (e.g. 7.5).")


def _text_check(text, source: str, path: tuple) -> None:
    if not isinstance(text, str):
        return
    where = _where(path)
    if "\x00" in text:
        raise CsvFileError(f"{source} holds a NUL character (\\u0000){where}, which PlugTrack cannot store: remove it.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        half = ascii(text[error.start])[1:-1]
        raise CsvFileError(
            f"{source} holds {half}{where}, half of a character (a lone surrogate), which PlugTrack cannot store: "
            "write the whole character, or leave it out."
        ) from None


def _where(path: tuple) -> str:
    return f" (at {' → '.join(excerpt(str(part), 30) for part in path)})" if path else ""


def mapping_header_checked(header: JsonValue, source: str) -> list[str]:
    """A saved mapping's header (the file's headings it is offered for): a list of up to MAX_COLUMNS
    headings, each text of up to MAX_HEADING_CHARS."""
    mapping_data_check(header, source)
    if not isinstance(header, list) or not all(isinstance(heading, str) for heading in header):
        raise CsvFileError(
            f'{source} must hold the file\'s headings, each as text: ["Date", "Mileage"], or [] for none.'
        )
    if len(header) > MAX_COLUMNS:
        raise CsvFileError(f"{source}: {len(header):,} headings; PlugTrack reads files of up to {MAX_COLUMNS} columns.")
    longest = max(header, key=len, default="")
    if len(longest) > MAX_HEADING_CHARS:
        raise CsvFileError(
            f"{source}: the heading {excerpt(longest)!r} is {len(longest):,} characters long; a file's heading is "
            f"at most {MAX_HEADING_CHARS}."
        )
    return header
