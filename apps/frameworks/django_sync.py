"""Django 5.2 LTS with sync views under gunicorn's gthread workers, variant django-orm: what
most Django sites run. The same routes and answers as apps/frameworks/django.py, in
Django's synchronous API: one thread per pooled connection, no thread hop per query."""

from django.http import JsonResponse

from apps import answers
from apps.access import django_setup
from apps.contract import Settings, as_json, open_sync_store
from apps.frameworks.django import not_found, respond, routes
from apps.servers import gunicorn_serve

store = None  # the cell's Store, made in each worker once Django is configured


def user(request, user_id: int):
    if request.method == "PATCH":
        return respond(answers.edit_sync(store, user_id, request.content_type, request.body))
    found = store.get_user(user_id)
    return JsonResponse(as_json(found)) if found is not None else not_found(request)


def page(request):
    return respond(answers.page_sync(store, request.META.get("QUERY_STRING", "")))


def by_username(_request, username: str):
    return respond(answers.by_username_sync(store, username))


def user_posts(_request, user_id: int):
    return respond(answers.user_posts_sync(store, user_id))


def feed(request):
    return respond(answers.feed_sync(store, request.META.get("QUERY_STRING", "")))


def queries(request):
    return respond(answers.queries_sync(store, request.META.get("QUERY_STRING", "")))


urlpatterns = routes(page, by_username, user, user_posts, feed, queries)
handler404 = not_found


def create_app():
    global store
    django_setup.configure(Settings.from_env(), urlconf=__name__)
    from django.core.wsgi import get_wsgi_application

    store = open_sync_store()
    store.open()
    return get_wsgi_application()


def serve(host: str, port: int, workers: int) -> None:
    gunicorn_serve(create_app, host, port, workers)
