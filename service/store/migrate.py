"""Schema migrations (Alembic, ``migrations/``), run programmatically from any directory."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from service.config import ALEMBIC_INI, MIGRATIONS_DIR
from service.store.db import make_engine


def alembic_config(url: str) -> Config:
    """An Alembic config for this checkout's migrations, pointed at ``url``."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    # The caller (the temix command, pytest) has set up logging already.
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """``alembic upgrade head`` on ``url``; does nothing if the database is already there."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """``alembic downgrade <revision>`` on ``url`` (``"base"`` drops everything)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest revision in migrations/versions."""
    head = ScriptDirectory.from_config(alembic_config("unused")).get_current_head()
    assert head is not None
    return head


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at; ``None`` before the first migration."""
    engine = make_engine(url, application_name="temix-migrate")
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
