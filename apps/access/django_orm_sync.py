"""django-orm under sync views: the same queries as apps/access/django_orm.py, in Django's
synchronous API, run by gunicorn's threads. What most Django sites run."""

from apps.access import django_setup
from apps.access.django_model import Post, User
from apps.contract import LATEST_POSTS, SyncBaseStore, UserPosts, as_dict, feed_dict, post_dict


def user_where(**lookup) -> User | None:
    """The one user a unique lookup finds (get), or None: as apps/access/django_orm.py's."""
    try:
        return User.objects.get(**lookup)
    except User.DoesNotExist:
        return None


class Store(SyncBaseStore):
    def open(self) -> None:
        django_setup.open_pool()

    def close(self) -> None:
        django_setup.close_pool()

    def fetch(self, user_id: int):
        user = user_where(pk=user_id)
        return as_dict(user) if user is not None else None

    def fetch_by_username(self, username: str):
        user = user_where(username=username)
        return as_dict(user) if user is not None else None

    def fetch_page(self, after: int, limit: int):
        return [as_dict(user) for user in User.objects.filter(id__gt=after).order_by("id")[:limit]]

    def update_bio(self, user_id: int, bio: str):
        user = user_where(pk=user_id)
        if user is None:
            return None
        user.bio = bio
        user.save(update_fields=["bio"])
        return as_dict(user)

    def fetch_user_posts(self, user_id: int):
        user = user_where(pk=user_id)
        if user is None:
            return None
        count = Post.objects.filter(author_id=user_id).count()
        latest = Post.objects.filter(author_id=user_id).order_by("-created_at", "-id")[:LATEST_POSTS]
        return UserPosts(as_dict(user), count, [post_dict(post) for post in latest])

    def fetch_feed(self, before: int, limit: int):
        page = Post.objects.filter(id__lt=before).select_related("author").order_by("-id")[:limit]
        return [feed_dict(post, post.author) for post in page]
