from django.urls import path

from . import views

urlpatterns = [
    path(
        "tenants/<str:tenant_id>/encryption",
        views.TenantEncryptionView.as_view(),
        name="tenant-encryption",
    ),
]
