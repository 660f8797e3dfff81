"""Django's tutorial (a model, a view per path, `path()` with the `<int:...>` converter, a 404 from
`get_object_or_404`) written as its Asynchronous support and shortcuts pages have it: an async
view awaiting `aget_object_or_404`, served by Django's ASGI handler on uvicorn; the row as
`JsonResponse` of `model_to_dict` (Django's forms helper; the docs show no JSON idiom of their
own). Configured in the one file with `settings.configure()` (Django's page on settings without
DJANGO_SETTINGS_MODULE), the database through Django's own pool option (its databases page), at
the cell's pool size. No middleware, as the cell: the project template's seven add
sessions, CSRF and authentication to each request, which a JSON lookup does not use. A missing
user gets Django's HTML 404 page: the load asks only for users that exist."""

import os

import django
from django.conf import settings
from psycopg.conninfo import conninfo_to_dict

POOL_SIZE = int(os.environ["DBBENCH_POOL_SIZE"])
PARAMS = conninfo_to_dict(os.environ["DATABASE_URL"])
settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[], INSTALLED_APPS=["apps.minimal"],
    USE_TZ=True, TIME_ZONE="UTC", DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    DATABASES={"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": PARAMS["dbname"], "USER": PARAMS["user"],
        "PASSWORD": PARAMS.get("password", ""),
        "HOST": PARAMS.get("host", ""), "PORT": PARAMS.get("port", ""),
        "OPTIONS": {"pool": {"min_size": POOL_SIZE, "max_size": POOL_SIZE}},
    }},
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402 - Django is configured first
from django.db import models  # noqa: E402
from django.forms.models import model_to_dict  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.shortcuts import aget_object_or_404  # noqa: E402
from django.urls import path  # noqa: E402


class User(models.Model):
    username = models.TextField()
    email = models.TextField()
    full_name = models.TextField()
    bio = models.TextField()
    is_active = models.BooleanField()
    created_at = models.DateTimeField()

    class Meta:
        app_label = "minimal"
        db_table = "users"
        managed = False


async def user_detail(request, user_id):
    user = await aget_object_or_404(User, pk=user_id)
    return JsonResponse(model_to_dict(user))


urlpatterns = [path("users/<int:user_id>", user_detail)]
app = get_asgi_application()
