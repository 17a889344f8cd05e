"""The one place SQL text is quoted. Values are bound as parameters wherever DuckDB allows; these two
helpers are for what cannot be bound: identifiers, and literals inside generated DDL and COPY."""

from __future__ import annotations


def q(identifier: str) -> str:
    """A quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
