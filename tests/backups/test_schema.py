import hashlib

from backups import schema
from cars_app.models import Car
from sessions_app.models import ChargingSession
from settings_app.models import Setting


def models_fingerprint() -> str:
    """What a backup depends on: the fields of the backed-up models, with their types. Fields that
    PlugTrack maintains itself (not editable: the baseline flag, the previous odometer, creation
    times) are not in a backup: a restore recomputes them."""
    parts = []
    for model in (Car, ChargingSession, Setting):
        for field in model._meta.get_fields(include_parents=False):
            if field.concrete and field.editable:
                kind = type(field).__name__
                sizes = [getattr(field, name, None) for name in ("max_digits", "decimal_places", "max_length")]
                parts.append(f"{model._meta.label}.{(field.name, kind, *sizes, field.null)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def test_a_model_change_bumps_the_backup_schema_version():
    assert models_fingerprint() == schema.SCHEMA_FINGERPRINT, (
        "A backed-up model changed. Bump backups.schema.SCHEMA_VERSION, add the step from the previous "
        "version to UPGRADES (with a fixture of an old backup), then set SCHEMA_FINGERPRINT to "
        f"{models_fingerprint()!r}."
    )


def test_every_older_version_has_an_upgrade_step():
    assert sorted(schema.UPGRADES) == list(range(1, schema.SCHEMA_VERSION))
