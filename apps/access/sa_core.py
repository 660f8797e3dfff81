"""sa-core: a Core select on the table through the async engine, no ORM objects.

Beside sa-orm it splits the ORM's cost into statement compilation and object hydration.
"""

from sqlalchemy import select

from apps.access.sa_model import SAStore, User

users = User.__table__


class Store(SAStore):
    async def fetch(self, user_id: int):
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(users).where(users.c.id == user_id))).mappings().first()
            return dict(row) if row is not None else None
