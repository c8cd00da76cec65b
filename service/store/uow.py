"""The unit of work: one request = one database transaction.

``with UnitOfWork(engine) as uow: ... uow.commit()``; leaving the block any other way
rolls back, so a fault or a crash writes nothing.
"""

from contextlib import contextmanager

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

    @contextmanager
    def savepoint(self):
        """Business work that may be refused: undone alone, the request log survives."""
        nested = self.conn.begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            raise
        else:
            nested.commit()
