"""sa-orm: an AsyncSession per request and an ORM select, with SQLAlchemy's defaults.

SQLAlchemy >= 1.4 caches the compiled SQL of every statement by default: this is the
plain ORM code most people run, with that cache on.
"""

from sqlalchemy import select

from apps.access.sa_model import SAStore, User, as_dict


class Store(SAStore):
    async def fetch(self, user_id: int):
        async with self.sessions() as session:
            user = (await session.execute(select(User).where(User.id == user_id))).scalar_one_or_none()
            return as_dict(user) if user is not None else None
