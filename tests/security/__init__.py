"""Security tests: tenant isolation proved from the schema itself (issue 7)."""
