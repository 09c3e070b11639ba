"""Persistence: models, sessions, tenancy, migrations and the embedded PostgreSQL.

Nothing here imports from `schema`, `resolvers` or `server`.
"""
