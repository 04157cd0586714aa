from django.urls import path

from . import views

urlpatterns = [
    path("destinations", views.DestinationListView.as_view(), name="destinations"),
    path(
        "destinations/<uuid:destination_id>",
        views.DestinationDetailView.as_view(),
        name="destination-detail",
    ),
    path(
        "destinations/<uuid:destination_id>/replay",
        views.DestinationReplayView.as_view(),
        name="destination-replay",
    ),
]
