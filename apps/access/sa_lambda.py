"""sa-lambda: the ORM statements as `lambda_stmt`, SQLAlchemy's successor to baked queries.

Each lambda's code location is its cache key; the values it closes over are tracked as
bound parameters. The edit is sa-orm's: a lambda load, the attribute set, a commit. The
unit of work's UPDATE cannot be a lambda; SQLAlchemy caches its compiled form itself.
"""

from sqlalchemy import lambda_stmt, select

from apps.access.sa_model import SAStore, User, as_dict


class Store(SAStore):
    async def fetch(self, user_id: int):
        async with self.sessions() as session:
            statement = lambda_stmt(lambda: select(User).where(User.id == user_id))
            user = (await session.execute(statement)).scalar_one_or_none()
            return as_dict(user) if user is not None else None

    async def fetch_by_username(self, username: str):
        async with self.sessions() as session:
            statement = lambda_stmt(lambda: select(User).where(User.username == username))
            user = (await session.execute(statement)).scalar_one_or_none()
            return as_dict(user) if user is not None else None

    async def fetch_page(self, after: int, limit: int):
        async with self.sessions() as session:
            statement = lambda_stmt(lambda: select(User).where(User.id > after).order_by(User.id).limit(limit))
            return [as_dict(user) for user in await session.scalars(statement)]

    async def update_bio(self, user_id: int, bio: str):
        async with self.sessions() as session, session.begin():
            statement = lambda_stmt(lambda: select(User).where(User.id == user_id))
            user = (await session.execute(statement)).scalar_one_or_none()
            if user is None:
                return None
            user.bio = bio
        return as_dict(user)
