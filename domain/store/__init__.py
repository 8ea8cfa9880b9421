"""Persistence with tortoise-orm: tables, migrations and the unit of work behind `domain.ports`."""
