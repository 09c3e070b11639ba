"""The demo world: two districts modelled on the seed article, for frontends and manual tests.

海淀区 (`haidian`) carries the article's two communities:
- 中关村街道 希格玛社区: 9 compounds (院子) with 1,880 households served by 11 property
  companies, the first 环物会 in Beijing (established December 2018, 9 members), the smart
  bike shed on 星规路, and the "大手拉小手" helping hand with the fee waived for a resident aged
  60+ who lives alone;
- 曙光街道 上河村社区: one compound, 56 elevators of which 29 were installed more than 15
  years before 2019, and the six partners (六方) led by the community Party organisation,
  with an application to the public maintenance fund (公共维修基金) to replace old elevators.

Its later cases walk 接诉即办: an order from the 12345 hotline, partners signing for their
orders (签收) and one that did not in time, returns (退单) pending, disputed before the
district, refused by it and upheld and re-dispatched, an urgency raised to EMERGENCY,
follow-ups with the reporter (回访: not reached, satisfied, unresolved and unsatisfied) and a
case left out of assessments (分级分类).

西城区 (`xicheng`) is a smaller second tenant, so that district isolation is visible; its
elevator case shows what 海淀's cases do not: a declined helping hand, a missed deadline to
resolve answered by a whistle, and a reassignment.

The world is data (the `*Spec` records below) and one generic loader writes any district of
it. Cases are *replayed*: each case is inserted at its report and then changed step by step,
every step appending its event through `db.events.append_event`, so that the case's optimistic
`version` equals its number of events other than deadline alerts (which, as the sweep's, do
not change the case), and the steps of all cases of a district run in
chronological order, so that event `seq` numbers follow `occurred_at`. The steps also write the
workflow rows beside the case, and the event payloads name them:
- ASSIGNED / REASSIGNED: the lead's and the co-handlers' `CaseAssignment` rows, each with its
  sign-for deadline (a reassignment ends the rows of the partners handling the case so far;
  re-dispatching a RETURNED case settles its return);
- SIGNED_FOR: the partner's assignment signed for; the case keeps the earliest sign-for
  deadline still open (`sign_for_due_at`), none once all have signed;
- RETURNED / RETURN_ESCALATED / RETURN_RULED: the lead's `CaseReturn`, disputed by the
  committee or street, ruled on by the district (refused: the case is ASSIGNED again);
- FOLLOW_UP_RECORDED: a `CaseFollowUp` (the demo's do not reopen the case);
- URGENCY_CHANGED, EXCLUDED_FROM_ASSESSMENT / EXCLUSION_REVERSED: the case's `urgency`, and
  `excluded_at` with `exclusion_reason`;
- WHISTLE_BLOWN / REPORTED_IN: the department's `CaseWhistle`, opened and reported in;
- HELPING_HAND_REQUESTED / _ACCEPTED / _DECLINED: the helper's `HelpingHand` and its answer;
- DEADLINE_APPROACHING / DEADLINE_MISSED: the `DeadlineAlert` that keeps the sweep from
  appending the event again;
- CONFIRMED sets `confirmed_at`, REOPENED counts in `reopen_count`; a case reported through the
  app with an idempotency key leaves its `ReportKey`.

Deadlines follow the district's `DeadlinePolicy` rows (the case category's, else the district's
default): accepting counts from the report, resolving from the acceptance, reporting in from
the whistle, signing for from the dispatch. A case's urgency is its category's tier
(`db.models.enums.urgency_of`) unless raised to EMERGENCY; as in the workflow, the time to
resolve is the category's own policy if the district set one, else the tier's
(`URGENCY_RESOLVE_HOURS`). A deadline that passes while its step is still to do has a
DEADLINE_MISSED step.

Conventions of the demo data (nothing in the schema requires them):
- people and organisations are fictional; places and the organisations' roles follow the
  article;
- phone numbers are `010-0000-xxxx` (people) and `010-0001-xxxx` (partners): Beijing local
  numbers never start with 0, so none of them can ring anyone;
- rows other than cases, meetings and notices are stamped as entered on `ONBOARDED`;
- a rejected or duplicate case gets `closed_at` when it leaves the path;
- a reopened case goes back to ASSIGNED (or ACCEPTED when nobody was assigned) with a fresh
  deadline to resolve, as `resolvers.workflow.actions.reopen` does.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.districts import get_or_create_district
from db.events import append_event
from db.models import (
    Base,
    Building,
    Case,
    CaseAssignment,
    CaseFollowUp,
    CasePhoto,
    CaseReturn,
    CaseWhistle,
    Committee,
    CommitteeMember,
    Community,
    Compound,
    CompoundService,
    DeadlineAlert,
    DeadlinePolicy,
    DistrictCounter,
    Facility,
    HelpingHand,
    Meeting,
    MeetingAttendee,
    MeetingCase,
    Notice,
    Partner,
    Partnership,
    Person,
    ReportKey,
    RoleBinding,
    Street,
    WebhookEndpoint,
)
from db.models.enums import (
    URGENCY_RESOLVE_HOURS,
    AssignmentRole,
    CaseCategory,
    CaseEventKind,
    CasePriority,
    CaseStatus,
    CaseUrgency,
    CommitteeKind,
    CommitteeRole,
    ExclusionReason,
    FacilityKind,
    FollowUpChannel,
    HelpingHandStatus,
    MeetingStatus,
    NoticeKind,
    PartnerKind,
    PartnershipRole,
    ReturnOutcome,
    ReturnReason,
    Role,
    Satisfaction,
    SeatSource,
    urgency_of,
)
from db.session import Database
from db.tenancy import current_district

CST = dt.timezone(dt.timedelta(hours=8), "CST")
"""China Standard Time (Asia/Shanghai has had no DST since 1991); no tzdata needed."""

ONBOARDED = dt.datetime(2026, 1, 5, 9, 0, tzinfo=CST)
"""When the demo districts were entered into the system, before any of their cases."""

K = CaseEventKind  # short, for the case scripts below


def _t(text: str) -> dt.datetime:
    """A demo time, written 'YYYY-MM-DD HH:MM' in Beijing time."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST)


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# --- The shape of the world ------------------------------------------------------------------
# Places are named by paths: "社区", "社区/院子", "社区/院子/楼", and a facility is its
# compound's or building's path plus "/" plus its name. Partners are named by name, people
# by login, cases by a short key.


@dataclass(frozen=True)
class CommunitySpec:
    name: str
    street: str


@dataclass(frozen=True)
class CompoundSpec:
    community: str
    name: str
    buildings: tuple[tuple[str, int], ...]  # (name, households)

    @property
    def path(self) -> str:
        return f"{self.community}/{self.name}"


@dataclass(frozen=True)
class FacilitySpec:
    at: str  # path of a compound or a building
    kind: FacilityKind
    name: str
    install_year: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class ServeSpec:
    """A partnership of a partner with a community, and the compounds it serves there."""

    community: str
    role: PartnershipRole
    lead: bool = False
    since: str | None = None
    reported_in: str | None = None
    compounds: tuple[str, ...] = ()  # compound paths


@dataclass(frozen=True)
class PartnerSpec:
    name: str
    kind: PartnerKind
    serves: tuple[ServeSpec, ...]
    contact: str | None = None


RoleSpec = tuple[Role, str | None]  # role and scope: street, community path or partner name


@dataclass(frozen=True)
class PersonSpec:
    login: str
    name: str
    roles: tuple[RoleSpec, ...] = ()
    home: str | None = None  # path of a community or a building
    born: str | None = None
    lives_alone: bool = False


@dataclass(frozen=True)
class SeatSpec:
    login: str
    role: CommitteeRole
    source: SeatSource
    building: str | None = None  # an owner's seat: the building that elected them
    expertise: str | None = None
    votes: int | None = None


@dataclass(frozen=True)
class CommitteeSpec:
    community: str
    kind: CommitteeKind
    name: str
    established: str
    seats: tuple[SeatSpec, ...]


@dataclass(frozen=True)
class MeetingSpec:
    title: str
    location: str
    scheduled_at: str
    outcome: str
    decisions: tuple[tuple[str, str], ...]  # (text, responsible partner)
    # (partner, delegate login, attended): a partner organisation and/or a person.
    attendees: tuple[tuple[str | None, str | None, bool], ...]


Deadline = Literal["ACCEPT", "RESOLVE", "REPORT_IN", "SIGN_FOR"]
"""The deadlines of a case, as `DeadlineAlert.deadline` and the alert events name them."""


@dataclass(frozen=True)
class PolicySpec:
    """A district's deadlines, in hours, for one case category or (category None) the others.

    A department must report in (报到) within `report_in_hours` after the whistle is blown; a
    dispatched partner must sign for the case (签收) within `sign_for_hours`.
    """

    category: CaseCategory | None = None
    accept_hours: int = 24
    resolve_hours: int = 72
    report_in_hours: int = 48
    approaching_hours: int = 4
    sign_for_hours: int = 2

    def due(
        self, deadline: Literal["ACCEPT", "REPORT_IN", "SIGN_FOR"], start: dt.datetime
    ) -> dt.datetime:
        hours = {
            "ACCEPT": self.accept_hours,
            "REPORT_IN": self.report_in_hours,
            "SIGN_FOR": self.sign_for_hours,
        }
        return start + dt.timedelta(hours=hours[deadline])

    def resolve_due(self, start: dt.datetime, urgency: CaseUrgency) -> dt.datetime:
        """The deadline to resolve, as the workflow counts it (`resolve_hours` of
        `resolvers.workflow.steps`): a category's own policy wins; the default's gives way to
        the case's urgency tier (`URGENCY_RESOLVE_HOURS`)."""
        hours = self.resolve_hours if self.category is not None else URGENCY_RESOLVE_HOURS[urgency]
        return start + dt.timedelta(hours=hours)


DEFAULT_POLICY = PolicySpec()
ELEVATOR_POLICY = PolicySpec(CaseCategory.ELEVATOR, resolve_hours=24, report_in_hours=24)
"""A stopped elevator traps old people upstairs: a day to repair it, a day to report in."""


class CoHandler(NamedTuple):
    """A partner assigned beside the lead (协办), with its own task and, maybe, deadline."""

    partner: str
    task: str
    due: str | None = None  # 'YYYY-MM-DD HH:MM', after the assignment


class FollowUp(NamedTuple):
    """How the reporter was followed up (回访) and, if reached, their answers (kept apart)."""

    channel: FollowUpChannel
    reached: bool
    resolved: bool | None = None
    satisfaction: Satisfaction | None = None


@dataclass(frozen=True)
class Step:
    """One step of a case's script; the first is always REPORTED, by the reporter."""

    kind: CaseEventKind
    at: str
    actor: str | None = None  # login
    actor_partner: str | None = None  # the partner the actor acts for
    target: str | None = None  # partner acted upon: assignee, department, helper
    note: str | None = None
    rating: int | None = None  # CONFIRMED
    duplicate_of: str | None = None  # MARKED_DUPLICATE: key of the earlier case
    # ASSIGNED / REASSIGNED: the co-handlers; the note is the lead's task.
    co_handlers: tuple[CoHandler, ...] = ()
    deadline: Deadline | None = None  # DEADLINE_APPROACHING / DEADLINE_MISSED
    return_reason: ReturnReason | None = None  # RETURNED; the note is the explanation
    upheld: bool | None = None  # RETURN_RULED; the note is the ruling's reason
    urgency: CaseUrgency | None = None  # URGENCY_CHANGED: the new tier
    follow_up: FollowUp | None = None  # FOLLOW_UP_RECORDED; the note is the reporter's comment
    exclusion: ExclusionReason | None = None  # EXCLUDED_FROM_ASSESSMENT

    @property
    def when(self) -> dt.datetime:
        return _t(self.at)


@dataclass(frozen=True)
class CaseSpec:
    key: str
    where: str  # path of a community, compound, building or facility
    category: CaseCategory
    title: str
    description: str
    steps: tuple[Step, ...]
    priority: CasePriority = CasePriority.NORMAL
    channel: str = "app"  # how it reached the committee: app, phone, visit, conversation...
    meeting: MeetingSpec | None = None
    report_key: str | None = None  # the idempotency key the reporter's app sent
    order_no: str | None = None  # the 12345 hotline's work order number (派单)

    @property
    def urgency(self) -> CaseUrgency:
        """The tier at report: the category's (URGENCY_CHANGED may mark it EMERGENCY later)."""
        return urgency_of(self.category)


@dataclass(frozen=True)
class NoticeSpec:
    where: str  # path of a community or a building
    author: str  # partner
    kind: NoticeKind
    title: str
    body: str
    valid_from: str
    valid_until: str | None = None


@dataclass(frozen=True)
class DistrictSpec:
    code: str
    name: str
    streets: tuple[str, ...]
    communities: tuple[CommunitySpec, ...]
    compounds: tuple[CompoundSpec, ...]
    facilities: tuple[FacilitySpec, ...]
    partners: tuple[PartnerSpec, ...]
    people: tuple[PersonSpec, ...]
    committees: tuple[CommitteeSpec, ...]
    policies: tuple[PolicySpec, ...]  # one without category: the default
    cases: tuple[CaseSpec, ...]
    notices: tuple[NoticeSpec, ...]


