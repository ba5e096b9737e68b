from django.db import migrations

from statements.seed import RATES_2026, rates_add


def seed(apps, schema_editor):
    rates_add(apps.get_model("statements", "Rate"), RATES_2026)


class Migration(migrations.Migration):
    dependencies = [("statements", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
