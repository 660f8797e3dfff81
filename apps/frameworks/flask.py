"""Flask on gunicorn with the gthread worker: the synchronous reference.

One thread per connection the worker may hold (threads = its pool size), a psycopg 3
connection pool, the `raw` variant only: what asyncio buys on a database-bound endpoint
shows against this row. Idiomatic: a `<int:user_id>` route converter (no match, so 404,
for a malformed or negative id), a JSON 404 error handler and a dict return serialized
as JSON. The page, by-username and edit answers come from apps/answers.py.
"""

from flask import Flask, request

from apps import answers
from apps.contract import NOT_FOUND, as_json, open_sync_store
from apps.servers import gunicorn_serve


def respond(answer: answers.Answer):
    status, body = answer
    return body, status


def create_app() -> Flask:
    store = open_sync_store()
    store.open()
    app = Flask("dbbench")

    @app.errorhandler(404)
    def not_found(_error):
        return NOT_FOUND, 404

    @app.get("/users/<int:user_id>")
    def get_user(user_id: int):
        user = store.get_user(user_id)
        if user is None:
            return NOT_FOUND, 404
        return as_json(user)

    @app.get("/users")
    def page():
        return respond(answers.page_sync(store, request.query_string.decode("latin-1")))

    @app.get("/users/by-username/<username>")
    def by_username(username: str):
        return respond(answers.by_username_sync(store, username))

    @app.get("/users/<int:user_id>/posts")
    def user_posts(user_id: int):
        return respond(answers.user_posts_sync(store, user_id))

    @app.get("/posts")
    def feed():
        return respond(answers.feed_sync(store, request.query_string.decode("latin-1")))

    @app.get("/queries")
    def queries():
        return respond(answers.queries_sync(store, request.query_string.decode("latin-1")))

    @app.patch("/users/<int:user_id>")
    def edit(user_id: int):
        return respond(answers.edit_sync(store, user_id, request.content_type, request.get_data()))

    return app


def serve(host: str, port: int, workers: int) -> None:
    gunicorn_serve(create_app, host, port, workers)
