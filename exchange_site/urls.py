from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", include("backoffice.urls")),  # before the admin's catch-all
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("markets.urls")),
    path("api/v1/", include("trading.urls")),
    path("api/v1/", include("wallets.urls")),
    path("api/v1/", include("apikeys.urls")),
    path("api/v1/", include("backoffice.api_urls")),
    path("api/v3/", include("binance_api.urls")),
    path("", include("status.urls")),
]

# Unroutable API URLs answer in the API's error format, like every other refusal.
handler404 = "exchange_site.errors.url_not_found"
