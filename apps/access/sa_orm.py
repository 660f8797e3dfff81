"""sa-orm: an AsyncSession per request and ORM statements, with SQLAlchemy's defaults.

SQLAlchemy >= 1.4 caches the compiled SQL of every statement by default: this is the
plain ORM code most people run, with that cache on. The edit loads the user, sets the
attribute and commits: a read and the unit of work's UPDATE, in one transaction.
"""

from sqlalchemy import select

from apps.access.sa_model import SAStore, User, as_dict


class Store(SAStore):
    async def fetch(self, user_id: int):
        async with self.sessions() as session:
            user = (await session.execute(select(User).where(User.id == user_id))).scalar_one_or_none()
            return as_dict(user) if user is not None else None

    async def fetch_by_username(self, username: str):
        async with self.sessions() as session:
            user = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
            return as_dict(user) if user is not None else None

    async def fetch_page(self, after: int, limit: int):
        async with self.sessions() as session:
            users = await session.scalars(select(User).where(User.id > after).order_by(User.id).limit(limit))
            return [as_dict(user) for user in users]

    async def update_bio(self, user_id: int, bio: str):
        async with self.sessions() as session, session.begin():
            user = await session.get(User, user_id)
            if user is None:
                return None
            user.bio = bio
        return as_dict(user)
