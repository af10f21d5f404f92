"""The shop in Django: the Django middleware links each request; its pages also carry the
traceparent as ``<meta name="traceparent">`` through the context processor
``backlight.integrations.django.traceparent`` (see ``tests/navigation/apps/__init__.py``)."""

from __future__ import annotations

import logging

import django
from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template import engines
from django.urls import path

import backlight

from . import CHECKOUT_LOG, ORDERS_LOG, CheckoutFailed, page, settings

if not django_settings.configured:
    django_settings.configure(
        DEBUG=False,
        SECRET_KEY="navigation-tests-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["backlight.integrations.django.BacklightMiddleware"],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_TZ=True,
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {"context_processors": ["backlight.integrations.django.traceparent"]},
            }
        ],
    )
    django.setup()

logging.basicConfig(level=logging.INFO)
log = logging.getLogger("shop")
backlight.init(settings()[1], backend_url=settings()[0], service_name="django-shop")


def _render(request: HttpRequest, title: str, body: str = "") -> HttpResponse:
    # the page's markup is ours; the template only adds the meta tag
    head = engines["django"].from_string("{{ backlight_traceparent }}").render({}, request)
    return HttpResponse(page(title, head=head, body=body))


def home(request: HttpRequest) -> HttpResponse:
    return _render(request, "Shop")


def orders(request: HttpRequest) -> HttpResponse:
    log.info(ORDERS_LOG)
    failed = "<p id='failed'>Checkout failed</p>" if request.GET.get("failed") else ""
    return _render(request, "Orders", failed)


def checkout(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405)
    log.info(CHECKOUT_LOG)
    try:
        raise CheckoutFailed(f"card declined for sku {request.POST.get('sku')}")
    except CheckoutFailed as exc:
        log.exception("checkout failed")
        backlight.record_exception(exc)
    return HttpResponseRedirect("/orders?failed=1", status=303)


urlpatterns = [path("", home), path("orders", orders), path("checkout", checkout)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
