"""SQL for roles, grants and row-level security, shared by the migrations.

Each tenant table gets `ENABLE` and `FORCE ROW LEVEL SECURITY` (so even the owner is checked,
unless it is a superuser) with two policies:
- `tenant_isolation`: rows of the district named by the transaction's `app.district_id`; with
  no district set, no rows at all (read or write);
- `platform_read`: the platform role reads every district, and writes nothing.
"""

from __future__ import annotations

from db.roles import APP_ROLE, DISTRICT_SETTING, PLATFORM_ROLE

CURRENT_DISTRICT = f"NULLIF(current_setting('{DISTRICT_SETTING}', true), '')::bigint"


def create_roles(password: str | None) -> list[str]:
    statements = []
    for role in (APP_ROLE, PLATFORM_ROLE):
        statements.append(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS; "
            f"END IF; END $$"
        )
        if password is not None:
            quoted = "'" + password.replace("'", "''") + "'"
            statements.append(f"ALTER ROLE {role} PASSWORD {quoted}")
    statements.append(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}, {PLATFORM_ROLE}")
    return statements


def grant_reference_table(table: str) -> list[str]:
    """A platform-wide table: everyone reads it; only the owner writes it."""
    return [f"GRANT SELECT ON {table} TO {APP_ROLE}, {PLATFORM_ROLE}"]


def protect_tenant_table(table: str, *, append_only: bool = False) -> list[str]:
    """Grants and row-level security of one tenant table."""
    app_privileges = "SELECT, INSERT" if append_only else "SELECT, INSERT, UPDATE, DELETE"
    return [
        f"GRANT {app_privileges} ON {table} TO {APP_ROLE}",
        f"GRANT SELECT ON {table} TO {PLATFORM_ROLE}",
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING (district_id = {CURRENT_DISTRICT}) WITH CHECK (district_id = {CURRENT_DISTRICT})",
        f"CREATE POLICY platform_read ON {table} FOR SELECT TO {PLATFORM_ROLE} USING (true)",
    ]


def grant_sequences() -> list[str]:
    return [f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"]


def revoke_schema() -> list[str]:
    return [f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}, {PLATFORM_ROLE}"]
