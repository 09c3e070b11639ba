"""Errors a client can act on, raised by resolvers and shown with their message as is."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the client: the message says what was wrong and how to fix it."""


class InvalidId(UserError):
    """A global id that is malformed or of the wrong type."""
