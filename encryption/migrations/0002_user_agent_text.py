"""`logs_event.user_agent` becomes `text`, so an encrypted user agent fits.

A sealed value is longer than its plaintext (nonce, tag, base64): a 1,024
character user agent no longer fits varchar(1024). The API still refuses a
user agent over 1,024 characters (logs.validation); the column simply stops
repeating that limit. varchar to text is binary-coercible: PostgreSQL changes
the catalog only, without rewriting or re-checking any partition (it takes a
brief ACCESS EXCLUSIVE lock). The model state keeps max_length=1024, which is
the validation limit, so this is a database-only operation.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("encryption", "0001_initial"),
        ("logs", "0004_event_received_index"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE logs_event ALTER COLUMN user_agent TYPE text",
            "ALTER TABLE logs_event ALTER COLUMN user_agent TYPE varchar(1024)",
        ),
    ]
