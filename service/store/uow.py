"""The unit of work: one request = one database transaction.

``with UnitOfWork(engine) as uow: ... uow.commit()``; leaving the block any other way
rolls back, so a fault or a crash writes nothing.
"""

from sqlalchemy.engine import Connection, Engine


class UnitOfWork:
    def __init__(self, engine: Engine):
        self._engine = engine
        self.conn: Connection | None = None

    def __enter__(self) -> "UnitOfWork":
        self.conn = self._engine.connect()
        self._transaction = self.conn.begin()
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self.conn.close()

    def commit(self) -> None:
        self._transaction.commit()
