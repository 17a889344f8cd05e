"""Sign-in: each registered user's credentials and the tokens the service has issued.

Nothing here can sign anyone in by being read: passwords are argon2id hashes, second-factor secrets
are sealed with a key derived from the audit key (which only the service holds), and tokens are kept
as SHA-256 digests, so a copy of the metadata store gives an attacker no usable credential."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from linkhaven.schema.base import metadata

credentials = Table(
    "credentials",
    metadata,
    Column("name", String(64), ForeignKey("users.name"), primary_key=True),
    Column("password_hash", Text, nullable=True),
    Column("totp_sealed", Text, nullable=True),
    Column("totp_last_step", Integer, nullable=True),  # the last accepted time step: a code is good once
    Column("failures", Integer, nullable=False),
    Column("locked_until", String(32), nullable=True),
    Column("changed_at", String(32), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("token_id", String(16), nullable=False, unique=True),  # shown to users to list and revoke
    Column("name", String(64), ForeignKey("users.name"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("label", String(100), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("last_used_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
)

Index("ix_tokens_name", tokens.c.name)