def _community_of(path: str) -> str:
    return path.split("/", 1)[0]


def _resident(
    login: str,
    name: str,
    home: str,
    born: str | None = None,
    *,
    alone: bool = False,
    roles: tuple[RoleSpec, ...] = (),
) -> PersonSpec:
    """A resident of the building at `home`, with the resident role in its community."""
    return PersonSpec(
        login,
        name,
        roles=((Role.RESIDENT, _community_of(home)), *roles),
        home=home,
        born=born,
        lives_alone=alone,
    )


def _staff(login: str, name: str, partner: str, *roles: RoleSpec) -> PersonSpec:
    """Staff of a partner organisation, possibly with further roles."""
    return PersonSpec(login, name, roles=((Role.PARTNER_STAFF, partner), *roles))


def _property_company(
    name: str, community: str, compounds: tuple[str, ...], since: str, reported_in: str | None
) -> PartnerSpec:
    """A property company (大管家) serving `compounds` of one community."""
    serve = ServeSpec(
        community,
        PartnershipRole.PROPERTY_COMPANY,
        since=since,
        reported_in=reported_in,
        compounds=tuple(f"{community}/{c}" for c in compounds),
    )
    return PartnerSpec(name, PartnerKind.PROPERTY_COMPANY, (serve,))


# --- 海淀区 -----------------------------------------------------------------------------------

XGM = "希格玛社区"
SHC = "上河村社区"
SHC_YARD = f"{SHC}/上河村小区"

# The nine compounds of 希格玛社区; their households add up to the article's 1,880.
XIGEMA_HOUSEHOLDS = 1880
XIGEMA_COMPOUNDS = (
    CompoundSpec(XGM, "知春路甲48号院", (("1号楼", 156), ("2号楼", 144), ("3号楼", 120))),
    CompoundSpec(XGM, "知春路50号院", (("1号楼", 96), ("2号楼", 96))),
    CompoundSpec(XGM, "星规路1号院", (("1号楼", 132), ("2号楼", 108))),
    CompoundSpec(XGM, "星规路3号院", (("1号楼", 88),)),
    CompoundSpec(XGM, "希格玛北院", (("1号楼", 120), ("2号楼", 100))),
    CompoundSpec(XGM, "希格玛南院", (("1号楼", 84), ("2号楼", 76))),
    CompoundSpec(XGM, "中关村东路18号院", (("1号楼", 64), ("2号楼", 64), ("3号楼", 72))),
    CompoundSpec(XGM, "知春里12号院", (("1号楼", 180),)),
    CompoundSpec(XGM, "知春里14号院", (("1号楼", 90), ("2号楼", 90))),
)

# 上河村小区: (building, households, elevators, install year of its elevators). Buildings 1-8
# carry the 29 elevators installed by 2002 (over 15 years old when the article was written,
# however one counts); buildings 9-14 the 27 newer ones: 56 in all.
SHANGHE_ELEVATORS = 56
SHANGHE_OLD_ELEVATORS = 29
OLD_ELEVATOR_LAST_YEAR = 2004  # installed in or before this year: more than 15 years by 2019
SHANGHE_BUILDINGS = (
    ("1号楼", 96, 4, 1998),
    ("2号楼", 96, 4, 1998),
    ("3号楼", 96, 4, 1999),
    ("4号楼", 96, 4, 1999),
    ("5号楼", 88, 4, 2000),
    ("6号楼", 72, 3, 2001),
    ("7号楼", 72, 3, 2002),
    ("8号楼", 66, 3, 2002),
    ("9号楼", 120, 5, 2008),
    ("10号楼", 120, 5, 2008),
    ("11号楼", 110, 5, 2010),
    ("12号楼", 90, 4, 2012),
    ("13号楼", 90, 4, 2012),
    ("14号楼", 84, 4, 2016),
)


def _shanghe_elevators() -> tuple[FacilitySpec, ...]:
    return tuple(
        FacilitySpec(f"{SHC_YARD}/{building}", FacilityKind.ELEVATOR, f"{n}号梯", year)
        for building, _households, count, year in SHANGHE_BUILDINGS
        for n in range(1, count + 1)
    )


# Partners named more than once below.
XGM_PARTY = "希格玛社区党总支"
XGM_RC = "希格玛社区居民委员会"
BIG_PM = "北京希格玛物业管理有限公司"  # the big company that lends a hand (大手拉小手)
SMALL_PM = "北京知春物业服务有限公司"  # the small one that has no one to send
SHC_PARTY = "上河村社区党委"
SHC_RC = "上河村社区居民委员会"
SHC_OWNERS = "上河村小区业主委员会"
SHC_PM = "北京上河物业管理有限公司"
HOUSING = "海淀区住房和城乡建设委员会"
HOUSING_ADMIN = "海淀区房屋管理局"
SHC_LIFT = "北京安泰电梯工程有限公司"  # co-builder: the elevator company of 上河村
WATER = "海淀区水务局"  # keeps the municipal storm drains outside the compounds
XINGUI_PM = "北京星规物业管理有限公司"
HETAI_PM = "北京和泰物业管理有限公司"
JIAYUAN_PM = "北京嘉园物业服务有限公司"
HENGAN_PM = "北京恒安物业管理有限公司"


def _haidian_partners() -> tuple[PartnerSpec, ...]:
    # 11 property companies share 希格玛社区's 9 compounds. Each compound is served by exactly
    # one company; the last two companies manage single buildings inside compounds another
    # company serves (the reason there are more companies than compounds), which the model
    # cannot record (service is per compound), so they have a partnership and no compound.
    # One company, reported in late, has not reported in (报到) to the Party organisation yet.
    xigema_companies = (
        (BIG_PM, ("知春路甲48号院",), "2008-03-01", "2019-01-08"),
        (SMALL_PM, ("知春路50号院",), "2012-07-01", "2019-01-08"),
        (XINGUI_PM, ("星规路1号院",), "2010-05-01", "2019-01-09"),
        (HETAI_PM, ("星规路3号院",), "2014-01-01", "2019-01-09"),
        (JIAYUAN_PM, ("希格玛北院",), "2009-10-01", "2019-01-10"),
        ("北京鑫诚物业管理有限公司", ("希格玛南院",), "2015-04-01", "2019-01-10"),
        ("北京润泽物业服务有限公司", ("中关村东路18号院",), "2011-06-01", "2019-01-11"),
        (HENGAN_PM, ("知春里12号院",), "2013-09-01", "2019-01-11"),
        ("北京康居物业服务有限公司", ("知春里14号院",), "2016-03-01", "2019-01-14"),
        ("北京佳盛物业管理有限公司", (), "2017-01-01", "2019-01-14"),
        ("北京安居物业服务有限公司", (), "2018-06-01", None),
    )
    departments = tuple(
        PartnerSpec(
            name,
            PartnerKind.GOVERNMENT_DEPARTMENT,
            tuple(ServeSpec(c, PartnershipRole.GOVERNMENT_DEPARTMENT) for c in (XGM, SHC)),
        )
        for name in (HOUSING, HOUSING_ADMIN)
    )
    return (
        PartnerSpec(
            XGM_PARTY,
            PartnerKind.PARTY_ORGANIZATION,
            (ServeSpec(XGM, PartnershipRole.PARTY_ORGANIZATION, lead=True, since="2000-01-01"),),
            contact="王秀兰",
        ),
        PartnerSpec(
            XGM_RC,
            PartnerKind.RESIDENTS_COMMITTEE,
            (ServeSpec(XGM, PartnershipRole.RESIDENTS_COMMITTEE, since="2000-01-01"),),
            contact="李红梅",
        ),
        *(_property_company(n, XGM, c, s, r) for n, c, s, r in xigema_companies),
        *departments,
        PartnerSpec(
            SHC_PARTY,
            PartnerKind.PARTY_ORGANIZATION,
            (ServeSpec(SHC, PartnershipRole.PARTY_ORGANIZATION, lead=True, since="2018-09-01"),),
            contact="冯志刚",
        ),
        PartnerSpec(
            SHC_RC,
            PartnerKind.RESIDENTS_COMMITTEE,
            (ServeSpec(SHC, PartnershipRole.RESIDENTS_COMMITTEE, since="2001-06-01"),),
            contact="魏淑华",
        ),
        PartnerSpec(
            SHC_OWNERS,
            PartnerKind.OWNERS_ASSEMBLY,
            (ServeSpec(SHC, PartnershipRole.OWNERS, since="2009-04-18"),),
            contact="蒋国平",
        ),
        # The fifth company in three years, hired when its predecessor walked out.
        _property_company(SHC_PM, SHC, ("上河村小区",), "2018-09-01", "2018-09-05"),
        PartnerSpec(
            SHC_LIFT,
            PartnerKind.ENTERPRISE,
            (ServeSpec(SHC, PartnershipRole.CO_BUILDER, since="2018-10-01"),),
        ),
        # Last, so that the partners above keep their contact numbers.
        PartnerSpec(
            WATER,
            PartnerKind.GOVERNMENT_DEPARTMENT,
            tuple(ServeSpec(c, PartnershipRole.GOVERNMENT_DEPARTMENT) for c in (XGM, SHC)),
        ),
    )


# The six owners the residents' representatives elected to the 环物会, chosen for their
# experience: (login, name, born, building in 希格玛社区, expertise, votes received).
XIGEMA_OWNERS = (
    ("hd-owner-1", "马德福", "1956-02-14", "知春路甲48号院/2号楼", "原物业公司经理", 86),
    ("hd-owner-2", "林慧", "1968-09-03", "星规路1号院/1号楼", "会计师，审核物业账目", 79),
    ("hd-owner-3", "郭振华", "1958-11-20", "希格玛北院/1号楼", "环卫专家", 74),
    ("hd-owner-4", "宋建军", "1955-06-30", "知春里12号院/1号楼", "退休电梯维保工程师", 68),
    ("hd-owner-5", "何丽", "1975-04-08", "中关村东路18号院/3号楼", "律师，熟悉物业合同", 63),
    ("hd-owner-6", "吴志强", "1953-01-17", "希格玛南院/2号楼", "退休党员，原后勤处长", 61),
)

HAIDIAN_PEOPLE = (
    PersonSpec("hd-admin-1", "孙立新", ((Role.DISTRICT_ADMIN, None),)),
    PersonSpec("hd-street-1", "高文博", ((Role.STREET_OFFICER, "中关村街道"),)),
    # Head of 曙光街道's community-building section and first secretary of 上河村社区.
    _staff(
        "hd-street-2",
        "冯志刚",
        SHC_PARTY,
        (Role.STREET_OFFICER, "曙光街道"),
        (Role.COMMUNITY_WORKER, SHC),
    ),
    _staff("hd-worker-1", "王秀兰", XGM_PARTY, (Role.COMMUNITY_WORKER, XGM)),  # 党总支书记
    _staff("hd-worker-2", "陈静", XGM_RC, (Role.COMMUNITY_WORKER, XGM)),  # 环物会主任
    _staff("hd-worker-3", "李红梅", XGM_RC, (Role.COMMUNITY_WORKER, XGM)),  # 居委会主任
    _staff("hd-worker-4", "魏淑华", SHC_RC, (Role.COMMUNITY_WORKER, SHC)),  # 居委会主任
    PersonSpec("hd-police-1", "刘建国"),  # community police: committee seats only
    PersonSpec("hd-police-2", "赵磊"),
    *(_resident(login, n, f"{XGM}/{b}", born) for login, n, born, b, _e, _v in XIGEMA_OWNERS),
    _resident("hd-owner-7", "蒋国平", f"{SHC_YARD}/1号楼", "1960-08-22"),  # 业委会主任
    _resident("hd-owner-8", "谢芳", f"{SHC_YARD}/9号楼", "1979-12-05"),
    _resident("hd-resident-1", "李桂芝", f"{XGM}/知春路50号院/2号楼", "1944-05-12", alone=True),
    _resident("hd-resident-2", "周明", f"{XGM}/知春路甲48号院/1号楼", "1985-03-19"),
    _resident("hd-resident-3", "杨淑珍", f"{XGM}/希格玛北院/2号楼", "1950-10-02", alone=True),
    _resident("hd-resident-4", "徐浩", f"{XGM}/知春里14号院/1号楼", "1990-07-25"),
    _resident("hd-resident-5", "黄婷", f"{XGM}/知春路甲48号院/1号楼", "1992-02-11"),
    _resident("hd-resident-6", "邓伟", f"{XGM}/星规路1号院/2号楼", "1988-12-30"),
    _resident("hd-resident-7", "韩玉兰", f"{SHC_YARD}/3号楼", "1947-04-16", alone=True),
    _resident("hd-resident-8", "曹磊", f"{SHC_YARD}/6号楼", "1983-05-09"),
    _staff("hd-staff-1", "罗刚", SMALL_PM),
    _staff("hd-staff-2", "梁永", BIG_PM),
    _staff("hd-staff-3", "彭军", JIAYUAN_PM),
    _staff("hd-staff-4", "袁芳", "北京康居物业服务有限公司"),
    _staff("hd-staff-5", "孔德明", "北京鑫诚物业管理有限公司"),
    _staff("hd-staff-6", "程丽", SHC_PM),
    _staff("hd-staff-7", "潘勇", HOUSING_ADMIN),
    _staff("hd-staff-8", "田静", HOUSING),
    _staff("hd-staff-9", "蔡文涛", XINGUI_PM),
    _staff("hd-staff-10", "邵建华", HETAI_PM),
    _staff("hd-staff-11", "贾晓东", WATER),
    _staff("hd-staff-12", "龚平", SHC_LIFT),
)


