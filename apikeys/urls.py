from django.urls import path

from . import views

# Mounted under api/v1/.
urlpatterns = [
    path("api-keys", views.ApiKeysView.as_view(), name="api-keys"),
    path("api-keys/<int:key_id>", views.ApiKeyView.as_view(), name="api-key"),
]
