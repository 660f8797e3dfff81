"""django-orm under async views: Django's async QuerySet API (aget, acount, asave, async for).

Django's ORM is synchronous underneath: each of these calls runs the query in a thread
through asgiref's sync_to_async, a hop out of the event loop and back per query. The edit
is Django's own: a load, then save(update_fields=...), each in autocommit as Django runs
by default (no ATOMIC_REQUESTS). A feed's authors come with select_related, one JOIN; a
user's latest posts are a query of their own beside a count.
"""

from apps.access import django_setup
from apps.access.django_model import Post, User
from apps.contract import LATEST_POSTS, BaseStore, UserPosts, as_dict, feed_dict, post_dict


async def user_where(**lookup) -> User | None:
    """The one user a unique lookup finds, as Django's documentation looks one up (aget), or None.
    Not filter().afirst(): that orders by the primary key first, and compiling the ORDER BY made
    the cell spend 11% more instructions per by-id request than its minimal app (dbbench cost --minimal)."""
    try:
        return await User.objects.aget(**lookup)
    except User.DoesNotExist:
        return None


class Store(BaseStore):
    async def open(self) -> None:
        django_setup.open_pool()

    async def close(self) -> None:
        django_setup.close_pool()

    async def fetch(self, user_id: int):
        user = await user_where(pk=user_id)
        return as_dict(user) if user is not None else None

    async def fetch_by_username(self, username: str):
        user = await user_where(username=username)
        return as_dict(user) if user is not None else None

    async def fetch_page(self, after: int, limit: int):
        return [as_dict(user) async for user in User.objects.filter(id__gt=after).order_by("id")[:limit]]

    async def update_bio(self, user_id: int, bio: str):
        user = await user_where(pk=user_id)
        if user is None:
            return None
        user.bio = bio
        await user.asave(update_fields=["bio"])
        return as_dict(user)

    async def fetch_user_posts(self, user_id: int):
        user = await user_where(pk=user_id)
        if user is None:
            return None
        count = await Post.objects.filter(author_id=user_id).acount()
        latest = Post.objects.filter(author_id=user_id).order_by("-created_at", "-id")[:LATEST_POSTS]
        return UserPosts(as_dict(user), count, [post_dict(post) async for post in latest])

    async def fetch_feed(self, before: int, limit: int):
        page = Post.objects.filter(id__lt=before).select_related("author").order_by("-id")[:limit]
        return [feed_dict(post, post.author) async for post in page]
