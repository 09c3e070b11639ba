"""The read plumbing GraphQL types need: context, principal, request database, per-type
declarations, loaders, pagination, ids and visibility. Beneath `schema/`, above `db/`."""
