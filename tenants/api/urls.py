from django.urls import path

from . import views

urlpatterns = [
    path("tenants", views.TenantListCreateView.as_view(), name="tenant-list"),
    path("tenants/<str:tenant_id>", views.TenantDetailView.as_view(), name="tenant-detail"),
    path("tenants/<str:tenant_id>/members", views.MemberListView.as_view(), name="member-list"),
    path(
        "tenants/<str:tenant_id>/members/<str:username>",
        views.MemberDetailView.as_view(),
        name="member-detail",
    ),
]
