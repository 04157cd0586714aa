from django.urls import path

from . import views
from .export_views import EventExportView, EventStatsView

urlpatterns = [
    path("logs", views.EventListCreateView.as_view(), name="logs-list"),
    path("logs/bulk", views.EventBulkCreateView.as_view(), name="logs-bulk"),
    path("logs/export", EventExportView.as_view(), name="logs-export"),
    path("logs/stats", EventStatsView.as_view(), name="logs-stats"),
    path("logs/correlation", views.EventCorrelationView.as_view(), name="logs-correlation"),
    path("logs/<uuid:event_id>", views.EventDetailView.as_view(), name="logs-detail"),
]