def _owner_seat(login: str, building: str, expertise: str, votes: int) -> SeatSpec:
    """An owner elected to the 环物会 by the residents' representatives of `building`."""
    return SeatSpec(login, CommitteeRole.MEMBER, SeatSource.OWNER, building, expertise, votes)


HAIDIAN_COMMITTEES = (
    # The article's 环物会: director from the residents' committee, two police deputies, six
    # owners with relevant expertise, elected by the residents' representatives.
    CommitteeSpec(
        XGM,
        CommitteeKind.ENVIRONMENT_PROPERTY,
        "希格玛社区环境和物业管理委员会",
        "2018-12-20",
        (
            SeatSpec("hd-worker-2", CommitteeRole.DIRECTOR, SeatSource.RESIDENTS_COMMITTEE),
            SeatSpec("hd-police-1", CommitteeRole.DEPUTY_DIRECTOR, SeatSource.POLICE),
            SeatSpec("hd-police-2", CommitteeRole.DEPUTY_DIRECTOR, SeatSource.POLICE),
            *(_owner_seat(login, f"{XGM}/{b}", e, v) for login, _n, _b, b, e, v in XIGEMA_OWNERS),
        ),
    ),
    CommitteeSpec(
        XGM,
        CommitteeKind.RESIDENTS,
        "希格玛社区居民委员会",
        "2000-01-01",
        (
            SeatSpec("hd-worker-3", CommitteeRole.DIRECTOR, SeatSource.RESIDENTS_COMMITTEE),
            SeatSpec("hd-worker-2", CommitteeRole.MEMBER, SeatSource.RESIDENTS_COMMITTEE),
            SeatSpec("hd-worker-1", CommitteeRole.MEMBER, SeatSource.PARTY_ORGANIZATION),
        ),
    ),
    CommitteeSpec(
        SHC,
        CommitteeKind.OWNERS,
        SHC_OWNERS,
        "2009-04-18",
        (
            SeatSpec("hd-owner-7", CommitteeRole.DIRECTOR, SeatSource.OWNER, f"{SHC_YARD}/1号楼"),
            SeatSpec("hd-owner-8", CommitteeRole.MEMBER, SeatSource.OWNER, f"{SHC_YARD}/9号楼"),
        ),
    ),
)

ELEVATOR_MEETING = MeetingSpec(
    title="上河村小区老旧电梯更换协调会",
    location="上河村社区党群服务中心会议室",
    scheduled_at="2026-09-15 14:30",
    outcome="六方一致同意申请使用公共维修基金，分批更换29部使用超过15年的电梯。",
    decisions=(
        ("编制电梯更换技术方案和预算，9月30日前提交业委会", SHC_PM),
        ("组织业主表决维修基金使用方案，10月20日前完成", SHC_OWNERS),
        ("指导维修基金使用申请材料的准备和审核", HOUSING_ADMIN),
        ("协调更换施工期间的安全监管", HOUSING),
        ("每两周召开一次推进会，通报进度", SHC_PARTY),
    ),
    attendees=(
        (SHC_PARTY, "hd-street-2", True),
        (SHC_RC, "hd-worker-4", True),
        (SHC_OWNERS, "hd-owner-7", True),
        (SHC_PM, "hd-staff-6", True),
        (HOUSING_ADMIN, "hd-staff-7", True),
        (HOUSING, None, False),
        (SHC_LIFT, None, True),
    ),
)

