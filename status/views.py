"""``GET /api/v1/health`` for load balancers and monitoring, and the landing page at ``/``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import health_report


@extend_schema(exclude=True)  # operational, not part of the trading contract (docs/API_EXTENSIONS.md)
class HealthView(APIView):
    """200 when every part is up, 503 otherwise; the body says which part.

    Public and unthrottled (load balancers poll it); it answers nothing but states and
    counts. Other methods get the API's 405 error.
    """

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()

    @method_decorator(never_cache)
    def get(self, request: Request) -> Response:
        report = health_report()
        return Response(report.as_dict(), status=200 if report.ok else 503)


@never_cache
@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    """What this server is and where to go next; the admin's "View site" link lands here."""
    report = health_report()
    context = {
        "health": report,
        "links": {
            "swagger": reverse("swagger-ui"),
            "schema": reverse("schema"),
            "admin": reverse("admin:index"),
            "health": reverse("health"),
        },
    }
    return render(request, "status/landing.html", context, status=200)
