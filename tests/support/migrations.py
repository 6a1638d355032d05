"""Moving the test database between migrations, for the tests of what an upgrade does to rows already there."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def latest(app: str = "trailers") -> list[tuple[str, str]]:
    """The app's newest migration, as a target for :func:`migrate_to`."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes(app)


def migrate_to(targets: list[tuple[str, str]]):
    """Migrate the test database forwards or backwards to ``targets``; returns the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps
