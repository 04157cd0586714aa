from django.urls import path

from . import views

urlpatterns = [
    path("alerts/rules", views.RuleListView.as_view(), name="alert-rules"),
    path("alerts/rules/<str:rule_id>", views.RuleDetailView.as_view(), name="alert-rule"),
    path("alerts", views.AlertListView.as_view(), name="alerts"),
    path("alerts/<str:alert_id>/ack", views.AlertAckView.as_view(), name="alert-ack"),
]
