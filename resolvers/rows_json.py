"""Many rows' answers to one selection, written as JSON text at once.

A comparison with every category breakdown answers 12,000 category rows of 15 figures:
built as objects, that is 200,000 dictionaries made, written out by orjson and freed again,
tens of megabytes of fresh memory. Here the selection becomes a template of the JSON text
around each value (`Template`), every row's values are written by orjson in one list, and
that text is cut at its commas and put into the template: what orjson would write for the
objects, value for value (the breakdown 387 → 334 ms, `bench/README.md`).

The values are typed by the statement as their fields' serialized form (doubles and int4s,
or null), or are the codes of an enum (each code's serialized name looked up); a null in a
non-null field, or anything else, leaves the rows to the usual path (`GIVE_UP`), which
reports it at its path.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import orjson

from resolvers.execution import GIVE_UP, LEAF, OBJECT, TYPENAME, Plan


@dataclass(frozen=True, slots=True)
class Template:
    """The JSON text of one row's answer: `format` (bytes with a `%s` for each value, in
    the row's order of `positions`), whether each value may be null (`nullable`), and the
    serialized name of each code of the enum values (`names`, by place among the values)."""

    format: bytes
    positions: tuple[int, ...]
    nullable: tuple[bool, ...]
    names: Mapping[int, Mapping[bytes, bytes]]


def template(
    plan: Plan,
    leaves: Mapping[tuple[str, ...], int],
    enums: Mapping[tuple[str, ...], Mapping[str, Any]] | None = None,
) -> Template | None:
    """The template of `plan` over rows whose leaves are at `leaves` (path of attributes →
    column), or None when the plan asks for anything but those leaves, objects of them and
    `__typename`. `enums`: for the path of a leaf holding an enum's code, each code's member
    (serialized by the leaf's serializer)."""
    enums = enums or {}
    segments: list[bytes] = []
    positions: list[int] = []
    nullable: list[bool] = []
    names: dict[int, dict[bytes, bytes]] = {}
    text = bytearray()

    def walk(steps: Plan, path: tuple[str, ...]) -> bool:
        text.extend(b"{")
        for n, (key, kind, attribute, serialize, is_nullable, sub, _) in enumerate(steps):
            text.extend((b"," if n else b"") + orjson.dumps(key) + b":")
            if kind == TYPENAME:
                text.extend(orjson.dumps(attribute))
                continue
            if kind == OBJECT and sub is not None:
                if not walk(sub, (*path, attribute)):
                    return False
                continue
            at = leaves.get((*path, attribute))
            if kind != LEAF or at is None:
                return False
            members = enums.get((*path, attribute))
            if members is not None:
                names[len(positions)] = {
                    orjson.dumps(code): orjson.dumps(serialize(member))
                    for code, member in members.items()
                }
            segments.append(bytes(text).replace(b"%", b"%%"))
            text.clear()
            positions.append(at)
            nullable.append(is_nullable)
        text.extend(b"}")
        return True

    if not walk(plan, ()):
        return None
    format_ = b"%s".join(segments) + b"%s" + bytes(text).replace(b"%", b"%%")
    return Template(format_, tuple(positions), tuple(nullable), names)


def _getter(positions: Sequence[int]) -> Callable[[Any], Any]:
    if len(positions) == 1:
        (only,) = positions
        return lambda row: (row[only],)
    return operator.itemgetter(*positions)


def answers(rows: Sequence[Any], chosen: Template) -> list[bytes] | Any:
    """The JSON text of each row's answer, or `GIVE_UP`."""
    size = len(chosen.positions)
    values = list(chain.from_iterable(map(_getter(chosen.positions), rows)))
    for n, is_nullable in enumerate(chosen.nullable):
        if not is_nullable and None in values[n::size]:
            return GIVE_UP
    try:
        written = orjson.dumps(values)
    except TypeError:
        return GIVE_UP
    # Numbers, null and the enums' codes hold no comma.
    pieces = written[1:-1].split(b",") if values else []
    if len(pieces) != len(values):
        return GIVE_UP
    for n, names in chosen.names.items():
        try:
            pieces[n::size] = [names[piece] for piece in pieces[n::size]]
        except KeyError:
            return GIVE_UP
    each = iter(pieces)
    return [chosen.format % row for row in zip(*[each] * size, strict=False)]


def json_list(answered: Sequence[bytes]) -> orjson.Fragment:
    """A list of answers' JSON text, as JSON to be copied into the answer."""
    return orjson.Fragment(b"[" + b",".join(answered) + b"]")
