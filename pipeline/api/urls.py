from django.urls import path

from . import views

urlpatterns = [path("pipeline", views.PipelineStatusView.as_view(), name="pipeline-status")]
