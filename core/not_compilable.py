"""The one refusal of the SQL compiler of reads."""

from __future__ import annotations


class NotCompilable(Exception):
    """This field needs the executor: a field with Python logic the compiler has no SQL for,
    or arguments the executor would refuse with an error it must word itself."""
