"""Webhooks: endpoints managed in GraphQL, and the dispatcher that delivers case events to
them as signed HTTP calls (Standard Webhooks)."""
