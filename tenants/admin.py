"""The Django admin for tenants and memberships: the same rules as the API.

Membership changes go through tenants.services (the last-admin rule, checked
under the tenant's lock); tenants are never deleted here, the admin names the
offboarding path instead (docs/operations.md, "Offboarding a tenant").
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse

from auditlog_project.errors import DomainError, Invalid

from .models import Membership, Tenant
from .services import (
    TENANT_FIELDS,
    LastAdminError,
    membership_delete,
    memberships_apply,
    memberships_check,
    tenant_create,
    tenant_update,
)

TENANT_OFFBOARDING = (
    "Tenants are never deleted: their id must never be reused, and their events "
    "stay tied to it. To offboard tenant {id!r}, deactivate it (untick “Active” "
    "and save, or PATCH /api/v1/tenants/{id} with is_active=false): its members "
    "lose access at once, and retention removes its events as they age "
    "(see docs/operations.md, “Offboarding a tenant”)."
)


def refusal_text(exc: DomainError) -> str:
    """The plain sentence of a service refusal."""
    if isinstance(exc, Invalid):
        return " ".join(str(m) for messages_ in exc.errors.values() for m in messages_)
    return exc.message


class ServiceRefusalsAsMessages(admin.ModelAdmin):
    """Turn a service refusal raised while saving or deleting into an admin error
    message and a redirect back, never a 500 page.

    Forms check the rules first (with the user's input kept); this catches what
    only the locked check in the service sees, such as a concurrent change. The
    savepoint makes the refused change leave nothing behind, log entries included.
    """

    def _refusable(self, request, view, *args):
        try:
            with transaction.atomic():
                return view(request, *args)
        except DomainError as exc:
            self.message_user(request, refusal_text(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._refusable(request, super().changeform_view, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._refusable(request, super().delete_view, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        return self._refusable(request, super().changelist_view, extra_context)


def _deleted(form) -> bool:
    return bool(getattr(form, "cleaned_data", {}).get("DELETE"))


class MembershipInlineFormSet(BaseInlineFormSet):
    """The tenant page's members: validated and saved as one change."""

    def roles(self) -> dict[int, str | None]:
        """User id -> role after this change (None: removed), changed rows only."""
        removed: dict[int, str | None] = {}
        granted: dict[int, str | None] = {}
        for form in self.forms:
            # The stored user: form.instance already carries the posted one.
            original = form.initial.get("user") if form.instance.pk else None
            if _deleted(form):
                if original is not None:
                    removed[original] = None
                continue
            if not form.has_changed():
                continue
            user = form.cleaned_data["user"]
            if original is not None and original != user.pk:
                removed[original] = None  # the row was moved to another user
            granted[user.pk] = form.cleaned_data["role"]
        return {**removed, **granted}

    def clean(self) -> None:
        super().clean()
        if any(self.errors) or self.instance._state.adding:
            return
        try:
            memberships_check(tenant=self.instance, roles=self.roles())
        except LastAdminError as exc:
            raise forms.ValidationError(refusal_text(exc), code="last_admin") from None

    def save(self, commit: bool = True) -> list:
        """Apply the change through the service; keep the lists the admin's
        change message reads."""
        roles = self.roles()
        memberships_apply(tenant=self.instance, roles=roles)
        kept = [f for f in self.forms if f.has_changed() and not _deleted(f)]
        self.new_objects = [f.instance for f in kept if f.instance.pk is None]
        self.changed_objects = [(f.instance, f.changed_data) for f in kept if f.instance.pk]
        self.deleted_objects = [f.instance for f in self.deleted_forms if f.instance.pk]
        return self.new_objects + [obj for obj, _ in self.changed_objects]


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipInlineFormSet
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(ServiceRefusalsAsMessages):
    list_display = [
        "id",
        "name",
        "retention_days",
        "archive_before_delete",
        "is_active",
        "created_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["id", "name"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        return ["id", "created_at"] if obj else ["created_at"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # no delete button or bulk action: see delete_view

    def save_model(self, request, obj, form, change):
        """Through the services, so the change is recorded as an admin event."""
        if not change:
            created = tenant_create(
                id=obj.pk,
                name=obj.name,
                retention_days=obj.retention_days,
                archive_before_delete=obj.archive_before_delete,
            )
            if created.is_active != obj.is_active:
                tenant_update(tenant=created, is_active=obj.is_active)
            obj.created_at = created.created_at
            return
        stored = Tenant.objects.get(pk=obj.pk)
        changes = {name: getattr(obj, name) for name in TENANT_FIELDS}
        tenant_update(tenant=stored, **changes)

    def delete_view(self, request, object_id, extra_context=None):
        """A refusal that names the offboarding path (never a 500 page)."""
        self.message_user(request, TENANT_OFFBOARDING.format(id=object_id), messages.ERROR)
        tenant = Tenant.objects.filter(pk=object_id).first()
        if tenant is None:
            return HttpResponseRedirect(reverse("admin:tenants_tenant_changelist"))
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))


class MembershipForm(forms.ModelForm):
    """One membership: the last-admin rule is checked before saving."""

    class Meta:
        model = Membership
        fields = ["tenant", "user", "role"]

    def clean(self):
        cleaned = super().clean()
        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        user = cleaned.get("user") or getattr(self.instance, "user", None)
        if tenant is not None and user is not None and "role" in cleaned:
            try:
                memberships_check(tenant=tenant, roles={user.pk: cleaned["role"]})
            except LastAdminError as exc:
                raise forms.ValidationError(refusal_text(exc), code="last_admin") from None
        return cleaned


@admin.register(Membership)
class MembershipAdmin(ServiceRefusalsAsMessages):
    form = MembershipForm
    list_display = ["tenant", "user", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["tenant__id", "user__username"]
    autocomplete_fields = ["user", "tenant"]

    def get_readonly_fields(self, request, obj=None):
        # Moving a membership to another tenant or user is a removal and an addition.
        return ["tenant", "user", "created_at"] if obj else ["created_at"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, through the service
        return actions

    def save_model(self, request, obj, form, change):
        saved = memberships_apply(tenant=obj.tenant, roles={obj.user_id: obj.role})[obj.user_id]
        obj.pk, obj.created_at = saved.pk, saved.created_at

    def delete_model(self, request, obj):
        membership_delete(membership=obj)