HAIDIAN_CASES = (
    CaseSpec(
        "shanghe-fund",
        SHC_YARD,
        CaseCategory.MAINTENANCE_FUND,
        "申请公共维修基金更换29部老旧电梯",
        "小区56部电梯中29部使用超过15年，部件磨损、电器老化、平衡系数不达标，故障频出。"
        "业委会申请使用公共维修基金分批更换。",
        (
            Step(K.REPORTED, "2026-09-07 10:00", "hd-owner-7", SHC_OWNERS),
            Step(K.ACCEPTED, "2026-09-08 09:30", "hd-street-2", SHC_PARTY),
            Step(K.MEETING_SCHEDULED, "2026-09-10 15:00", "hd-street-2", SHC_PARTY),
            Step(K.MEETING_HELD, "2026-09-15 17:00", "hd-street-2", SHC_PARTY),
            Step(
                K.WHISTLE_BLOWN,
                "2026-09-16 09:00",
                "hd-street-2",
                SHC_PARTY,
                target=HOUSING_ADMIN,
                note="维修基金使用申请需房管局审核指导",
            ),
            Step(
                K.REPORTED_IN,
                "2026-09-17 14:00",
                "hd-staff-7",
                HOUSING_ADMIN,
                target=HOUSING_ADMIN,
                note="已派专人指导业委会准备维修基金使用方案和业主表决材料",
            ),
            Step(
                K.ASSIGNED,
                "2026-09-18 10:00",
                "hd-street-2",
                SHC_PARTY,
                target=SHC_PM,
                note="编制电梯更换方案和预算，组织业主表决，报房管局审核后分批实施",
                co_handlers=(
                    CoHandler(
                        SHC_LIFT,
                        "提供电梯更换技术方案和报价，负责拆除和安装施工",
                        "2026-09-28 18:00",  # in time for the plan due on 30 September
                    ),
                ),
            ),
            # Each dispatched partner signs for its part (签收) within the policy's 2 hours.
            Step(K.SIGNED_FOR, "2026-09-18 10:40", "hd-staff-6", SHC_PM),
            Step(K.SIGNED_FOR, "2026-09-18 11:20", "hd-staff-12", SHC_LIFT),
            Step(
                K.NOTE_ADDED,
                "2026-10-20 16:00",
                "hd-staff-6",
                SHC_PM,
                note="更换方案和预算已公示，业主表决通过，申请材料已报房管局",
            ),
        ),
        priority=CasePriority.HIGH,
        channel="owners_committee",
        meeting=ELEVATOR_MEETING,
    ),
    CaseSpec(
        "shanghe-lift",
        f"{SHC_YARD}/3号楼/1号梯",
        CaseCategory.ELEVATOR,
        "3号楼1号梯困停",
        "电梯停在两层之间，独居老人无法下楼。",
        (
            Step(K.REPORTED, "2026-10-12 07:20", "hd-resident-7"),
            Step(K.ACCEPTED, "2026-10-12 07:35", "hd-worker-4", SHC_RC),
            Step(K.ASSIGNED, "2026-10-12 07:40", "hd-worker-4", SHC_RC, target=SHC_PM),
            Step(K.SIGNED_FOR, "2026-10-12 07:45", "hd-staff-6", SHC_PM),
            Step(K.RESOLVED, "2026-10-12 11:30", "hd-staff-6", SHC_PM, note="更换门机板"),
            Step(K.REOPENED, "2026-10-13 08:10", "hd-resident-7", note="电梯再次困停"),
            Step(
                K.WHISTLE_BLOWN,
                "2026-10-13 08:20",
                "hd-worker-4",
                SHC_RC,
                target=HOUSING,
                note="电梯反复故障，请主管部门督促维保单位彻查",
            ),
            Step(
                K.REPORTED_IN,
                "2026-10-13 15:00",
                "hd-staff-8",
                HOUSING,
                target=HOUSING,
                note="已约谈维保单位，要求当日全面检测",
            ),
            Step(
                K.RESOLVED,
                "2026-10-13 22:30",
                "hd-staff-6",
                SHC_PM,
                note="连夜更换曳引机制动器并全面检测，检验合格",
            ),
            Step(K.CONFIRMED, "2026-10-15 09:00", "hd-resident-7", rating=3),
            Step(K.CLOSED, "2026-10-15 09:30", "hd-worker-4", SHC_RC),
        ),
        priority=CasePriority.URGENT,
        channel="phone",
    ),
    CaseSpec(
        "xigema-drain",
        f"{XGM}/知春路50号院/2号楼",
        CaseCategory.DRAINAGE,
        "厨房下水道堵塞",
        "住户家中厨房下水道堵塞，污水倒灌。",
        (
            Step(K.REPORTED, "2026-11-02 08:40", "hd-resident-1"),
            Step(K.ACCEPTED, "2026-11-02 09:15", "hd-worker-2"),
            Step(K.ASSIGNED, "2026-11-02 09:20", "hd-worker-2", target=SMALL_PM),
            Step(K.SIGNED_FOR, "2026-11-02 09:30", "hd-staff-1", SMALL_PM),
            Step(
                K.HELPING_HAND_REQUESTED,
                "2026-11-02 14:30",
                "hd-worker-2",
                target=BIG_PM,
                note="知春物业唯一的维修工在外抢修，当日无法上门",
            ),
            Step(
                K.HELPING_HAND_ACCEPTED,
                "2026-11-02 15:10",
                "hd-staff-2",
                BIG_PM,
                target=BIG_PM,
                note="派维修工一小时内上门，不收取费用",
            ),
            Step(
                K.FEE_WAIVED,
                "2026-11-02 15:20",
                "hd-worker-2",
                note="住户年满60周岁且独居，免除上门费用",
            ),
            Step(
                K.RESOLVED,
                "2026-11-02 17:45",
                "hd-staff-1",
                SMALL_PM,
                note="希格玛物业维修工上门疏通管道，更换存水弯",
            ),
            Step(K.CONFIRMED, "2026-11-03 10:00", "hd-resident-1", rating=5),
            Step(K.CLOSED, "2026-11-03 10:05", "hd-worker-2"),
        ),
        channel="visit",
    ),
    CaseSpec(
        "shanghe-road",
        SHC_YARD,
        CaseCategory.FACILITY_REPAIR,
        "小区北门外路面塌陷",
        "北门外路段出现塌陷，雨后积水，老人出行不便。该路段属市政道路。",
        (
            Step(K.REPORTED, "2026-11-09 18:00", "hd-resident-8"),
            Step(K.ACCEPTED, "2026-11-10 09:00", "hd-worker-4", SHC_RC),
            Step(
                K.WHISTLE_BLOWN,
                "2026-11-10 09:30",
                "hd-worker-4",
                SHC_RC,
                target=HOUSING,
                note="北门外路段属市政道路，需主管部门处置",
            ),
            # The department did not report in: the overdue whistle the district sees.
            Step(K.DEADLINE_MISSED, "2026-11-12 09:30", target=HOUSING, deadline="REPORT_IN"),
            # Nor could the case be resolved without it, within the general tier's seven days
            # after it was accepted.
            Step(K.DEADLINE_MISSED, "2026-11-17 09:00", deadline="RESOLVE"),
        ),
    ),
    CaseSpec(
        "xigema-heating",
        f"{XGM}/希格玛北院/锅炉房",
        CaseCategory.HEATING,
        "2号楼暖气不热",
        "供暖开始后2号楼多户室温不足16°C。",
        (
            Step(K.REPORTED, "2026-11-16 07:50", "hd-resident-3"),
            Step(K.ACCEPTED, "2026-11-16 08:30", "hd-worker-2"),
            Step(K.ASSIGNED, "2026-11-16 08:35", "hd-worker-2", target=JIAYUAN_PM),
            Step(K.SIGNED_FOR, "2026-11-16 08:50", "hd-staff-3", JIAYUAN_PM),
            # Heating is a utility: 24 hours to resolve (the UTILITIES tier).
            Step(
                K.RESOLVED,
                "2026-11-16 19:30",
                "hd-staff-3",
                JIAYUAN_PM,
                note="调整循环泵并排气，室温达到20°C",
            ),
            Step(K.CONFIRMED, "2026-11-18 09:00", "hd-resident-3", rating=4),
        ),
        priority=CasePriority.HIGH,
        channel="phone",
    ),
    CaseSpec(
        "xigema-garbage",
        f"{XGM}/希格玛南院",
        CaseCategory.SANITATION,
        "南院生活垃圾堆放无人清运",
        "南院西侧垃圾桶站周边生活垃圾堆放数日。居民聊天时向环物会委员反映。",
        (
            Step(K.REPORTED, "2026-11-18 19:30", "hd-owner-3"),
            Step(K.ACCEPTED, "2026-11-19 08:45", "hd-worker-2"),
            Step(K.ASSIGNED, "2026-11-19 08:50", "hd-worker-2", target="北京鑫诚物业管理有限公司"),
            Step(K.SIGNED_FOR, "2026-11-19 09:20", "hd-staff-5", "北京鑫诚物业管理有限公司"),
            Step(
                K.RESOLVED,
                "2026-11-20 11:00",
                "hd-staff-5",
                "北京鑫诚物业管理有限公司",
                note="清运堆积垃圾，增设分类桶站并调整清运时间",
            ),
        ),
        channel="conversation",
    ),
    CaseSpec(
        "xigema-bikes",
        f"{XGM}/知春里14号院",
        CaseCategory.PARKING,
        "院内自行车、电动车乱停乱放",
        "楼门口和消防通道停满自行车、电动车，行人需侧身通过。",
        (
            Step(K.REPORTED, "2026-11-23 18:10", "hd-resident-4"),
            Step(K.ACCEPTED, "2026-11-24 09:00", "hd-worker-2"),
            Step(K.ASSIGNED, "2026-11-24 09:10", "hd-worker-2", target="北京康居物业服务有限公司"),
            Step(K.SIGNED_FOR, "2026-11-24 09:40", "hd-staff-4", "北京康居物业服务有限公司"),
            Step(
                K.NOTE_ADDED,
                "2026-11-25 10:00",
                "hd-staff-4",
                "北京康居物业服务有限公司",
                note="拟引导电动自行车到星规路智能车棚停放充电",
            ),
        ),
    ),
    CaseSpec(
        "xigema-lift",
        f"{XGM}/知春路甲48号院/1号楼/电梯",
        CaseCategory.ELEVATOR,
        "1号楼电梯停运",
        "电梯早上起无法运行，楼内有多位行动不便的老人。",
        (
            Step(K.REPORTED, "2026-11-25 19:40", "hd-resident-2"),
            Step(K.ACCEPTED, "2026-11-25 20:05", "hd-worker-2"),
        ),
        priority=CasePriority.URGENT,
    ),
    CaseSpec(
        "xigema-lift-again",
        f"{XGM}/知春路甲48号院/1号楼/电梯",
        CaseCategory.ELEVATOR,
        "1号楼电梯坏了",
        "电梯不动了。",
        (
            Step(K.REPORTED, "2026-11-25 20:30", "hd-resident-5"),
            Step(
                K.MARKED_DUPLICATE,
                "2026-11-25 20:50",
                "hd-worker-2",
                duplicate_of="xigema-lift",
                note="同一部电梯的故障，已并入前一案件处理",
            ),
        ),
    ),
    CaseSpec(
        "xigema-charger",
        f"{XGM}/星规路1号院/2号充电桩",
        CaseCategory.FACILITY_REPAIR,
        "智能车棚2号充电桩不通电",
        "刷卡后充电桩无反应。",
        (Step(K.REPORTED, "2026-11-26 08:15", "hd-resident-6"),),
        priority=CasePriority.LOW,
        report_key="app-7f3c2a9e51d84b06",
    ),
    # 接诉即办: the hotline's orders, sign-for, returns and rulings, urgency, follow-ups and
    # exclusions from assessments.
    CaseSpec(
        "xingui-water",
        f"{XGM}/星规路1号院/1号楼",
        CaseCategory.WATER_SUPPLY,
        "1号楼停水",
        "早上起1号楼全楼停水，事先没有接到停水通知。",
        (
            Step(K.REPORTED, "2026-11-19 06:40", "hd-owner-2"),
            Step(K.ACCEPTED, "2026-11-19 07:05", "hd-worker-2"),
            Step(
                K.ASSIGNED,
                "2026-11-19 07:10",
                "hd-worker-2",
                target=XINGUI_PM,
                note="排查二次供水设备，尽快恢复供水",
            ),
            Step(K.SIGNED_FOR, "2026-11-19 07:25", "hd-staff-9", XINGUI_PM),
            # Water is a utility: 24 hours to resolve (the UTILITIES tier).
            Step(
                K.RESOLVED,
                "2026-11-19 11:40",
                "hd-staff-9",
                XINGUI_PM,
                note="二次供水泵房水泵故障，更换水泵后恢复供水，并清洗消毒水箱",
            ),
            Step(
                K.FOLLOW_UP_RECORDED,
                "2026-11-20 10:00",
                "hd-worker-3",
                follow_up=FollowUp(FollowUpChannel.PHONE, True, True, Satisfaction.SATISFIED),
                note="中午就来水了，物业师傅很负责",
            ),
        ),
        channel="hotline_12345",
        order_no="12345-20261119-0127",
    ),
    CaseSpec(
        "xingui3-drain",
        f"{XGM}/星规路3号院",
        CaseCategory.DRAINAGE,
        "院门口雨水井堵塞积水",
        "院门口的雨水篦子被落叶和泥沙堵死，一下雨门口就积水，进出要蹚水。",
        (
            Step(K.REPORTED, "2026-11-18 08:10", "hd-resident-6"),
            Step(K.ACCEPTED, "2026-11-18 09:00", "hd-worker-2"),
            Step(K.ASSIGNED, "2026-11-18 09:10", "hd-worker-2", target=HETAI_PM, note="清掏雨水井"),
            Step(K.SIGNED_FOR, "2026-11-18 09:40", "hd-staff-10", HETAI_PM),
            Step(
                K.RETURNED,
                "2026-11-18 14:30",
                "hd-staff-10",
                HETAI_PM,
                return_reason=ReturnReason.NOT_OUR_AREA,
                note="雨水井在院门外的市政道路上，接入市政雨水管网，不属于小区",
            ),
            Step(
                K.RETURN_ESCALATED,
                "2026-11-18 16:00",
                "hd-worker-2",
                note="雨水井紧贴院门，居民一直认为由物业清掏，请区里审定",
            ),
            # Upheld: the return does not count against the company; the street re-dispatches.
            Step(
                K.RETURN_RULED,
                "2026-11-19 11:00",
                "hd-admin-1",
                upheld=True,
                note="经现场核实，雨水井位于院门外市政道路，属区水务局管理的市政雨水管网",
            ),
            Step(
                K.REASSIGNED,
                "2026-11-19 14:00",
                "hd-street-1",
                target=WATER,
                note="清掏院门外市政雨水井，疏通雨水管线",
            ),
            Step(K.SIGNED_FOR, "2026-11-19 14:30", "hd-staff-11", WATER),
            Step(
                K.RESOLVED,
                "2026-11-20 10:00",
                "hd-staff-11",
                WATER,
                note="清掏雨水井并疏通雨水管线，积水已排净",
            ),
            Step(
                K.FOLLOW_UP_RECORDED,
                "2026-11-21 10:00",
                "hd-worker-3",
                follow_up=FollowUp(FollowUpChannel.PHONE, False),
                note="电话两次无人接听，改日再回访",
            ),
        ),
    ),
    CaseSpec(
        "zhichun50-lights",
        f"{XGM}/知春路50号院/2号楼",
        CaseCategory.FACILITY_REPAIR,
        "楼道灯不亮",
        "2号楼3至6层楼道灯都不亮，老人晚上上下楼看不清台阶。",
        (
            Step(K.REPORTED, "2026-11-20 18:30", "hd-resident-1"),
            Step(K.ACCEPTED, "2026-11-21 08:40", "hd-worker-2"),
            Step(
                K.ASSIGNED, "2026-11-21 08:50", "hd-worker-2", target=SMALL_PM, note="维修楼道照明"
            ),
            Step(K.SIGNED_FOR, "2026-11-21 09:05", "hd-staff-1", SMALL_PM),
            Step(
                K.RETURNED,
                "2026-11-21 14:00",
                "hd-staff-1",
                SMALL_PM,
                return_reason=ReturnReason.OUTSIDE_REMIT,
                note="楼道照明线路老化需要整体改造，超出物业日常维修范围",
            ),
            Step(
                K.RETURN_ESCALATED,
                "2026-11-21 16:30",
                "hd-street-1",
                note="现场查看只需更换灯具和损坏的开关线路，属于日常维修",
            ),
            # Refused: back to the company, which keeps the case; the return counts against it.
            Step(
                K.RETURN_RULED,
                "2026-11-23 10:00",
                "hd-admin-1",
                upheld=False,
                note="楼道照明维修属物业服务合同约定的日常维修，由知春物业办理",
            ),
        ),
        channel="visit",
    ),
    CaseSpec(
        "xigema-shed",
        f"{XGM}/希格玛北院",
        CaseCategory.FACILITY_REPAIR,
        "院内自行车棚顶棚破损漏雨",
        "车棚顶棚有几块板被大风刮掉了，一下雨车都淋湿。",
        (
            Step(K.REPORTED, "2026-11-22 10:20", "hd-owner-3"),
            Step(K.ACCEPTED, "2026-11-22 11:00", "hd-worker-2"),
            Step(
                K.ASSIGNED,
                "2026-11-22 11:10",
                "hd-worker-2",
                target=JIAYUAN_PM,
                note="修复车棚顶棚",
            ),
            Step(K.SIGNED_FOR, "2026-11-22 11:40", "hd-staff-3", JIAYUAN_PM),
            Step(
                K.RETURNED,
                "2026-11-22 16:00",
                "hd-staff-3",
                JIAYUAN_PM,
                return_reason=ReturnReason.UNCLEAR_OWNERSHIP,
                note="车棚由街道出资建设，未移交我司，产权和维修责任不清",
            ),
            # Disputed before the district, which has not ruled yet.
            Step(
                K.RETURN_ESCALATED,
                "2026-11-23 09:30",
                "hd-worker-2",
                note="车棚建成后已随院内公共设施移交物业管理，有交接记录",
            ),
        ),
    ),
    CaseSpec(
        "shanghe-greenbelt",
        SHC_YARD,
        CaseCategory.GREENING,
        "北门外绿地堆放建筑垃圾",
        "北门外围墙边的绿地上堆了大量装修垃圾，绿植被压坏了。",
        (
            Step(K.REPORTED, "2026-11-23 17:30", "hd-owner-8"),
            Step(K.ACCEPTED, "2026-11-24 09:00", "hd-worker-4", SHC_RC),
            Step(
                K.ASSIGNED,
                "2026-11-24 09:10",
                "hd-worker-4",
                SHC_RC,
                target=SHC_PM,
                note="清运建筑垃圾，恢复绿地",
            ),
            Step(K.SIGNED_FOR, "2026-11-24 09:30", "hd-staff-6", SHC_PM),
            # Returned, and still the company's until the committee re-dispatches or disputes it.
            Step(
                K.RETURNED,
                "2026-11-24 15:00",
                "hd-staff-6",
                SHC_PM,
                return_reason=ReturnReason.NOT_OUR_AREA,
                note="现场核实，垃圾堆在围墙外的市政绿地上，不在小区物业管理区域内",
            ),
        ),
    ),
    CaseSpec(
        "shanghe-facade",
        f"{SHC_YARD}/6号楼",
        CaseCategory.FACILITY_REPAIR,
        "6号楼外墙瓷砖脱落",
        "6号楼北侧外墙瓷砖成片脱落，砸在楼下停放的电动车上。",
        (
            Step(K.REPORTED, "2026-11-21 15:40", "hd-resident-8"),
            Step(K.ACCEPTED, "2026-11-21 15:50", "hd-worker-4", SHC_RC),
            # A risk to life: two hours to resolve, counted from the acceptance.
            Step(
                K.URGENCY_CHANGED,
                "2026-11-21 15:55",
                "hd-worker-4",
                SHC_RC,
                urgency=CaseUrgency.EMERGENCY,
                note="瓷砖仍在坠落，危及楼下行人安全",
            ),
            Step(
                K.ASSIGNED,
                "2026-11-21 16:00",
                "hd-worker-4",
                SHC_RC,
                target=SHC_PM,
                note="设置警戒区，清除松动瓷砖",
            ),
            Step(K.SIGNED_FOR, "2026-11-21 16:05", "hd-staff-6", SHC_PM),
            Step(
                K.RESOLVED,
                "2026-11-21 17:40",
                "hd-staff-6",
                SHC_PM,
                note="拉设警戒线，清除北侧外墙松动瓷砖，在单元门口搭设防护棚",
            ),
            Step(
                K.FOLLOW_UP_RECORDED,
                "2026-11-23 10:30",
                "hd-worker-4",
                SHC_RC,
                follow_up=FollowUp(FollowUpChannel.VISIT, True, False, Satisfaction.UNSATISFIED),
                note="只清掉了松动的瓷砖，外墙没有修，防护棚挡着单元门，进出不方便",
            ),
        ),
        priority=CasePriority.URGENT,
        channel="phone",
    ),
    CaseSpec(
        "xigema-fire-lane",
        f"{XGM}/知春路甲48号院",
        CaseCategory.PARKING,
        "要求在消防通道划专用车位",
        "楼前消防通道很宽，要求物业给我家划一个固定车位。",
        (
            Step(K.REPORTED, "2026-11-20 20:15", "hd-resident-5"),
            Step(K.ACCEPTED, "2026-11-21 09:10", "hd-worker-2"),
            Step(
                K.ASSIGNED,
                "2026-11-21 09:20",
                "hd-worker-2",
                target=BIG_PM,
                note="向住户解释消防通道管理规定，协助解决停车",
            ),
            Step(K.SIGNED_FOR, "2026-11-21 09:35", "hd-staff-2", BIG_PM),
            Step(
                K.RESOLVED,
                "2026-11-21 15:00",
                "hd-staff-2",
                BIG_PM,
                note="消防通道依法不得占用，已上门向住户解释，并推荐周边错时共享停车场",
            ),
            Step(
                K.EXCLUDED_FROM_ASSESSMENT,
                "2026-11-24 10:00",
                "hd-admin-1",
                exclusion=ExclusionReason.UNREASONABLE_DEMAND,
                note="诉求要求占用消防通道停车，违反消防法规，不纳入考核",
            ),
        ),
    ),
    CaseSpec(
        "zhichunli-garage",
        f"{XGM}/知春里12号院",
        CaseCategory.FACILITY_REPAIR,
        "地下车库照明损坏",
        "地下车库东侧一排灯全部不亮，晚上停车看不清。",
        (
            Step(K.REPORTED, "2026-11-24 21:10", "hd-owner-4"),
            Step(K.ACCEPTED, "2026-11-25 08:30", "hd-worker-2"),
            Step(
                K.ASSIGNED,
                "2026-11-25 08:40",
                "hd-worker-2",
                target=HENGAN_PM,
                note="检修地下车库照明线路",
            ),
            # Nobody at the company signed for it within two hours: the sweep's alert.
            Step(K.DEADLINE_MISSED, "2026-11-25 10:40", deadline="SIGN_FOR"),
        ),
    ),
)

