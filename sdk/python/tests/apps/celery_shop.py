"""A Django shop (server-rendered, Backlight middleware) whose checkout enqueues Celery tasks.

The same module is the gunicorn target (``celery_shop:application``) and the worker's app
(``celery -A celery_shop worker``). Celery runs with its default settings; only the broker
is set. ``backlight.init`` runs after Celery is imported here: the integration is enabled
by ``init`` itself, with no code in the tasks.
"""

import logging
import os

import django
from celery import Celery, chain, group  # type: ignore[import-untyped]
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path

import backlight

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["backlight.integrations.django.BacklightMiddleware"],
        INSTALLED_APPS=[],
        DATABASES={},
        LOGGING_CONFIG=None,
        USE_TZ=True,
    )
    django.setup()

app = Celery("shop", broker=os.environ["BACKLIGHT_TEST_BROKER"])
if os.environ.get("BACKLIGHT_TEST_KEEP_ROOT_LOGGER"):
    app.conf.worker_hijack_root_logger = False

backlight.init(
    os.environ["BACKLIGHT_TEST_PROJECT"],
    backend_url=os.environ["BACKLIGHT_TEST_URL"],
    service_name=os.environ.get("BACKLIGHT_TEST_SERVICE", "shop"),
    export_interval=0.2,
)

log = logging.getLogger("shop")


class CardDeclined(Exception):
    pass


@app.task(name="shop.charge")  # type: ignore[untyped-decorator]
def charge(order: int) -> None:
    log.warning("charging order %d", order)
    raise CardDeclined(f"card declined for order {order}")


@app.task(name="shop.flaky", bind=True, max_retries=2)  # type: ignore[untyped-decorator]
def flaky(self: object) -> str:
    retries: int = self.request.retries  # type: ignore[attr-defined]
    if retries == 0:
        raise self.retry(countdown=0)  # type: ignore[attr-defined]
    log.info("flaky done after %d retry", retries)
    return "ok"


@app.task(name="shop.step")  # type: ignore[untyped-decorator]
def step(n: int) -> int:
    log.info("step %d", n)
    return n + 1


def checkout(request: HttpRequest) -> HttpResponse:
    log.info("checkout enqueues")
    charge.delay(7)
    flaky.apply_async()
    chain(step.s(1), step.s(), step.s()).apply_async()
    group(step.s(10), step.s(20)).apply_async()
    return HttpResponse("<!doctype html><p>Your order is queued.</p>")


def ready(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<!doctype html><p>ok</p>")


urlpatterns = [path("checkout", checkout), path("ready", ready)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
