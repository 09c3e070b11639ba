"""Who is asking: the principal a request or a subscription runs as."""

from __future__ import annotations

from dataclasses import dataclass

from db.models.enums import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An anonymous visitor, or the holder of a verified token.

    `district_code` names the tenant; the scope ids below it (street, community, partner) and
    `person_id` are ids within that district.
    """

    role: Role | None = None
    subject: str | None = None
    district_code: str | None = None
    person_id: int | None = None
    street_id: int | None = None
    community_id: int | None = None
    partner_id: int | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.role is None


ANONYMOUS = Principal()
