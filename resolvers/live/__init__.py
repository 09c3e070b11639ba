"""Live case events: one LISTEN connection per process, subscribers served from it."""
