from django.db import migrations

from statements.seed import RATES_EARLIER, rates_add


def seed(apps, schema_editor):
    rates_add(apps.get_model("statements", "Rate"), RATES_EARLIER)


class Migration(migrations.Migration):
    dependencies = [("statements", "0002_seed_rates")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
