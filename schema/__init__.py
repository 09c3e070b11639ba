"""Strawberry types of the GraphQL API, one module per domain."""
