"""The one SQLAlchemy `MetaData` every register table is declared on.

Alembic migrations (workspace/migrations) create and evolve the tables; these declarations are
what queries use. `tests/test_schema.py` compares the two on a freshly migrated store, so a table
changed in one place and not the other fails the tests.
"""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
