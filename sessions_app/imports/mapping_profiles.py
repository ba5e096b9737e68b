"""An owner's saved mappings (MappingProfile): saved under a name, offered again for a file with the
same header, exported and imported as JSON (column_mapping.ColumnMapping's, with the header). Each
way in keeps the bounds of a mapping's JSON (mapping_json.py); a profile stored before they were
checked that breaks them is refused where it is used, with what to do, never a traceback."""

from pathlib import Path

from django.contrib.auth.models import User
from django.db.models import QuerySet

from ..models import MappingProfile, headings_key
from .csv_format import CsvFileError
from .formats.mapping import ColumnMapping
from .formats.mapping_json import MAX_MAPPING_BYTES, JsonValue, mapping_header_checked, mapping_json_checked


def mapping_profiles(user: User) -> QuerySet[MappingProfile]:
    return MappingProfile.objects.filter(user=user)


def mapping_for_header(user: User, header: list[str]) -> ColumnMapping | None:
    """The owner's saved mapping for files with this header (the latest saved), if any."""
    profile = mapping_profiles(user).filter(header_key=headings_key(header)).order_by("-updated_at").first()
    return profile_mapping(profile) if profile else None


def profile_mapping(profile: MappingProfile) -> ColumnMapping:
    """The profile's mapping; CsvFileError (saying to replace it) when what is stored is not one."""
    source, headings = f'The saved mapping "{profile.name}"', f'The headings of the saved mapping "{profile.name}"'
    try:
        mapping = ColumnMapping.from_json(_stored(profile.mapping, source), source)
        mapping_header_checked(_stored(profile.header, headings), headings)
    except CsvFileError as error:
        raise CsvFileError(
            *error.parts, " Replace it with one that works (Column mappings, in the admin), or delete it."
        ) from None
    mapping.name = profile.name
    return mapping


def _stored(value: JsonValue, source: str) -> JsonValue:
    """A profile's JSON as read back: text when too deep to read (models.ReadBackJSONField), refused as text is."""
    return mapping_json_checked(value, source) if isinstance(value, str) else value


def mapping_profile_problem(profile: MappingProfile) -> str:
    """What is wrong with a stored profile ("" if nothing), for the admin's list and its page to say."""
    try:
        profile_mapping(profile)
    except CsvFileError as error:
        return error.for_admin()
    return ""


def mapping_profile_save(*, user: User, mapping: ColumnMapping, header: list[str], name: str) -> MappingProfile:
    """Save `mapping` (for files with `header`) as the owner's profile `name`, replacing one of that name;
    refused (CsvFileError) when it breaks the bounds of a mapping's JSON, e.g. a heading 5,000 long."""
    name = name.strip()[:80]
    if not name:
        raise CsvFileError("A saved mapping needs a name.")
    mapping.name = name
    data = mapping.to_json()
    ColumnMapping.from_json(data, "The mapping to save")  # as it will be read back: its name and headings too
    header = [heading.strip() for heading in mapping_header_checked(header, "The file's headings")]
    profile, _ = MappingProfile.objects.update_or_create(
        user=user, name=name, defaults={"mapping": data, "header": header}
    )
    return profile


def mapping_profile_export(profile: MappingProfile) -> dict:
    """The profile as JSON: the mapping, with the header it is offered for."""
    return profile_mapping(profile).to_json() | {"header": profile.header}


def mapping_profile_import(*, user: User, path: Path | str, name: str | None = None) -> MappingProfile:
    """Save a mapping exported as JSON (`mapping_profile_export`) as the owner's, under its own name or `name`."""
    data = mapping_json_read(path)
    mapping = ColumnMapping.from_json(data, Path(path).name)
    header = mapping_header_checked(data.get("header") or [], f'The "header" of {Path(path).name}')
    return mapping_profile_save(user=user, mapping=mapping, header=header, name=name or mapping.name)


def mapping_json_read(path: Path | str) -> JsonValue:
    """A mapping's JSON file, refused with a message when it is not one (or is larger than one can be:
    no more than that is read)."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            text = file.read(MAX_MAPPING_BYTES + 1)
    except FileNotFoundError:
        raise CsvFileError(f"No mapping file at {path}.") from None
    except OSError as error:
        raise CsvFileError(f"{path.name} is not a mapping's JSON ({error}).") from None
    return mapping_json_checked(text, path.name)


def mapping_from_argument(user: User, argument: str) -> ColumnMapping:
    """`--mapping`: a JSON file's path, or the name of one of the owner's saved mappings."""
    profile = mapping_profiles(user).filter(name=argument).first()
    if profile is not None:
        return profile_mapping(profile)
    if not argument.lower().endswith(".json") and not Path(argument).exists():
        names = ", ".join(mapping_profiles(user).values_list("name", flat=True)[:10]) or "none yet"
        raise CsvFileError(f'No saved mapping "{argument}" and no such file. Saved mappings: {names}.')
    return ColumnMapping.from_json(mapping_json_read(argument), Path(argument).name)
