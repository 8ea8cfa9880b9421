"""The committed migrations build exactly the schema the models describe: a model changed without its migration
(or a migration that drifted from its model) is found here, not by `backorder makemigrations` on someone's laptop.
"""

from tortoise.context import get_current_context
from tortoise.migrations.autodetector import MigrationAutodetector

from domain.store.db import open_database, tortoise_config


async def test_the_models_ask_for_no_migration_the_repository_does_not_have():
    # given: the models as the code declares them, and the state the committed migrations build
    url = "sqlite://:memory:"
    async with open_database(url, apply_migrations=False):
        detector = MigrationAutodetector(get_current_context().apps, tortoise_config(url)["apps"])

        # when: tortoise's own autodetector (what `makemigrations` runs) compares them
        writers = await detector.changes()

    # then: it finds nothing to write
    pending = [(type(op).__name__, vars(op)) for writer in writers for op in writer.operations]
    assert not pending, f"a model changed without its migration: {pending}"
