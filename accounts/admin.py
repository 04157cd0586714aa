"""The Django admin for users: the same rules as the services.

Changing a password or deactivating a user here revokes the user's tokens
(User.save); deleting a user who is a tenant's last admin is refused with a
message (tenants.services), never a 500 page.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

from tenants.admin import ServiceRefusalsAsMessages
from tenants.services import memberships_remove_user

from .models import TokenFamily, User


def _platform_admins_only(request) -> bool:
    """The admin site is for platform administrators (superusers) only."""
    return bool(request.user.is_active and request.user.is_superuser)


admin.site.has_permission = _platform_admins_only  # type: ignore[method-assign]
admin.site.site_header = "Audit Log administration"


@admin.register(User)
class AuditLogUserAdmin(ServiceRefusalsAsMessages, UserAdmin):
    list_display = ["username", "email", "is_active", "is_superuser", "date_joined"]

    def delete_model(self, request, obj):
        with transaction.atomic():
            memberships_remove_user(user=obj)
            obj.delete()

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for user in queryset:
                self.delete_model(request, user)


@admin.register(TokenFamily)
class TokenFamilyAdmin(admin.ModelAdmin):
    """Sessions (one per login), read-only: revoke one by deactivating the user,
    changing the password, or the user's logout."""

    list_display = ["user", "created_at", "expires_at", "revoked_at", "revoked_reason"]
    list_filter = ["revoked_reason"]
    search_fields = ["user__username"]
    readonly_fields = ["user", "created_at", "expires_at", "revoked_at", "revoked_reason"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
