"""A one-file Django project (settings, URLs, views) for in-process and gunicorn tests."""

import logging
import os
from collections.abc import Iterator

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.template import engines
from django.urls import path

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["backlight.integrations.django.BacklightMiddleware"],
        INSTALLED_APPS=[],
        DATABASES={},
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {"context_processors": ["backlight.integrations.django.traceparent"]},
            }
        ],
        LOGGING_CONFIG=None,
        USE_TZ=True,
    )
    django.setup()

log = logging.getLogger("app")


class Boom(Exception):
    pass


def item(request: HttpRequest, item_id: int) -> JsonResponse:
    log.info("item %d", item_id)
    return JsonResponse({"id": item_id})


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


def boom(request: HttpRequest) -> HttpResponse:
    raise Boom("django view failed")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"one "
        yield b"two"

    return StreamingHttpResponse(chunks())


def page(request: HttpRequest, name: str) -> HttpResponse:
    """An HTML page, a JSON answer or a 304, as the query asks (navigation tests)."""
    log.info("page %s", name)
    if request.GET.get("kind") == "json":
        return JsonResponse({"name": name})
    response = HttpResponse("<p>page</p>", status=304 if request.GET.get("kind") == "304" else 200)
    if request.GET.get("timed"):
        response["Server-Timing"] = "db;dur=53"
    if request.GET.get("cache"):
        response["Cache-Control"] = request.GET["cache"]
    return response


def meta(request: HttpRequest, name: str) -> HttpResponse:
    """``{{ backlight_traceparent }}`` through the context processor."""
    template = engines["django"].from_string("<head>{{ backlight_traceparent }}</head>")
    return HttpResponse(template.render({}, request))


async def async_item(request: HttpRequest, item_id: int) -> JsonResponse:
    log.info("async item %d", item_id)
    return JsonResponse({"id": item_id})


urlpatterns = [
    path("", home),
    path("items/<int:item_id>", item),
    path("async/<int:item_id>", async_item),
    path("boom", boom),
    path("stream", stream),
    path("page/<str:name>", page),
    path("meta-<str:name>", meta),
]

if "BACKLIGHT_TEST_URL" in os.environ:  # under gunicorn
    import backlight

    backlight.init(
        "test-project",
        backend_url=os.environ["BACKLIGHT_TEST_URL"],
        service_name="django-app",
        export_interval=0.2,
    )

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
