from django.urls import path

from . import views

urlpatterns = [
    path(
        "tenants/<str:tenant_id>/masking-policy",
        views.MaskingPolicyView.as_view(),
        name="masking-policy",
    ),
    path(
        "tenants/<str:tenant_id>/masking-policy/dry-run",
        views.MaskingDryRunView.as_view(),
        name="masking-policy-dry-run",
    ),
]
