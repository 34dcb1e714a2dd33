from django.urls import include, path

urlpatterns = [
    path("", include("markets.urls_public")),
]
