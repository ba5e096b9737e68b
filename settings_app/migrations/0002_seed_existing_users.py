"""Seed the settings of users who existed before the settings table did.

Uses the registry as it is when the migration runs: seeding only ever adds missing keys, so a
later registry with more keys is still correct here.
"""

from django.db import migrations


def seed_existing_users(apps, schema_editor):
    from settings_app.registry import SETTINGS

    User = apps.get_model("auth", "User")
    Setting = apps.get_model("settings_app", "Setting")
    for user in User.objects.all():
        existing = set(Setting.objects.filter(user=user).values_list("key", flat=True))
        Setting.objects.bulk_create(
            [Setting(user=user, key=key, value=d.default) for key, d in SETTINGS.items() if key not in existing],
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [("settings_app", "0001_initial")]
    operations = [migrations.RunPython(seed_existing_users, migrations.RunPython.noop)]