HAIDIAN_NOTICES = (
    NoticeSpec(
        XGM,
        XGM_RC,
        NoticeKind.ACTIVITY,
        "环物会接待日",
        "每周三下午环物会委员在居委会接待居民，物业方面的问题可当面反映。",
        "2026-11-01 08:00",
        "2026-12-31 18:00",
    ),
    NoticeSpec(
        XGM,
        XGM_PARTY,
        NoticeKind.PUBLIC_ANNOUNCEMENT,
        "星规路智能车棚收费标准公示",
        "智能车棚实行刷卡进出，电动自行车充电按度计费，公示期内欢迎居民提出意见。",
        "2026-03-01 08:00",
        "2026-03-31 18:00",
    ),
    NoticeSpec(
        f"{XGM}/知春路甲48号院/1号楼",
        BIG_PM,
        NoticeKind.PROPERTY_NOTICE,
        "1号楼电梯检修停运通知",
        "1号楼电梯检修，预计11月28日恢复运行，给您带来不便敬请谅解。",
        "2026-11-26 08:00",
        "2026-11-28 18:00",
    ),
    NoticeSpec(
        SHC,
        SHC_OWNERS,
        NoticeKind.PUBLIC_ANNOUNCEMENT,
        "关于申请使用公共维修基金更换老旧电梯的公示",
        "拟使用公共维修基金分批更换29部使用超过15年的电梯，方案和预算见附件，公示期十五日。",
        "2026-10-08 08:00",
        "2026-10-23 08:00",
    ),
    NoticeSpec(
        f"{SHC_YARD}/3号楼",
        SHC_PM,
        NoticeKind.PROPERTY_NOTICE,
        "3号楼电梯维保安排",
        "3号楼电梯每月第二个周二上午进行维保，届时每部电梯停运约一小时。",
        "2026-10-16 08:00",
    ),
)

HAIDIAN = DistrictSpec(
    code="haidian",
    name="海淀区",
    streets=("中关村街道", "曙光街道"),
    communities=(CommunitySpec(XGM, "中关村街道"), CommunitySpec(SHC, "曙光街道")),
    compounds=(
        *XIGEMA_COMPOUNDS,
        CompoundSpec(SHC, "上河村小区", tuple((b, h) for b, h, _n, _y in SHANGHE_BUILDINGS)),
    ),
    facilities=(
        FacilitySpec(
            f"{XGM}/星规路1号院",
            FacilityKind.BIKE_SHED,
            "智能车棚",
            2019,
            "星规路智能车棚：天蓝色墙面，刷卡开启的玻璃电子门，内设电动自行车充电桩。",
        ),
        *(
            FacilitySpec(f"{XGM}/星规路1号院", FacilityKind.EV_CHARGER, f"{n}号充电桩", 2019)
            for n in range(1, 5)
        ),
        FacilitySpec(f"{XGM}/知春路甲48号院/1号楼", FacilityKind.ELEVATOR, "电梯", 1997),
        FacilitySpec(f"{XGM}/知春路甲48号院/2号楼", FacilityKind.ELEVATOR, "电梯", 1997),
        FacilitySpec(f"{XGM}/知春里12号院/1号楼", FacilityKind.ELEVATOR, "电梯", 2006),
        FacilitySpec(f"{XGM}/希格玛北院", FacilityKind.BOILER, "锅炉房", 2003),
        *_shanghe_elevators(),
        FacilitySpec(
            SHC_YARD,
            FacilityKind.BOILER,
            "锅炉房",
            2005,
            "2019年完成低氮改造，排放达标。",
        ),
    ),
    partners=_haidian_partners(),
    people=HAIDIAN_PEOPLE,
    committees=HAIDIAN_COMMITTEES,
    policies=(
        DEFAULT_POLICY,
        ELEVATOR_POLICY,
        # Half a year from the owners' application to the fund's approval; a week's warning.
        PolicySpec(CaseCategory.MAINTENANCE_FUND, resolve_hours=180 * 24, approaching_hours=168),
    ),
    cases=HAIDIAN_CASES,
    notices=HAIDIAN_NOTICES,
)


# --- 西城区 -----------------------------------------------------------------------------------

XK = "新康社区"
LPK = "六铺炕社区"
XK_RC = "新康社区居民委员会"
DS_PM = "北京德胜物业管理有限公司"
XC_HOUSING = "西城区住房和城市建设委员会"
XC_LIFT = "北京德胜电梯工程有限公司"  # maintains 新康小区's elevator under contract

XICHENG = DistrictSpec(
    code="xicheng",
    name="西城区",
    streets=("德胜街道",),
    communities=(CommunitySpec(XK, "德胜街道"), CommunitySpec(LPK, "德胜街道")),
    compounds=(
        CompoundSpec(XK, "新康小区", (("1号楼", 96), ("2号楼", 120), ("3号楼", 80))),
        CompoundSpec(LPK, "六铺炕一区", (("1号楼", 64), ("2号楼", 72))),
    ),
    facilities=(
        FacilitySpec(f"{XK}/新康小区/2号楼", FacilityKind.ELEVATOR, "电梯", 2001),
        FacilitySpec(f"{LPK}/六铺炕一区/1号楼", FacilityKind.DOOR_ACCESS, "单元门禁", 2015),
    ),
    partners=(
        PartnerSpec(
            "新康社区党委",
            PartnerKind.PARTY_ORGANIZATION,
            (ServeSpec(XK, PartnershipRole.PARTY_ORGANIZATION, lead=True, since="2000-01-01"),),
        ),
        PartnerSpec(
            "六铺炕社区党委",
            PartnerKind.PARTY_ORGANIZATION,
            (ServeSpec(LPK, PartnershipRole.PARTY_ORGANIZATION, lead=True, since="2000-01-01"),),
        ),
        PartnerSpec(
            XK_RC,
            PartnerKind.RESIDENTS_COMMITTEE,
            (ServeSpec(XK, PartnershipRole.RESIDENTS_COMMITTEE, since="2000-01-01"),),
        ),
        PartnerSpec(
            DS_PM,
            PartnerKind.PROPERTY_COMPANY,
            tuple(
                ServeSpec(
                    c,
                    PartnershipRole.PROPERTY_COMPANY,
                    since="2015-01-01",
                    reported_in="2020-03-02",
                    compounds=(f"{c}/{yard}",),
                )
                for c, yard in ((XK, "新康小区"), (LPK, "六铺炕一区"))
            ),
            contact="石磊",
        ),
        PartnerSpec(
            XC_HOUSING,
            PartnerKind.GOVERNMENT_DEPARTMENT,
            (ServeSpec(XK, PartnershipRole.GOVERNMENT_DEPARTMENT),),
        ),
        PartnerSpec(
            XC_LIFT,
            PartnerKind.ENTERPRISE,
            (ServeSpec(XK, PartnershipRole.CO_BUILDER, since="2016-01-01"),),
        ),
    ),
    people=(
        PersonSpec("xc-admin-1", "钱宏", ((Role.DISTRICT_ADMIN, None),)),
        PersonSpec("xc-street-1", "白雪", ((Role.STREET_OFFICER, "德胜街道"),)),
        _staff("xc-worker-1", "方敏", XK_RC, (Role.COMMUNITY_WORKER, XK)),
        PersonSpec("xc-worker-2", "任志", ((Role.COMMUNITY_WORKER, LPK),)),
        PersonSpec("xc-police-1", "于海"),
        _resident("xc-owner-1", "姚桂英", f"{XK}/新康小区/1号楼", "1957-03-03"),
        _resident("xc-resident-1", "石秀云", f"{XK}/新康小区/3号楼", "1949-08-15", alone=True),
        _resident("xc-resident-2", "侯杰", f"{LPK}/六铺炕一区/2号楼", "1987-10-21"),
        _resident("xc-resident-3", "夏雨", f"{LPK}/六铺炕一区/1号楼", "1995-06-06"),
        _staff("xc-staff-1", "石磊", DS_PM),
        _resident("xc-resident-4", "郑国栋", f"{XK}/新康小区/2号楼", "1946-01-28"),
        _staff("xc-staff-2", "唐伟", XC_HOUSING),
        _staff("xc-staff-3", "龙海", XC_LIFT),
    ),
    committees=(
        CommitteeSpec(
            XK,
            CommitteeKind.ENVIRONMENT_PROPERTY,
            "新康社区环境和物业管理委员会",
            "2020-03-01",
            (
                SeatSpec("xc-worker-1", CommitteeRole.DIRECTOR, SeatSource.RESIDENTS_COMMITTEE),
                SeatSpec("xc-police-1", CommitteeRole.DEPUTY_DIRECTOR, SeatSource.POLICE),
                _owner_seat("xc-owner-1", f"{XK}/新康小区/1号楼", "退休会计", 52),
            ),
        ),
    ),
    policies=(
        DEFAULT_POLICY,
        ELEVATOR_POLICY,
        # 西城 wants overflowing bins cleared within a day.
        PolicySpec(CaseCategory.SANITATION, resolve_hours=24),
    ),
    cases=(
        CaseSpec(
            "xinkang-garbage",
            f"{XK}/新康小区",
            CaseCategory.SANITATION,
            "3号楼旁垃圾桶满溢",
            "垃圾桶满溢两天无人清运，气味很大。",
            (
                Step(K.REPORTED, "2026-11-03 09:00", "xc-resident-1"),
                Step(K.ACCEPTED, "2026-11-03 10:00", "xc-worker-1"),
                Step(K.ASSIGNED, "2026-11-03 10:10", "xc-worker-1", target=DS_PM),
                Step(K.SIGNED_FOR, "2026-11-03 10:30", "xc-staff-1", DS_PM),
                Step(
                    K.RESOLVED, "2026-11-03 16:00", "xc-staff-1", DS_PM, note="已清运并加密清运频次"
                ),
                Step(K.CONFIRMED, "2026-11-04 08:30", "xc-resident-1", rating=5),
                Step(K.CLOSED, "2026-11-04 09:00", "xc-worker-1"),
            ),
        ),
        CaseSpec(
            "liupukang-noise",
            LPK,
            CaseCategory.NOISE,
            "夜间施工噪音",
            "小区外工地夜间施工，影响休息。",
            (
                Step(K.REPORTED, "2026-11-12 23:10", "xc-resident-2"),
                Step(
                    K.REJECTED,
                    "2026-11-13 09:00",
                    "xc-worker-2",
                    note="工地不在本社区管理范围，已告知居民拨打12345热线",
                ),
            ),
        ),
        CaseSpec(
            "liupukang-door",
            f"{LPK}/六铺炕一区/1号楼/单元门禁",
            CaseCategory.SECURITY,
            "1号楼单元门禁损坏",
            "单元门禁刷卡无反应，门一直敞开。",
            (Step(K.REPORTED, "2026-11-25 21:00", "xc-resident-3"),),
            report_key="app-c41d0e8b7a2f4e95",
        ),
        CaseSpec(
            "xinkang-lift",
            f"{XK}/新康小区/2号楼/电梯",
            CaseCategory.ELEVATOR,
            "2号楼电梯停运",
            "电梯从昨晚起停在一层不动，楼里有好几位腿脚不便的老人。",
            (
                Step(K.REPORTED, "2026-11-16 07:30", "xc-resident-4"),
                Step(K.ACCEPTED, "2026-11-16 07:50", "xc-worker-1", XK_RC),
                Step(
                    K.ASSIGNED,
                    "2026-11-16 08:00",
                    "xc-worker-1",
                    XK_RC,
                    target=DS_PM,
                    note="排查停梯原因，尽快恢复运行",
                ),
                Step(K.SIGNED_FOR, "2026-11-16 08:10", "xc-staff-1", DS_PM),
                Step(
                    K.HELPING_HAND_REQUESTED,
                    "2026-11-16 11:00",
                    "xc-worker-1",
                    XK_RC,
                    target=XC_LIFT,
                    note="故障在控制系统，德胜物业没有电梯专业维修人员",
                ),
                Step(
                    K.HELPING_HAND_DECLINED,
                    "2026-11-16 14:00",
                    "xc-staff-3",
                    XC_LIFT,
                    target=XC_LIFT,
                    note="与物业的维保合同上月到期，续签前无法派人",
                ),
                # Nobody repaired it within the elevator policy's 24 hours.
                Step(K.DEADLINE_MISSED, "2026-11-17 07:50", deadline="RESOLVE"),
                Step(
                    K.WHISTLE_BLOWN,
                    "2026-11-17 08:30",
                    "xc-worker-1",
                    XK_RC,
                    target=XC_HOUSING,
                    note="电梯停运超过处置时限，维保合同到期无人维修，请主管部门协调",
                ),
                Step(
                    K.REPORTED_IN,
                    "2026-11-17 14:00",
                    "xc-staff-2",
                    XC_HOUSING,
                    target=XC_HOUSING,
                    note="已督促物业与德胜电梯续签维保合同，电梯公司今日到场维修",
                ),
                Step(
                    K.REASSIGNED,
                    "2026-11-17 15:00",
                    "xc-worker-1",
                    XK_RC,
                    target=XC_LIFT,
                    note="更换故障部件，检测合格后恢复运行",
                    co_handlers=(CoHandler(DS_PM, "停梯期间张贴通知，协助行动不便的住户上下楼"),),
                ),
                Step(K.SIGNED_FOR, "2026-11-17 15:10", "xc-staff-3", XC_LIFT),
                Step(K.SIGNED_FOR, "2026-11-17 15:20", "xc-staff-1", DS_PM),  # its new task
                Step(
                    K.RESOLVED,
                    "2026-11-17 20:30",
                    "xc-staff-3",
                    XC_LIFT,
                    note="更换控制主板，检测合格后恢复运行",
                ),
                Step(K.CONFIRMED, "2026-11-18 09:00", "xc-resident-4", rating=3),
                Step(K.CLOSED, "2026-11-18 09:30", "xc-worker-1", XK_RC),
            ),
            priority=CasePriority.URGENT,
            channel="phone",
        ),
    ),
    notices=(
        NoticeSpec(
            XK,
            XK_RC,
            NoticeKind.ACTIVITY,
            "垃圾分类志愿服务活动",
            "本周六上午在小区广场开展垃圾分类宣传，欢迎居民报名参加志愿服务。",
            "2026-11-20 08:00",
            "2026-11-28 12:00",
        ),
    ),
)

