"""Django 5.2 LTS with async views on uvicorn (uvloop, httptools), variant django-orm.

Idiomatic: `path()` routes with the `<int:...>` converter (no match, so 404, for a
malformed or negative id), JsonResponse, a JSON handler404, and one view per path that
dispatches on the method. Django's ASGI handler has no lifespan, so the pool opens in a
small lifespan wrapper (apps/servers.py). Each ORM call hops to a thread (sync_to_async).
The page, by-username and edit answers come from apps/answers.py.
"""

from django.http import JsonResponse
from django.urls import path

from apps import answers
from apps.access import django_setup
from apps.contract import NOT_FOUND, Settings, as_json, open_store
from apps.servers import uvicorn_serve, with_lifespan

store = None  # the cell's Store, made by create_app once Django is configured


def respond(answer: answers.Answer) -> JsonResponse:
    status, body = answer
    return JsonResponse(body, status=status, safe=False)


def not_found(_request, exception=None) -> JsonResponse:  # noqa: ARG001 - Django passes it by name
    return JsonResponse(NOT_FOUND, status=404)


async def user(request, user_id: int):
    if request.method == "PATCH":
        return respond(await answers.edit(store, user_id, request.content_type, request.body))
    found = await store.get_user(user_id)
    return JsonResponse(as_json(found)) if found is not None else not_found(request)


async def page(request):
    return respond(await answers.page(store, request.META.get("QUERY_STRING", "")))


async def by_username(_request, username: str):
    return respond(await answers.by_username(store, username))


async def user_posts(_request, user_id: int):
    return respond(await answers.user_posts(store, user_id))


async def feed(request):
    return respond(await answers.feed(store, request.META.get("QUERY_STRING", "")))


async def queries(request):
    return respond(await answers.queries(store, request.META.get("QUERY_STRING", "")))


def routes(page, by_username, user, user_posts, feed, queries) -> list:
    """The service's routes, for the async views here and the sync ones in django_sync.py."""
    return [
        path("users", page),
        path("users/by-username/<str:username>", by_username),
        path("users/<int:user_id>", user),
        path("users/<int:user_id>/posts", user_posts),
        path("posts", feed),
        path("queries", queries),
    ]


urlpatterns = routes(page, by_username, user, user_posts, feed, queries)
handler404 = not_found


def create_app():
    global store
    django_setup.configure(Settings.from_env(), urlconf=__name__)
    from django.core.asgi import get_asgi_application

    store = open_store()
    return with_lifespan(get_asgi_application(), store)


def serve(host: str, port: int, workers: int) -> None:
    uvicorn_serve("apps.frameworks.django:create_app", host, port, workers)
