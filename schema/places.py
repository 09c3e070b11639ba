"""Places: districts and what lies under them."""

from __future__ import annotations

import strawberry

from db.models import District as DistrictRow


@strawberry.type(description="A district (区): the tenant. Every other record belongs to one.")
class District:
    code: str = strawberry.field(
        description="Short stable code of the district, e.g. `haidian`; tokens name it."
    )
    name: str = strawberry.field(description="Display name, e.g. 海淀区.")

    @classmethod
    def from_row(cls, row: DistrictRow) -> District:
        return cls(code=row.code, name=row.name)
