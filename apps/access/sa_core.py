"""sa-core: Core statements on the table through the async engine, no ORM objects.

Beside sa-orm it splits the ORM's cost into statement compilation and object hydration.
The edit is one `UPDATE ... RETURNING` in a transaction, the Core way to write.
"""

from sqlalchemy import select, update

from apps.access.sa_model import SAStore, User

users = User.__table__


class Store(SAStore):
    async def one(self, statement):
        async with self.engine.connect() as connection:
            row = (await connection.execute(statement)).mappings().first()
            return dict(row) if row is not None else None

    async def fetch(self, user_id: int):
        return await self.one(select(users).where(users.c.id == user_id))

    async def fetch_by_username(self, username: str):
        return await self.one(select(users).where(users.c.username == username))

    async def fetch_page(self, after: int, limit: int):
        async with self.engine.connect() as connection:
            statement = select(users).where(users.c.id > after).order_by(users.c.id).limit(limit)
            return [dict(row) for row in (await connection.execute(statement)).mappings()]

    async def update_bio(self, user_id: int, bio: str):
        async with self.engine.begin() as connection:
            statement = update(users).where(users.c.id == user_id).values(bio=bio).returning(*users.c)
            row = (await connection.execute(statement)).mappings().first()
            return dict(row) if row is not None else None
