"""Alembic migrations: one chain, run by `gongzhi migrate` (see `db.migrate`)."""
