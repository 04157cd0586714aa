"""Reads on users."""

from __future__ import annotations

from tenants.selectors import memberships_of


def user_identity(*, user) -> dict:
    """What `GET /auth/me` shows: the username, platform flag and tenant roles."""
    return {
        "username": user.get_username(),
        "is_platform_admin": user.is_superuser,
        "memberships": memberships_of(user=user),
    }
