from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


def _platform_admins_only(request) -> bool:
    """The admin site is for platform administrators (superusers) only."""
    return bool(request.user.is_active and request.user.is_superuser)


admin.site.has_permission = _platform_admins_only  # type: ignore[method-assign]
admin.site.site_header = "Audit Log administration"


@admin.register(User)
class AuditLogUserAdmin(UserAdmin):
    list_display = ["username", "email", "is_active", "is_superuser", "date_joined"]
