"""TimescaleDB native compression of chunks older than TIMESCALE_COMPRESS_AFTER_DAYS.

Does nothing without TimescaleDB (the project's machines): archival/timescale.py.
"""

from django.conf import settings
from django.db import migrations


def enable(apps, schema_editor):
    from archival.timescale import compression_apply

    compression_apply(settings.TIMESCALE_COMPRESS_AFTER_DAYS, using=schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("archival", "0001_initial"),
        ("logs", "0001_initial"),
    ]

    operations = [migrations.RunPython(enable, migrations.RunPython.noop)]
