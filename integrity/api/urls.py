from django.urls import path

from . import views

urlpatterns = [
    path("logs/<uuid:event_id>/proof", views.EventProofView.as_view(), name="logs-proof"),
    path("integrity/checkpoints", views.CheckpointListView.as_view(), name="integrity-checkpoints"),
    path(
        "integrity/checkpoints/consistency",
        views.ConsistencyView.as_view(),
        name="integrity-consistency",
    ),
    path("integrity/keys", views.KeysView.as_view(), name="integrity-keys"),
]