WORLD = (HAIDIAN, XICHENG)


def _check_article_figures() -> None:
    """The figures the article states; the demo data must keep them."""
    households = sum(h for c in XIGEMA_COMPOUNDS for _b, h in c.buildings)
    companies = [
        p
        for p in HAIDIAN.partners
        if any(s.community == XGM and s.role is PartnershipRole.PROPERTY_COMPANY for s in p.serves)
    ]
    lifts = [n for _b, _h, n, _y in SHANGHE_BUILDINGS]
    old = [n for _b, _h, n, y in SHANGHE_BUILDINGS if y <= OLD_ELEVATOR_LAST_YEAR]
    figures = {
        "希格玛 compounds": (len(XIGEMA_COMPOUNDS), 9),
        "希格玛 households": (households, XIGEMA_HOUSEHOLDS),
        "希格玛 property companies": (len(companies), 11),
        "环物会 members": (len(HAIDIAN_COMMITTEES[0].seats), 9),
        "上河村 elevators": (sum(lifts), SHANGHE_ELEVATORS),
        "上河村 old elevators": (sum(old), SHANGHE_OLD_ELEVATORS),
    }
    wrong = {k: v for k, v in figures.items() if v[0] != v[1]}
    if wrong:
        raise ValueError(f"demo data no longer matches the article: {wrong}")


# --- Loading ---------------------------------------------------------------------------------


class _Place(NamedTuple):
    community_id: int
    compound_id: int | None = None
    building_id: int | None = None
    facility_id: int | None = None


@dataclass
class _Loader:
    """Writes one district's spec; remembers the ids of what it wrote, by the specs' names."""

    session: AsyncSession
    streets: dict[str, int] = field(default_factory=dict)
    places: dict[str, _Place] = field(default_factory=dict)
    partners: dict[str, int] = field(default_factory=dict)
    people: dict[str, int] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    meetings: dict[str, tuple[Meeting, list[MeetingAttendee]]] = field(default_factory=dict)
    policies: dict[CaseCategory | None, PolicySpec] = field(default_factory=dict)
    # By case key: the assignments in force; by (case key, partner): whistles, helping hands.
    assignments: dict[str, list[CaseAssignment]] = field(default_factory=dict)
    whistles: dict[tuple[str, int], CaseWhistle] = field(default_factory=dict)
    helping_hands: dict[tuple[str, int], HelpingHand] = field(default_factory=dict)
    returns: dict[str, CaseReturn] = field(default_factory=dict)  # by case key: the latest
    bindings: set[tuple[int, Role, int | None, int | None, int | None]] = field(default_factory=set)

    async def add(self, rows: Iterable[Base]) -> None:
        """Insert `rows` (stamped as onboarded unless they carry their own time) and flush."""
        rows = list(rows)
        for row in rows:
            if hasattr(row, "created_at") and row.created_at is None:
                row.created_at = ONBOARDED
        self.session.add_all(rows)
        await self.session.flush()

    def place(self, path: str, place: _Place) -> None:
        if path in self.places:
            raise ValueError(f"two places named {path!r}")
        self.places[path] = place

    def compound_id(self, path: str) -> int:
        compound_id = self.places[path].compound_id
        if compound_id is None:
            raise ValueError(f"{path!r} is not inside a compound")
        return compound_id

    def policy(self, category: CaseCategory) -> PolicySpec:
        """The district's deadlines for `category`: its own policy, else the default."""
        return self.policies.get(category) or self.policies[None]

    def person(self, login: str | None) -> int | None:
        return None if login is None else self.people[login]

    def partner(self, name: str | None) -> int | None:
        return None if name is None else self.partners[name]

    def bind(self, person_id: int, role: Role, scope: str | None) -> RoleBinding | None:
        """The role binding, unless the person already holds that role in that scope."""
        street_id = community_id = partner_id = None
        if scope is not None and role is Role.STREET_OFFICER:
            street_id = self.streets[scope]
        elif scope is not None and role is Role.PARTNER_STAFF:
            partner_id = self.partners[scope]
        elif scope is not None:
            community_id = self.places[scope].community_id
        key = (person_id, role, street_id, community_id, partner_id)
        if key in self.bindings:
            return None
        self.bindings.add(key)
        return RoleBinding(
            person_id=person_id,
            role=role,
            street_id=street_id,
            community_id=community_id,
            partner_id=partner_id,
        )


async def load_demo(db: Database) -> dict[str, bool]:
    """Load the demo world; returns {district_code: created} (False = already present, skipped)."""
    _check_article_figures()
    loaded: dict[str, bool] = {}
    for spec in WORLD:
        # One transaction per district: a district is either all there or not at all.
        async with db.platform_transaction() as session:
            _district, created = await get_or_create_district(session, spec.code, spec.name)
            if created:
                await _load_district(_Loader(session), spec)
        loaded[spec.code] = created
    return loaded


async def _load_district(w: _Loader, spec: DistrictSpec) -> None:
    await _load_places(w, spec)
    await _load_partners(w, spec)
    await _load_people(w, spec)
    await _load_committees(w, spec)
    await _load_policies(w, spec)
    await _load_cases(w, spec)
    await _load_notices(w, spec)
    await _load_webhooks(w, spec)


async def _load_places(w: _Loader, spec: DistrictSpec) -> None:
    streets = {name: Street(name=name) for name in spec.streets}
    await w.add(streets.values())
    w.streets = {name: s.id for name, s in streets.items()}

    communities = {
        c.name: Community(name=c.name, street_id=w.streets[c.street]) for c in spec.communities
    }
    await w.add(communities.values())
    for name, community in communities.items():
        w.place(name, _Place(community.id))

    compounds = {
        c.path: Compound(community_id=w.places[c.community].community_id, name=c.name)
        for c in spec.compounds
    }
    await w.add(compounds.values())
    for path, compound in compounds.items():
        w.place(path, _Place(compound.community_id, compound.id))

    buildings = {
        f"{c.path}/{name}": Building(
            community_id=compounds[c.path].community_id,
            compound_id=compounds[c.path].id,
            name=name,
            households=households,
        )
        for c in spec.compounds
        for name, households in c.buildings
    }
    await w.add(buildings.values())
    for path, b in buildings.items():
        w.place(path, _Place(b.community_id, b.compound_id, b.id))

    facilities = {
        f"{f.at}/{f.name}": Facility(
            community_id=w.places[f.at].community_id,
            compound_id=w.places[f.at].compound_id,
            building_id=w.places[f.at].building_id,
            kind=f.kind,
            name=f.name,
            install_year=f.install_year,
            description=f.description,
        )
        for f in spec.facilities
    }
    await w.add(facilities.values())
    for path, f in facilities.items():
        w.place(path, _Place(f.community_id, f.compound_id, f.building_id, f.id))


async def _load_partners(w: _Loader, spec: DistrictSpec) -> None:
    partners = {
        p.name: Partner(
            name=p.name,
            kind=p.kind,
            contact_name=p.contact,
            contact_phone=f"010-0001-{i:04d}" if p.contact else None,
        )
        for i, p in enumerate(spec.partners, start=1)
    }
    await w.add(partners.values())
    w.partners = {name: p.id for name, p in partners.items()}

    serves = [(p, s) for p in spec.partners for s in p.serves]
    await w.add(
        Partnership(
            partner_id=w.partners[p.name],
            community_id=w.places[s.community].community_id,
            role=s.role,
            is_lead=s.lead,
            since=_d(s.since) if s.since else None,
            reported_in_on=_d(s.reported_in) if s.reported_in else None,
        )
        for p, s in serves
    )
    await w.add(
        CompoundService(
            compound_id=w.compound_id(compound),
            partner_id=w.partners[p.name],
            community_id=w.places[s.community].community_id,
            since=_d(s.since) if s.since else None,
        )
        for p, s in serves
        for compound in s.compounds
    )


async def _load_people(w: _Loader, spec: DistrictSpec) -> None:
    people = {
        p.login: Person(
            name=p.name,
            login=p.login,
            phone=f"010-0000-{i:04d}",
            birth_date=_d(p.born) if p.born else None,
            lives_alone=p.lives_alone,
            home_community_id=w.places[p.home].community_id if p.home else None,
            home_building_id=w.places[p.home].building_id if p.home else None,
        )
        for i, p in enumerate(spec.people, start=1)
    }
    await w.add(people.values())
    w.people = {login: p.id for login, p in people.items()}
    bindings = (
        w.bind(w.people[p.login], role, scope) for p in spec.people for role, scope in p.roles
    )
    await w.add(b for b in bindings if b is not None)


async def _load_committees(w: _Loader, spec: DistrictSpec) -> None:
    committees = [
        (
            c,
            Committee(
                community_id=w.places[c.community].community_id,
                kind=c.kind,
                name=c.name,
                established_on=_d(c.established),
            ),
        )
        for c in spec.committees
    ]
    await w.add(row for _c, row in committees)
    # A seat makes its holder a committee member of the community (once per community).
    bindings = (
        w.bind(w.people[seat.login], Role.COMMITTEE_MEMBER, c.community)
        for c, _row in committees
        for seat in c.seats
    )
    await w.add(b for b in bindings if b is not None)
    await w.add(
        CommitteeMember(
            committee_id=row.id,
            person_id=w.people[seat.login],
            role=seat.role,
            seat_source=seat.source,
            seat_building_id=w.places[seat.building].building_id if seat.building else None,
            expertise=seat.expertise,
            # Members serve from the committee's founding; the term is still running.
            term_start=row.established_on,
            term_end=None,
            votes_received=seat.votes,
        )
        for c, row in committees
        for seat in c.seats
    )


