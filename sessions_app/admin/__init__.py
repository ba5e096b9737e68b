"""The admin of charging: sessions (with their import and export), the imports' records and saved
mappings, and cars with their figures (a car's sessions summed: so it lives here, above both)."""

from . import cars, imports, sessions  # noqa: F401 - each registers its models
