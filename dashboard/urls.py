from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("events/", views.search, name="search"),
    path("events/<uuid:event_id>/", views.event, name="event"),
    path("correlation/", views.correlation, name="correlation"),
    path("live/", views.live, name="live"),
    path("live/token", views.stream_token, name="stream-token"),
    path("members/", views.members, name="members"),
    path("settings/", views.tenant_settings, name="settings"),
    path("policies/", views.policies, name="policies"),
    path("tenant", views.switch_tenant, name="switch-tenant"),
]