async def _load_policies(w: _Loader, spec: DistrictSpec) -> None:
    w.policies = {p.category: p for p in spec.policies}
    if len(w.policies) != len(spec.policies) or None not in w.policies:
        raise ValueError(f"district {spec.code!r}: one default policy, one per category at most")
    await w.add(
        DeadlinePolicy(
            category=p.category,
            accept_hours=p.accept_hours,
            resolve_hours=p.resolve_hours,
            report_in_hours=p.report_in_hours,
            approaching_hours=p.approaching_hours,
            sign_for_hours=p.sign_for_hours,
        )
        for p in spec.policies
    )


# Where the workflow's services keep an event's free text, by kind (resolvers.workflow);
# the demo's histories use the same keys, so a client reads them in one way.
NOTE_KEYS = {
    K.REJECTED: "reason",
    K.WHISTLE_BLOWN: "reason",
    K.HELPING_HAND_REQUESTED: "reason",
    K.PRIORITY_CHANGED: "reason",
    K.REOPENED: "reason",
    K.DEADLINE_EXTENDED: "reason",
    K.DEADLINE_PAUSED: "reason",
    K.DEADLINE_RESUMED: "reason",
    K.REPORTED_IN: "response",
    K.HELPING_HAND_ACCEPTED: "response",
    K.HELPING_HAND_DECLINED: "response",
    K.NOTE_ADDED: "text",
    K.RESOLVED: "summary",
    K.CONFIRMED: "comment",
    K.RETURNED: "explanation",
    K.RETURN_RULED: "reason",
    K.URGENCY_CHANGED: "reason",
    K.EXCLUDED_FROM_ASSESSMENT: "explanation",
    K.EXCLUSION_REVERSED: "reason",
}
NOTES_IN_ROWS = frozenset({K.FOLLOW_UP_RECORDED})
"""Kinds whose text the service keeps in its row only, not in the event (a follow-up's
comment is `CaseFollowUp.comment`)."""


async def _load_cases(w: _Loader, spec: DistrictSpec) -> None:
    """Replay every case's script, all cases' steps together in chronological order."""
    for script in spec.cases:
        times = [step.when for step in script.steps]
        if script.steps[0].kind is not K.REPORTED or times != sorted(set(times)):
            raise ValueError(f"case {script.key!r}: script must start REPORTED, times increasing")
    # Sorting is stable, so steps at the same minute keep the order of the specs.
    timeline = sorted(
        ((script, step) for script in spec.cases for step in script.steps),
        key=lambda pair: pair[1].when,
    )
    for case_spec, step in timeline:
        if step.kind is K.REPORTED:
            case = await _open_case(w, case_spec, step)
            payload: dict[str, Any] = {"channel": case_spec.channel, "category": case.category}
        else:
            case = w.cases[case_spec.key]
            payload = await _apply_step(w, case_spec, case, step)
            # A person's step changes the case (its version counts them); the deadline
            # alerts are the system's, as the sweep appends them, and leave it alone.
            if step.kind not in (K.DEADLINE_APPROACHING, K.DEADLINE_MISSED):
                case.updated_at = step.when
        if step.note and step.kind not in NOTES_IN_ROWS:
            payload[NOTE_KEYS.get(step.kind, "note")] = step.note
        await append_event(
            w.session,
            case_id=case.id,
            kind=step.kind,
            actor_id=w.person(step.actor),
            actor_partner_id=w.partner(step.actor_partner),
            payload=payload,
            occurred_at=step.when,
        )


async def _open_case(w: _Loader, spec: CaseSpec, step: Step) -> Case:
    place = w.places[spec.where]
    case = Case(
        community_id=place.community_id,
        compound_id=place.compound_id,
        building_id=place.building_id,
        facility_id=place.facility_id,
        category=spec.category,
        title=spec.title,
        description=spec.description,
        reporter_id=w.person(step.actor),
        status=CaseStatus.REPORTED,
        priority=spec.priority,
        urgency=spec.urgency,
        external_order_no=spec.order_no,
        accept_due_at=w.policy(spec.category).due("ACCEPT", step.when),
        reopen_count=0,
        created_at=step.when,
        updated_at=step.when,
    )
    await w.add([case])
    w.cases[spec.key] = case
    if spec.report_key is not None:
        # The reporter's app sent a key, and a photo of the problem with it.
        await w.add([_report_key(spec, case, step), _photo(case, step)])
    return case


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small solid-colour PNG, built here so the demo ships no binary files."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def _photo(case: Case, step: Step) -> CasePhoto:
    data = _png(16, 12, (70, 130, 180))
    return CasePhoto(
        case_id=case.id,
        content_type="image/png",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        created_at=step.when,
    )


def _report_key(spec: CaseSpec, case: Case, step: Step) -> ReportKey:
    """The idempotency key the reporter's app sent with the report.

    `input_hash` is computed as `reportCase` fingerprints its input (the fields of
    `resolvers.workflow.reporting.Report`), so retrying the report through the API with the same
    key finds this case.
    """
    if case.reporter_id is None:
        raise ValueError(f"case {spec.key!r}: only a person's report has an idempotency key")
    report = {
        "community_id": case.community_id,
        "category": case.category.value,
        "title": case.title,
        "description": case.description,
        "compound_id": case.compound_id,
        "building_id": case.building_id,
        "facility_id": case.facility_id,
        "latitude": case.latitude,
        "longitude": case.longitude,
        "priority": case.priority.value,
        "on_behalf_of_id": None,
    }
    raw = json.dumps(report, sort_keys=True, ensure_ascii=False)
    return ReportKey(
        subject=f"person:{case.reporter_id}",
        key=spec.report_key,
        input_hash=hashlib.sha256(raw.encode()).hexdigest(),
        case_id=case.id,
        created_at=step.when,
    )


async def _apply_step(w: _Loader, spec: CaseSpec, row: Case, step: Step) -> dict[str, Any]:
    """Change `row` as `step` does; return the event's payload (without the note)."""
    at = step.when
    match step.kind:
        case K.ACCEPTED:
            due = w.policy(spec.category).resolve_due(at, row.urgency)
            row.status, row.accepted_at, row.resolve_due_at = CaseStatus.ACCEPTED, at, due
            return {"resolve_due_at": due.isoformat()}
        case K.ASSIGNED | K.REASSIGNED:
            return await _assign(w, spec, row, step)
        case K.REJECTED:
            row.status, row.closed_at = CaseStatus.REJECTED, at
            return {}
        case K.MARKED_DUPLICATE:
            original = w.cases[step.duplicate_of or ""]
            row.status, row.closed_at = CaseStatus.DUPLICATE, at
            row.duplicate_of_id = original.id
            return {"duplicate_of_id": original.id}
        case K.WHISTLE_BLOWN:
            return await _blow_whistle(w, spec, row, step)
        case K.REPORTED_IN:
            whistle = w.whistles[spec.key, _target(w, spec, step)]
            whistle.reported_in_at, whistle.response = at, step.note
            whistle.reported_in_by_id = w.person(step.actor)
            return _whistle_ids(whistle)
        case K.DEADLINE_APPROACHING | K.DEADLINE_MISSED:
            return await _alert(w, spec, row, step)
        case K.HELPING_HAND_REQUESTED:
            return await _ask_for_help(w, spec, row, step)
        case K.HELPING_HAND_ACCEPTED | K.HELPING_HAND_DECLINED:
            hand = w.helping_hands[spec.key, _target(w, spec, step)]
            hand.status = HelpingHandStatus(step.kind.removeprefix("HELPING_HAND_"))
            hand.responded_at, hand.response = at, step.note
            return _helping_hand_ids(hand)
        case K.FEE_WAIVED:
            row.fee_waived, row.fee_waiver_reason = True, step.note
            return {}
        case K.RESOLVED:
            row.status, row.resolved_at = CaseStatus.RESOLVED, at
            return {}
        case K.REOPENED:
            # As the workflow reopens: a fresh deadline to resolve, the conclusion forgotten.
            reopened = CaseStatus.ASSIGNED if row.assigned_partner_id else CaseStatus.ACCEPTED
            row.status, row.reopen_count = reopened, row.reopen_count + 1
            row.resolved_at = row.confirmed_at = row.closed_at = row.satisfaction = None
            row.resolve_due_at = w.policy(spec.category).resolve_due(at, row.urgency)
            return {
                "status": reopened,
                "reopen_count": row.reopen_count,
                "resolve_due_at": row.resolve_due_at.isoformat(),
            }
        case K.CONFIRMED:
            row.status, row.satisfaction = CaseStatus.CONFIRMED, step.rating
            row.confirmed_at = at
            return {"rating": step.rating}
        case K.CLOSED:
            row.status, row.closed_at = CaseStatus.CLOSED, at
            return {}
        case K.MEETING_SCHEDULED:
            return await _schedule_meeting(w, spec, row, step)
        case K.MEETING_HELD:
            return _hold_meeting(w, spec)
        case K.NOTE_ADDED:
            return {"internal": False}
        case K.SIGNED_FOR:
            return await _sign_for(w, spec, row, step)
        case K.RETURNED:
            return await _return(w, spec, row, step)
        case K.RETURN_ESCALATED:
            ret = _pending_return(w, spec, step)
            if ret.escalated_at is not None:
                raise ValueError(f"case {spec.key!r}: its return is before the district already")
            ret.escalated_at, ret.escalation_note = at, _reason(spec, step)
            ret.escalated_by_id = w.person(step.actor)
            return {"return_id": ret.id, "partner_id": ret.partner_id}
        case K.RETURN_RULED:
            return _rule_on_return(w, spec, row, step)
        case K.URGENCY_CHANGED:
            return _set_urgency(w, spec, row, step)
        case K.FOLLOW_UP_RECORDED:
            return await _follow_up(w, spec, row, step)
        case K.EXCLUDED_FROM_ASSESSMENT:
            if step.exclusion is None or row.excluded_at is not None:
                raise ValueError(f"case {spec.key!r}: an exclusion needs a reason, once")
            row.excluded_at, row.exclusion_reason = at, step.exclusion
            return {"reason": step.exclusion.value}
        case K.EXCLUSION_REVERSED:
            if row.excluded_at is None or row.exclusion_reason is None:
                raise ValueError(f"case {spec.key!r}: reverses an exclusion it does not have")
            payload = {
                "excluded_at": row.excluded_at.isoformat(),
                "exclusion_reason": row.exclusion_reason.value,
            }
            row.excluded_at = row.exclusion_reason = None
            return payload
    raise ValueError(f"case {spec.key!r}: the demo does not script {step.kind}")


def _target(w: _Loader, spec: CaseSpec, step: Step) -> int:
    """The partner the step acts upon: the assignee, the department or the helper."""
    if step.target is None:
        raise ValueError(f"case {spec.key!r}: {step.kind} at {step.at} needs a target partner")
    return w.partners[step.target]


def _reason(spec: CaseSpec, step: Step) -> str:
    if step.note is None:
        raise ValueError(f"case {spec.key!r}: {step.kind} at {step.at} needs a note (the reason)")
    return step.note


async def _assign(w: _Loader, spec: CaseSpec, row: Case, step: Step) -> dict[str, Any]:
    """Hand the case to the step's target as lead (主办), with the step's co-handlers (协办),
    each to sign for it (签收) within the policy's hours.

    A reassignment first ends the assignments in force; the case names the lead. Re-dispatching
    a RETURNED case (a REASSIGNED step) settles its return: one still pending is accepted
    (REDISPATCHED), one the district upheld is settled.
    """
    lead = _target(w, spec, step)
    sign_for_due = w.policy(spec.category).due("SIGN_FOR", step.when)
    settled = None
    if row.status is CaseStatus.RETURNED:
        settled = w.returns[spec.key]
        if settled.outcome is ReturnOutcome.PENDING:
            settled.outcome = ReturnOutcome.REDISPATCHED
        settled.settled_at = step.when
    ended = w.assignments.pop(spec.key, [])
    if (step.kind is K.REASSIGNED) != bool(ended):
        raise ValueError(f"case {spec.key!r}: REASSIGNED, and only it, follows an assignment")
    for old in ended:
        old.ended_at = step.when
    handlers = [
        (lead, AssignmentRole.LEAD, step.note, None),
        *(
            (w.partners[c.partner], AssignmentRole.CO_HANDLER, c.task, _t(c.due) if c.due else None)
            for c in step.co_handlers
        ),
    ]
    if any(due is not None and due <= step.when for *_h, due in handlers):
        raise ValueError(f"case {spec.key!r}: a co-handler's deadline must follow {step.at}")
    rows = [
        CaseAssignment(
            case_id=row.id,
            partner_id=partner,
            role=role,
            task=task,
            due_at=due,
            assigned_by_id=w.person(step.actor),
            assigned_at=step.when,
            sign_for_due_at=sign_for_due,
        )
        for partner, role, task, due in handlers
    ]
    await w.add(rows)  # one flush: the ended lead is updated before the new one is inserted
    w.assignments[spec.key] = rows
    row.status, row.assigned_at, row.assigned_partner_id = CaseStatus.ASSIGNED, step.when, lead
    row.sign_for_due_at = sign_for_due
    payload: dict[str, Any] = {
        "partner_id": lead,
        "assignment_id": rows[0].id,
        "co_handlers": [
            {"partner_id": r.partner_id, "assignment_id": r.id, "task": r.task} for r in rows[1:]
        ],
        "sign_for_due_at": sign_for_due.isoformat(),
        "return_id": settled.id if settled else None,
    }
    if ended:
        payload["previous_partner_id"] = ended[0].partner_id
    return payload


