"""sa-lambda: the ORM select as a `lambda_stmt`, SQLAlchemy's successor to baked queries.

The lambda's code location is the cache key; `user_id` is tracked as a bound parameter.
"""

from sqlalchemy import lambda_stmt, select

from apps.access.sa_model import SAStore, User, as_dict


class Store(SAStore):
    async def fetch(self, user_id: int):
        async with self.sessions() as session:
            statement = lambda_stmt(lambda: select(User).where(User.id == user_id))
            user = (await session.execute(statement)).scalar_one_or_none()
            return as_dict(user) if user is not None else None
