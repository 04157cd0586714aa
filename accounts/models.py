"""Users. Platform administrators are superusers; tenant roles live in tenants."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person or service account that authenticates with a JWT.

    Its `username` is what audit events carry as `user_id` for the `user` role.
    """

    class Meta:
        db_table = "accounts_user"
