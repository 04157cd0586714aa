from django.urls import path

from . import views

urlpatterns = [
    path("logs", views.EventListCreateView.as_view(), name="logs-list"),
    path("logs/bulk", views.EventBulkCreateView.as_view(), name="logs-bulk"),
    path("logs/<uuid:event_id>", views.EventDetailView.as_view(), name="logs-detail"),
]
