from django.urls import path

from . import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("api/v1/health", views.HealthView.as_view(), name="health"),
]
