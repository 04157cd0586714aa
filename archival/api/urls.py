from django.urls import path

from . import views

urlpatterns = [
    path("archives", views.ArchiveListView.as_view(), name="archive-list"),
    path(
        "archives/<str:day>/download",
        views.ArchiveDownloadView.as_view(),
        name="archive-download",
    ),
]