async def _blow_whistle(w: _Loader, spec: CaseSpec, row: Case, step: Step) -> dict[str, Any]:
    """Call a department in (吹哨); it must report in (报到) within the policy's hours."""
    department = _target(w, spec, step)
    whistle = CaseWhistle(
        case_id=row.id,
        department_id=department,
        reason=_reason(spec, step),
        blown_by_id=w.person(step.actor),
        blown_at=step.when,
        report_in_due_at=w.policy(spec.category).due("REPORT_IN", step.when),
    )
    await w.add([whistle])
    w.whistles[spec.key, department] = whistle
    return _whistle_ids(whistle)


def _whistle_ids(whistle: CaseWhistle) -> dict[str, Any]:
    return {
        "whistle_id": whistle.id,
        "department_id": whistle.department_id,
        "department_partner_id": whistle.department_id,  # the earlier name, as synthetic.py has
        "report_in_due_at": whistle.report_in_due_at.isoformat(),
    }


async def _ask_for_help(w: _Loader, spec: CaseSpec, row: Case, step: Step) -> dict[str, Any]:
    """Ask a stronger partner to send help (大手拉小手); its answer is a later step."""
    helper = _target(w, spec, step)
    hand = HelpingHand(
        case_id=row.id,
        helper_id=helper,
        requested_by_id=w.person(step.actor),
        reason=_reason(spec, step),
        status=HelpingHandStatus.REQUESTED,
        requested_at=step.when,
    )
    await w.add([hand])
    w.helping_hands[spec.key, helper] = hand
    return _helping_hand_ids(hand)


def _helping_hand_ids(hand: HelpingHand) -> dict[str, Any]:
    return {
        "helping_hand_id": hand.id,
        "helper_id": hand.helper_id,
        "helper_partner_id": hand.helper_id,  # the earlier name
    }


async def _alert(w: _Loader, spec: CaseSpec, row: Case, step: Step) -> dict[str, Any]:
    """A deadline approaching or missed, recorded once as the sweep would (`DeadlineAlert`)."""
    payload: dict[str, Any] = {"deadline": step.deadline}
    missed = step.kind is K.DEADLINE_MISSED
    if step.deadline == "REPORT_IN":
        whistle = w.whistles[spec.key, _target(w, spec, step)]
        due: dt.datetime | None = whistle.report_in_due_at
        payload.update(_whistle_ids(whistle))
    elif step.deadline == "SIGN_FOR":
        # Only missed: the sweep gives a sign-for no warning.
        due = row.sign_for_due_at if missed else None
    else:
        due = row.accept_due_at if step.deadline == "ACCEPT" else row.resolve_due_at
    if step.deadline is None or due is None or missed != (step.when >= due):
        raise ValueError(f"case {spec.key!r}: {step.kind} at {step.at} names no such deadline")
    if step.deadline == "SIGN_FOR":
        # The partners that had not signed for it by then, as the sweep names them.
        payload["partner_ids"] = [
            a.partner_id
            for a in w.assignments[spec.key]
            if a.signed_for_at is None and a.sign_for_due_at and a.sign_for_due_at <= due
        ]
    alert = step.kind.removeprefix("DEADLINE_")
    await w.add(
        [
            DeadlineAlert(
                case_id=row.id,
                deadline=step.deadline,
                alert=alert,
                due_at=due,
                created_at=step.when,
            )
        ]
    )
    return {**payload, "due_at": due.isoformat()}


def _in_force(w: _Loader, spec: CaseSpec, partner: int) -> CaseAssignment:
    """The partner's assignment in force on the case: its lead's, else its co-handler's."""
    rows = [a for a in w.assignments.get(spec.key, []) if a.partner_id == partner]
    if not rows:
        raise ValueError(f"case {spec.key!r}: partner {partner} is not dispatched to it")
    return min(rows, key=lambda a: a.role is not AssignmentRole.LEAD)


async def _sign_for(w: _Loader, spec: CaseSpec, row: Case, step: Step) -> dict[str, Any]:
    """The actor's partner signs for its order (签收): the lead for the case, a co-handler for
    its task. The case keeps the earliest sign-for deadline still open, if any."""
    if step.actor_partner is None:
        raise ValueError(f"case {spec.key!r}: SIGNED_FOR at {step.at} names no partner")
    assignment = _in_force(w, spec, w.partners[step.actor_partner])
    if assignment.signed_for_at is not None:
        raise ValueError(f"case {spec.key!r}: {step.actor_partner} signed for it already")
    assignment.signed_for_at, assignment.signed_for_by_id = step.when, w.person(step.actor)
    row.sign_for_due_at = min(
        (
            a.sign_for_due_at
            for a in w.assignments[spec.key]
            if a.signed_for_at is None and a.sign_for_due_at is not None
        ),
        default=None,
    )
    due = assignment.sign_for_due_at
    return {
        "assignment_id": assignment.id,
        "partner_id": assignment.partner_id,
        "role": str(assignment.role),
        "sign_for_due_at": due.isoformat() if due else None,
        "on_time": due is None or step.when <= due,
    }


async def _return(w: _Loader, spec: CaseSpec, row: Case, step: Step) -> dict[str, Any]:
    """The lead returns the case (退单); it stays the lead's until re-dispatched or ruled on."""
    partner = w.partner(step.actor_partner)
    if step.return_reason is None or partner is None or partner != row.assigned_partner_id:
        raise ValueError(f"case {spec.key!r}: only its lead returns it, with a reason")
    ret = CaseReturn(
        case_id=row.id,
        partner_id=partner,
        reason=step.return_reason,
        explanation=_reason(spec, step),
        returned_by_id=w.person(step.actor),
        returned_at=step.when,
        outcome=ReturnOutcome.PENDING,
    )
    await w.add([ret])
    w.returns[spec.key] = ret
    row.status = CaseStatus.RETURNED
    return {"return_id": ret.id, "partner_id": partner, "reason": step.return_reason.value}


def _pending_return(w: _Loader, spec: CaseSpec, step: Step) -> CaseReturn:
    ret = w.returns.get(spec.key)
    if ret is None or ret.outcome is not ReturnOutcome.PENDING:
        raise ValueError(f"case {spec.key!r}: {step.kind} at {step.at} needs a pending return")
    return ret


def _rule_on_return(w: _Loader, spec: CaseSpec, row: Case, step: Step) -> dict[str, Any]:
    """The district rules on a disputed return (审定): upheld, the case waits for re-dispatch;
    refused, it goes back to the partner (ASSIGNED) and the return counts against it."""
    ret = _pending_return(w, spec, step)
    if step.upheld is None or ret.escalated_at is None:
        raise ValueError(f"case {spec.key!r}: a ruling says upheld or not, on a disputed return")
    ret.ruled_at, ret.ruled_by_id = step.when, w.person(step.actor)
    ret.ruling_reason = _reason(spec, step)
    if step.upheld:
        ret.outcome = ReturnOutcome.UPHELD
    else:
        ret.outcome, ret.settled_at = ReturnOutcome.REFUSED, step.when
        row.status = CaseStatus.ASSIGNED
    return {"return_id": ret.id, "partner_id": ret.partner_id, "upheld": step.upheld}


def _set_urgency(w: _Loader, spec: CaseSpec, row: Case, step: Step) -> dict[str, Any]:
    """A new urgency tier; an accepted case's deadline to resolve follows it (counted from the
    acceptance) unless the district set one for the category."""
    if step.urgency is None or step.urgency is row.urgency:
        raise ValueError(f"case {spec.key!r}: URGENCY_CHANGED at {step.at} needs a new tier")
    before, row.urgency = row.urgency, step.urgency
    policy = w.policy(spec.category)
    moved = None
    if row.accepted_at is not None and policy.category is None:
        row.resolve_due_at = policy.resolve_due(row.accepted_at, row.urgency)
        moved = row.resolve_due_at.isoformat()
    return {"from": before.value, "to": row.urgency.value, "resolve_due_at": moved}


async def _follow_up(w: _Loader, spec: CaseSpec, row: Case, step: Step) -> dict[str, Any]:
    """A follow-up with the reporter (回访); the demo's never reopen the case."""
    answer = step.follow_up
    if answer is None:
        raise ValueError(f"case {spec.key!r}: FOLLOW_UP_RECORDED at {step.at} needs its answers")
    answered = (answer.resolved is not None, answer.satisfaction is not None)
    if answered != (answer.reached, answer.reached):
        raise ValueError(f"case {spec.key!r}: a follow-up has answers if and only if reached")
    if row.status not in (CaseStatus.RESOLVED, CaseStatus.CONFIRMED, CaseStatus.CLOSED):
        raise ValueError(f"case {spec.key!r}: follow-ups come after the resolution")
    follow_up = CaseFollowUp(
        case_id=row.id,
        channel=answer.channel,
        reached=answer.reached,
        resolved=answer.resolved,
        satisfaction=answer.satisfaction,
        comment=step.note,
        recorded_by_id=w.person(step.actor),
        recorded_at=step.when,
    )
    await w.add([follow_up])
    return {
        "follow_up_id": follow_up.id,
        "channel": answer.channel.value,
        "reached": answer.reached,
        "resolved": answer.resolved,
        "satisfaction": answer.satisfaction.value if answer.satisfaction else None,
        "reopened": False,
    }


async def _schedule_meeting(w: _Loader, spec: CaseSpec, case: Case, step: Step) -> dict[str, Any]:
    """Convene the case's coordination meeting and invite its attendees."""
    if spec.meeting is None:
        raise ValueError(f"case {spec.key!r} schedules a meeting it does not describe")
    meeting = Meeting(
        community_id=case.community_id,
        title=spec.meeting.title,
        location=spec.meeting.location,
        scheduled_at=_t(spec.meeting.scheduled_at),
        status=MeetingStatus.SCHEDULED,
        created_at=step.when,
    )
    await w.add([meeting])
    attendees = [
        MeetingAttendee(meeting_id=meeting.id, partner_id=w.partner(p), person_id=w.person(who))
        for p, who, _attended in spec.meeting.attendees
    ]
    await w.add([MeetingCase(meeting_id=meeting.id, case_id=case.id), *attendees])
    w.meetings[spec.key] = (meeting, attendees)
    return {"meeting_id": meeting.id, "scheduled_at": meeting.scheduled_at.isoformat()}


def _hold_meeting(w: _Loader, spec: CaseSpec) -> dict[str, Any]:
    """Record that the meeting took place: who came, the outcome, and its decisions."""
    assert spec.meeting is not None  # _schedule_meeting checked it
    meeting, attendees = w.meetings[spec.key]
    meeting.status = MeetingStatus.HELD
    meeting.outcome = spec.meeting.outcome
    meeting.decisions = [
        {"text": text, "responsible_partner_id": w.partners[partner]}
        for text, partner in spec.meeting.decisions
    ]
    for row, (_p, _who, attended) in zip(attendees, spec.meeting.attendees, strict=True):
        row.attended = attended
    return {
        "meeting_id": meeting.id,
        "outcome": meeting.outcome,
        "decisions": len(meeting.decisions),
    }


async def _load_notices(w: _Loader, spec: DistrictSpec) -> None:
    await w.add(
        Notice(
            community_id=w.places[n.where].community_id,
            building_id=w.places[n.where].building_id,
            author_partner_id=w.partners[n.author],
            kind=n.kind,
            title=n.title,
            body=n.body,
            valid_from=_t(n.valid_from),
            valid_until=_t(n.valid_until) if n.valid_until else None,
            created_at=_t(n.valid_from),
        )
        for n in spec.notices
    )


async def _load_webhooks(w: _Loader, spec: DistrictSpec) -> None:
    """One endpoint of the district's first property company, switched off until someone
    points it at a receiver (`updateWebhookEndpoint(input: {url, enabled: true})`). It
    receives events from the end of the demo's history on; its secret is made here."""
    company = next(p for p in spec.partners if p.kind is PartnerKind.PROPERTY_COMPANY)
    head = await w.session.scalar(
        select(DistrictCounter.last_event_seq).where(
            DistrictCounter.district_id == current_district(w.session)
        )
    )
    await w.add(
        [
            WebhookEndpoint(
                owner_partner_id=w.partners[company.name],
                url="https://workorders.example/gongzhi",
                description=f"{company.name}的工单系统（演示，未启用）",
                secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
                enabled=False,
                disabled_at=ONBOARDED,
                disabled_reason="demo endpoint: set its url and enable it",
                last_seq=int(head or 0),
            )
        ]
    )
