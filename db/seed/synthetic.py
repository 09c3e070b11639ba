"""Synthetic data sets: many districts, thousands of communities, a million cases, fast.

`load_synthetic` adds new districts (`syn-001`, `syn-002`, ...: the next free codes, so running
it again adds more and never touches what is there) and fills each with a plausible world:
streets, communities, compounds, buildings with households, facilities (elevators with their
install year, smart bike sheds, boilers...), partners (property companies per street, a
government department or two, a Party organisation leading most communities, co-builders),
partnerships, which property company serves which compound, community workers, residents,
deadline policies, and a year of cases with their histories. The cases feed statistics (time
to accept and resolve, missed deadlines, whistles and overdue report-ins, helping hands,
satisfaction, reopen rate), so their timestamps, deadlines, statuses, events and workflow rows
(assignments, whistles, helping hands) agree with each other and with what the workflow's
services (`resolvers.workflow`) write: the same transitions, payloads and deadlines.
Not drawn: meetings, notes, deadline pauses and extensions, photos, committees, notices, and
the deadline sweep's alerts (the running server's sweep adds those of the open cases).

How it is fast (bench/README.md has the measurements and where the time goes):
- Rows are plain tuples built in tight loops and sent with binary COPY
  (`copy_records_to_table`); ids are reserved from the identity sequences beforehand, so every
  reference is computed in Python.
- Three tasks share the event loop: one draws districts and two load them, each on its own
  connection and in its own transaction. The server works on two districts while Python draws
  the next. The drawing pauses every few milliseconds, and the loaders' sockets may queue a
  few MB, so that the server always has rows to work on.
- Timestamps are ints (seconds since 2000-01-01 UTC, PostgreSQL's epoch) with a tuple codec on
  the seeding connections: asyncpg encodes a `datetime` about ten times slower than an int.
- Events go into one bucket per day as they are drawn, so numbering a district's events in
  time order (`seq` 1..N, without gaps) only sorts small buckets.
- The cyclic garbage collector is off while loading (it is process-wide): millions of new
  tuples would set it off again and again.
- Foreign keys are checked by per-row triggers, which on this data cost several times the COPY
  itself. When the owner may set `session_replication_role` (a superuser, as the embedded
  server's `postgres`), a district is copied with those triggers off and all foreign keys of
  its rows are then checked in the same transaction, one query per table with a hash join per
  constraint: the same guarantee, set-based. Constraints are never dropped; CHECK, NOT NULL
  and unique constraints stay on throughout.

Row-level security is forced on tenant tables, and PostgreSQL refuses `COPY FROM` into a table
whose policies apply to the current role: an owner that is neither superuser nor BYPASSRLS
copies into a temporary table and moves the rows with `INSERT ... SELECT` under
`app.district_id`, which every district's transaction sets anyway.

A district is loaded in one transaction, so a failure leaves no half district behind (the
districts loaded before it stay). Ids are reserved with `setval(nextval() + n - 1)`: run this
against a database that nobody else writes to at the same moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import gc
import itertools
import json
import math
import random
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, ClassVar, Final, Protocol, TypeVar

import asyncpg
from tqdm import tqdm

from db.models import Base
from db.models.enums import (
    AssignmentRole,
    CaseCategory,
    CaseEventKind,
    CasePriority,
    CaseStatus,
    FacilityKind,
    HelpingHandStatus,
    PartnerKind,
    PartnershipRole,
    Role,
)
from db.session import async_url
from db.tenancy import set_district_sql

T = TypeVar("T")
Row = tuple[Any, ...]

LOADERS: Final = 2  # connections loading districts side by side
SEND_BUFFER: Final = 4 << 20  # bytes of COPY data the kernel may hold for the server

# --- time ----------------------------------------------------------------------------------
# Every timestamp on the seeding connections is an int: seconds since PostgreSQL's epoch.
PG_EPOCH: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
PG_EPOCH_UNIX: Final = 946_684_800
MINUTE: Final = 60
HOUR: Final = 3600
DAY: Final = 86_400
LOCAL_OFFSET: Final = 8 * HOUR  # China Standard Time: the hours of the day are local hours
HISTORY_DAYS: Final = 365
NEVER: Final = 2**62  # a time that never comes


def _now_seconds() -> int:
    return int(time.time()) - PG_EPOCH_UNIX


def _iso(seconds: int) -> str:
    """`seconds` as `datetime.isoformat` writes it in UTC, three times faster (payloads)."""
    day, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    return f"{_date_text(day)}T{hours:02d}:{minutes:02d}:{rest:02d}+00:00"


@functools.cache
def _date_text(day: int) -> str:
    return (PG_EPOCH + dt.timedelta(days=day)).date().isoformat()


def _encode_timestamp(seconds: int) -> tuple[int]:
    return (seconds * 1_000_000,)


def _decode_timestamp(value: tuple[int]) -> int:
    return value[0] // 1_000_000


# --- sampling ------------------------------------------------------------------------------
# Weighted draws go through lookup tables: `table[int(random() * len(table))]` costs a tenth
# of `random.choices` in the hot loop.
TABLE_SIZE: Final = 1024


def _weighted_table(weights: Iterable[tuple[T, float]], size: int = TABLE_SIZE) -> list[T]:
    """A list in which each value fills a share of the slots proportional to its weight."""
    pairs = [(value, weight) for value, weight in weights if weight > 0]
    total = sum(weight for _, weight in pairs)
    table: list[T] = []
    running = 0.0
    for value, weight in pairs:
        running += weight
        table.extend([value] * (round(running / total * size) - len(table)))
    return table


def _lognormal_table(sigma: float) -> list[float]:
    """Quantiles of a lognormal distribution with median 1 (multiply by the median wanted)."""
    normal = statistics.NormalDist()
    return [math.exp(sigma * normal.inv_cdf((i + 0.5) / TABLE_SIZE)) for i in range(TABLE_SIZE)]


SPREAD_WIDE: Final = _lognormal_table(1.0)  # waiting times: a few take ten times the median
SPREAD_WORK: Final = _lognormal_table(0.9)  # work durations
SPREAD_MILD: Final = _lognormal_table(0.35)  # how troubled and how quick communities are


def _shares(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """`total` split in proportion to `weights`, each share at least `minimum`, summing to
    `total` exactly (largest remainders round up)."""
    rest = total - minimum * len(weights)
    exact = [rest * w / sum(weights) for w in weights]
    shares = [minimum + int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: int(exact[i]) - exact[i])
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _suffixed(stems: Sequence[str], index: int, tail: str) -> str:
    """A name unique per index: the stems, then the stems again with a number, and so on."""
    lap = index // len(stems)
    return f"{stems[index % len(stems)]}{lap + 1 if lap else ''}{tail}"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _payload(**values: Any) -> str:
    return json.dumps(values, ensure_ascii=False)


# --- vocabulary ----------------------------------------------------------------------------
STREET_STEMS: Final = _words(
    "中关村 曙光 海淀 万寿路 永定路 羊坊店 甘家口 八里庄 北太平庄 北下关 紫竹院 花园路 "
    "学院路 清河 田村路 四季青 青龙桥 香山 西三旗 马连洼 燕园 清华园 上地 温泉 苏家坨"
)
COMMUNITY_STEMS: Final = _words(
    "希格玛 上河村 知春里 双榆树 保福寺 科育 黄庄 稻香园 芙蓉里 碧水云天 锦秋家园 世纪城 "
    "万泉河 蓝靛厂 火器营 西钓鱼台 玉渊潭 增光路 航天 五棵松 太平路 翠微 车道沟 巨山 西山 "
    "当代城 新街 友谊 和平里 安宁庄 育新 枫丹丽舍 东升园 百旺 永泰 清缘里 知春东里"
)
BRANDS: Final = _words(
    "首开 万科 保利 碧桂园 绿城 金地 中海 龙湖 华润 招商 鑫兆雍 天岳恒 京城 燕侨 嘉诚"
)
DEPARTMENTS: Final = (
    "区住房和城乡建设委员会",
    "区房屋管理局",
    "区城市管理委员会",
    "区市场监督管理局",
    "区水务局",
)
CO_BUILDERS: Final = ("社区卫生服务中心", "中心小学", "供电所", "银行支行", "志愿者协会")
SURNAMES: Final = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈"
GIVEN: Final = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国淑珍玉德福春梅志红"


@dataclass(frozen=True, slots=True)
class _Priority:
    """How fast a case of a priority moves (its deadlines come from the district's policy)."""

    value: CasePriority
    accept_median: float  # typical time to accept
    pace: float  # factor on the category's typical time to resolve


LOW: Final = _Priority(CasePriority.LOW, 10 * HOUR, 1.5)
NORMAL: Final = _Priority(CasePriority.NORMAL, 5 * HOUR, 1.0)
HIGH: Final = _Priority(CasePriority.HIGH, 1.5 * HOUR, 0.6)
URGENT: Final = _Priority(CasePriority.URGENT, 0.4 * HOUR, 0.3)
USUAL_MIX: Final = (12.0, 68.0, 16.0, 4.0)  # weights of LOW, NORMAL, HIGH, URGENT
PRESSING_MIX: Final = (5.0, 55.0, 28.0, 12.0)  # when things break: elevators, heating...


PolicyHours = tuple[int, int, int, int]
DEFAULT_POLICY: Final[PolicyHours] = (24, 72, 48, 4)  # as the workflow's DEFAULT_POLICY


def _months(factor: float, months: Iterable[int]) -> dict[int, float]:
    return dict.fromkeys(months, factor)


@dataclass(slots=True, eq=False, repr=False)
class _Category:
    """What is typical of the cases of one category."""

    value: CaseCategory
    weight: float  # share of all cases
    resolve_hours: float  # typical time to resolve, for a NORMAL case and an average partner
    titles: tuple[str, ...]
    mix: tuple[float, float, float, float] = USUAL_MIX
    facilities: tuple[FacilityKind, ...] = ()  # what a case may be about
    facility_chance: float = 0.0  # how often it names one
    whistle_chance: float = 0.03
    # The synthetic districts' deadline policy for the category: hours to accept, to
    # resolve, to report in, and the warning ahead; None: the district's default.
    policy: PolicyHours | None = None
    seasons: dict[int, float] = field(default_factory=dict)  # month -> factor on `weight`
    priorities: list[_Priority] = field(init=False)

    def __post_init__(self) -> None:
        self.priorities = _weighted_table(zip((LOW, NORMAL, HIGH, URGENT), self.mix, strict=True))


CATEGORIES: Final = (
    _Category(CaseCategory.PROPERTY_SERVICE, 14, 30,
              ("物业服务态度差", "物业费收支不透明", "保安不在岗")),
    _Category(CaseCategory.SANITATION, 14, 12,
              ("垃圾堆积未清运", "楼道卫生差", "垃圾分类桶满溢", "小区有异味"),
              seasons=_months(1.3, range(6, 10))),
    _Category(CaseCategory.FACILITY_REPAIR, 14, 30,
              ("楼道灯不亮", "单元门损坏", "二次供水水压低", "消防设施损坏"),
              facilities=(FacilityKind.LIGHTING, FacilityKind.WATER_SUPPLY,
                          FacilityKind.FIRE_SAFETY),
              facility_chance=0.6),
    _Category(CaseCategory.PARKING, 11, 48,
              ("车位被占用", "电动车充电难", "自行车棚损坏", "消防通道停车"),
              facilities=(FacilityKind.BIKE_SHED, FacilityKind.EV_CHARGER),
              facility_chance=0.5, whistle_chance=0.08, policy=(24, 120, 48, 8)),
    _Category(CaseCategory.ELEVATOR, 9, 10,
              ("电梯故障停运", "电梯运行异响", "电梯困人", "电梯门无法关闭"), PRESSING_MIX,
              facilities=(FacilityKind.ELEVATOR,), facility_chance=1.0, policy=(4, 24, 24, 2)),
    _Category(CaseCategory.NOISE, 8, 24, ("夜间施工噪音", "广场舞噪音扰民", "装修噪音"),
              whistle_chance=0.08),
    _Category(CaseCategory.DRAINAGE, 7, 16, ("下水道堵塞", "雨水井积水", "污水外溢"),
              PRESSING_MIX, facilities=(FacilityKind.DRAINAGE,), facility_chance=0.7,
              whistle_chance=0.06, policy=(8, 48, 24, 4),
              seasons=_months(2.2, (6, 7, 8)) | _months(0.8, (1, 2, 3, 4, 5, 9, 10, 11, 12))),
    _Category(CaseCategory.HEATING, 7, 20, ("暖气不热", "暖气管道漏水", "供暖温度不达标"),
              PRESSING_MIX, facilities=(FacilityKind.BOILER,), facility_chance=0.8,
              policy=(8, 48, 24, 4),
              seasons=(_months(3.0, (11, 12, 1, 2, 3)) | _months(0.6, (4, 10))
                       | _months(0.05, range(5, 10)))),
    _Category(CaseCategory.GREENING, 5, 72, ("树木遮挡采光", "绿地被毁", "枯树枝需修剪"),
              policy=(48, 168, 48, 12),
              seasons=_months(1.5, range(4, 10)) | _months(0.5, (1, 2, 3, 10, 11, 12))),
    _Category(CaseCategory.SECURITY, 5, 24, ("单元门禁损坏", "监控摄像头失灵", "陌生人进入小区"),
              PRESSING_MIX, facilities=(FacilityKind.DOOR_ACCESS,), facility_chance=0.6,
              whistle_chance=0.08),
    _Category(CaseCategory.MAINTENANCE_FUND, 1, 60 * 24,
              ("申请公共维修基金更换老旧电梯", "申请维修基金修缮屋顶防水",
               "申请维修基金改造外墙保温"),
              (30.0, 60.0, 10.0, 0.0), whistle_chance=0.5, policy=(72, 90 * 24, 72, 24)),
    _Category(CaseCategory.OTHER, 5, 36, ("邻里纠纷", "咨询办事流程", "其他问题")),
)  # fmt: skip
ELEVATOR: Final = next(c for c in CATEGORIES if c.value is CaseCategory.ELEVATOR)
FACILITY_REPAIR: Final = next(c for c in CATEGORIES if c.value is CaseCategory.FACILITY_REPAIR)

# A step of a case's life: the event it writes and the status it leaves (None: unchanged).
# Enum members are bound here once: looking one up on its class costs ~130 ns, and the
# loop does it millions of times.
Step = tuple[CaseEventKind, CaseStatus | None]
_E, _S = CaseEventKind, CaseStatus
REPORT: Final[Step] = (_E.REPORTED, _S.REPORTED)
ACCEPT: Final[Step] = (_E.ACCEPTED, _S.ACCEPTED)
REJECT: Final[Step] = (_E.REJECTED, _S.REJECTED)
MARK_DUPLICATE: Final[Step] = (_E.MARKED_DUPLICATE, _S.DUPLICATE)
ASSIGN: Final[Step] = (_E.ASSIGNED, _S.ASSIGNED)
ASK_HELP: Final[Step] = (_E.HELPING_HAND_REQUESTED, None)
GIVE_HELP: Final[Step] = (_E.HELPING_HAND_ACCEPTED, None)
BLOW_WHISTLE: Final[Step] = (_E.WHISTLE_BLOWN, None)
REPORT_IN: Final[Step] = (_E.REPORTED_IN, None)
RESOLVE: Final[Step] = (_E.RESOLVED, _S.RESOLVED)
CONFIRM: Final[Step] = (_E.CONFIRMED, _S.CONFIRMED)
REOPEN: Final[Step] = (_E.REOPENED, _S.ASSIGNED)  # back to the partner it was assigned to
CLOSE: Final[Step] = (_E.CLOSED, _S.CLOSED)

ASSIGN_MEDIAN: Final = 40 * MINUTE
REPORT_IN_MEDIAN: Final = 14 * HOUR
HELP_MEDIAN: Final = 3 * HOUR
CONFIRM_MEDIAN: Final = 16 * HOUR
CLOSE_MEDIAN: Final = 3 * HOUR
AUTO_CLOSE_AFTER: Final = 7 * DAY

# Heard by a worker in conversation and reported on the resident's behalf.
P_WORKER_REPORT: Final = 0.05
P_REJECT: Final = 0.03
P_DUPLICATE: Final = 0.02
P_HELP: Final = 0.02
P_HELP_SLOW_PARTNER: Final = 0.1  # a partner with slowness above SLOW asks more often
SLOW: Final = 1.3
P_WHISTLE_LATE_EXTRA: Final = 0.15
P_NO_REPORT_IN: Final = 0.05  # the department never reports in
P_REOPEN: Final = 0.03  # times the partner's slowness
P_CONFIRM: Final = 0.82
P_LATE_RATING_DROP: Final = 0.4
P_CLOSE_AFTER_CONFIRM: Final = 0.85
P_AUTO_CLOSE: Final = 0.6  # of the cases the resident never confirms
# The backlog: cases that stall at a step and stay open, overdue, for good.
P_STALL_ACCEPT: Final = 0.004
P_STALL_ASSIGN: Final = 0.004
P_STALL_WORK: Final = 0.015
SIGN_FOR_HOURS: Final = 2  # the default policy's sign-for deadline (签收)
SIGN_FOR_MEDIAN: Final = 25 * MINUTE  # most partners sign for well within it; a few are late
P_NEVER_SIGNED: Final = 0.03

# Payloads as the workflow's services (resolvers.workflow) write them.
REJECT_PAYLOAD: Final = _payload(reason="不属于社区受理范围")
CLOSE_PAYLOAD: Final = _payload(note=None)
UNCONFIRMED_CLOSE_PAYLOAD: Final = _payload(note="居民七日未确认，予以办结")
RATING_PAYLOADS: Final = {r: _payload(rating=r, comment=None) for r in range(1, 6)}
RESOLVE_PAYLOADS: Final = {
    on_time: _payload(summary="已处理完毕", on_time=on_time) for on_time in (False, True)
}
REOPEN_REASON: Final = "问题未解决"
WHISTLE_REASON: Final = "物业无力解决，需职能部门到场"
REPORT_IN_RESPONSE: Final = "已到现场，协调处理"
HELP_REASON: Final = "人手不足，请求支援"
HELP_RESPONSE: Final = "已派人协助"
FEE_WAIVER_AGE: Final = 60


def _waiver_reason(age: int) -> str:
    """As `resolvers.workflow.reporting.waiver_reason` words it."""
    return f"年满{FEE_WAIVER_AGE}周岁独居老人免收上门服务费 (resident aged {age}, living alone)"


def _rating_table(slowness: float) -> list[int]:
    """Ratings residents give a partner: quick partners get more five-star ones."""
    weights = (2, 3, 8, 30, 57) if slowness < 0.85 else (4, 6, 15, 35, 40)
    if slowness >= 1.25:
        weights = (10, 12, 23, 30, 25)
    return _weighted_table(zip(range(1, 6), weights, strict=True))


# Reporters lean older: retired residents report much of a community's trouble.
AGES: Final = _weighted_table(
    [(age, 10 / 12) for age in range(18, 30)]
    + [(age, 22 / 15) for age in range(30, 45)]
    + [(age, 28 / 15) for age in range(45, 60)]
    + [(age, 27 / 15) for age in range(60, 75)]
    + [(age, 13 / 21) for age in range(75, 96)]
)


# --- the world of one district -------------------------------------------------------------
# The entities point at each other both ways, so they have no generated repr: printing one
# would walk the whole district.


class _Entity(Protocol):
    """A row to be: gets its id once ids are reserved; `row()` is its COPY tuple."""

    TABLE: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]
    id: int

    def row(self, district_id: int, created: int) -> Row: ...


@dataclass(slots=True, eq=False, repr=False)
class _Street:
    TABLE: ClassVar[str] = "streets"
    COLUMNS: ClassVar[tuple[str, ...]] = ("district_id", "id", "name", "created_at")
    name: str
    id: int = 0

    def row(self, district_id: int, created: int) -> Row:
        return (district_id, self.id, self.name, created)


@dataclass(slots=True, eq=False, repr=False)
class _Partner:
    TABLE: ClassVar[str] = "partners"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "district_id", "id", "name", "kind", "contact_name", "contact_phone", "created_at",
    )  # fmt: skip
    name: str
    kind: PartnerKind
    contact_name: str
    contact_phone: str
    # How slowly it works: 1 is typical, 2 twice as slow (partners' quality varies, 良莠不齐).
    slowness: float = 1.0
    id: int = 0

    def row(self, district_id: int, created: int) -> Row:
        return (district_id, self.id, self.name, self.kind, self.contact_name,
                self.contact_phone, created)  # fmt: skip


@dataclass(slots=True, eq=False, repr=False)
class _Community:
    TABLE: ClassVar[str] = "communities"
    COLUMNS: ClassVar[tuple[str, ...]] = ("district_id", "id", "street_id", "name", "created_at")
    street: _Street
    name: str
    lat: float
    lon: float
    trouble: float  # cases per household, relative to other communities
    pace: float  # how slowly its workers accept cases
    id: int = 0
    compounds: list[_Compound] = field(default_factory=list)
    companies: list[_Partner] = field(default_factory=list)
    helpers: list[_Partner] = field(default_factory=list)  # who can lend a helping hand
    workers: list[_Person] = field(default_factory=list)
    residents: list[_Person] = field(default_factory=list)

    def households(self) -> int:
        return sum(b.households for c in self.compounds for b in c.buildings)

    def row(self, district_id: int, created: int) -> Row:
        return (district_id, self.id, self.street.id, self.name, created)


@dataclass(slots=True, eq=False, repr=False)
class _Compound:
    TABLE: ClassVar[str] = "compounds"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "district_id", "id", "community_id", "name", "created_at",
    )  # fmt: skip
    community: _Community
    name: str
    built: int
    id: int = 0
    buildings: list[_Building] = field(default_factory=list)
    facilities: list[_Facility] = field(default_factory=list)
    company: _Partner | None = None  # the property company serving it

    def row(self, district_id: int, created: int) -> Row:
        return (district_id, self.id, self.community.id, self.name, created)


@dataclass(slots=True, eq=False, repr=False)
class _Building:
    TABLE: ClassVar[str] = "buildings"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "district_id", "id", "community_id", "compound_id", "name", "households", "created_at",
    )  # fmt: skip
    compound: _Compound
    name: str
    households: int
    lat: float
    lon: float
    id: int = 0
    facilities: list[_Facility] = field(default_factory=list)

    def row(self, district_id: int, created: int) -> Row:
        return (district_id, self.id, self.compound.community.id, self.compound.id, self.name,
                self.households, created)  # fmt: skip


@dataclass(slots=True, eq=False, repr=False)
class _Facility:
    TABLE: ClassVar[str] = "facilities"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "district_id", "id", "community_id", "compound_id", "building_id", "kind", "name",
        "install_year", "created_at",
    )  # fmt: skip
    compound: _Compound
    building: _Building | None  # None: a facility of the whole compound
    kind: FacilityKind
    name: str
    install_year: int
    id: int = 0

    def row(self, district_id: int, created: int) -> Row:
        building_id = self.building.id if self.building else None
        return (district_id, self.id, self.compound.community.id, self.compound.id, building_id,
                self.kind, self.name, self.install_year, created)  # fmt: skip


@dataclass(slots=True, eq=False, repr=False)
class _Partnership:
    TABLE: ClassVar[str] = "partnerships"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "district_id", "id", "partner_id", "community_id", "role", "is_lead", "since",
        "reported_in_on", "created_at",
    )  # fmt: skip
    partner: _Partner
    community: _Community
    role: PartnershipRole
    since: dt.date
    reported_in_on: dt.date | None = None
    is_lead: bool = False
    id: int = 0

    def row(self, district_id: int, created: int) -> Row:
        return (district_id, self.id, self.partner.id, self.community.id, self.role,
                self.is_lead, self.since, self.reported_in_on, created)  # fmt: skip


@dataclass(slots=True, eq=False, repr=False)
class _Person:
    TABLE: ClassVar[str] = "people"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "district_id", "id", "name", "login", "phone", "birth_date", "lives_alone",
        "home_community_id", "home_building_id", "created_at",
    )  # fmt: skip
    name: str
    login: str | None
    phone: str
    birth_date: dt.date
    lives_alone: bool
    building: _Building | None  # home, for residents
    fee_waiver_reason: str | None  # 60+ and living alone: on-site service fees are waived
    id: int = 0

    def row(self, district_id: int, created: int) -> Row:
        building = self.building
        community_id = building.compound.community.id if building else None
        return (district_id, self.id, self.name, self.login, self.phone, self.birth_date,
                self.lives_alone, community_id, building.id if building else None,
                created)  # fmt: skip


@dataclass(slots=True, eq=False, repr=False)
class _RoleBinding:
    TABLE: ClassVar[str] = "role_bindings"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "district_id", "id", "person_id", "role", "community_id", "created_at",
    )  # fmt: skip
    person: _Person
    community: _Community
    id: int = 0

    def row(self, district_id: int, created: int) -> Row:
        return (district_id, self.id, self.person.id, Role.COMMUNITY_WORKER, self.community.id,
                created)  # fmt: skip


@dataclass(slots=True, eq=False, repr=False)
class _DeadlinePolicy:
    TABLE: ClassVar[str] = "deadline_policies"
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "district_id", "id", "category", "accept_hours", "resolve_hours", "report_in_hours",
        "approaching_hours",
    )  # fmt: skip
    category: CaseCategory | None  # None: the district's default
    hours: PolicyHours
    id: int = 0

    def row(self, district_id: int, created: int) -> Row:
        return (district_id, self.id, self.category, *self.hours)


COMPOUND_SERVICE_COLUMNS: Final = (
    "district_id", "compound_id", "partner_id", "community_id", "since",
)  # fmt: skip


@dataclass(repr=False)
class _World:
    """The places, partners and people of one district."""

    streets: list[_Street] = field(default_factory=list)
    partners: list[_Partner] = field(default_factory=list)
    communities: list[_Community] = field(default_factory=list)
    compounds: list[_Compound] = field(default_factory=list)
    partnerships: list[_Partnership] = field(default_factory=list)
    buildings: list[_Building] = field(default_factory=list)
    facilities: list[_Facility] = field(default_factory=list)
    people: list[_Person] = field(default_factory=list)
    role_bindings: list[_RoleBinding] = field(default_factory=list)
    policies: list[_DeadlinePolicy] = field(default_factory=list)
    departments: list[_Partner] = field(default_factory=list)

    def entities(self) -> list[Sequence[_Entity]]:
        """The entity lists, in foreign-key order."""
        return [self.streets, self.partners, self.communities, self.compounds,
                self.partnerships, self.buildings, self.facilities, self.people,
                self.role_bindings, self.policies]  # fmt: skip

    def compound_services(self, district_id: int) -> list[Row]:
        return [
            (district_id, c.id, c.company.id, c.community.id, dt.date(c.built, 6, 1))
            for c in self.compounds
            if c.company is not None
        ]


class _Pacer:
    """Lets the loaders run every few milliseconds while Python draws, so that the server
    always has rows to chew on; and counts the time spent drawing."""

    def __init__(self) -> None:
        self.busy = 0.0
        self._since = time.perf_counter()

    async def pause(self) -> None:
        await self.wait(asyncio.sleep(0))

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await something else than drawing (the database, the queue): not busy meanwhile."""
        self.busy += time.perf_counter() - self._since
        try:
            return await awaitable
        finally:
            self._since = time.perf_counter()


class _WorldBuilder:
    """Draws the places, partners and people of one district."""

    def __init__(
        self, rng: random.Random, today: dt.date, center: tuple[float, float], pacer: _Pacer
    ) -> None:
        self._rng = rng
        self._today = today
        self._today_ordinal = today.toordinal()
        self._center = center
        self._pacer = pacer
        self.world = _World()

    async def build(self, communities: int, cases: int) -> _World:
        world = self.world
        streets = max(1, round(communities / 20))
        world.streets = [_Street(_suffixed(STREET_STEMS, i, "街道")) for i in range(streets)]
        world.departments = self._departments()
        world.policies = [_DeadlinePolicy(None, DEFAULT_POLICY)] + [
            _DeadlinePolicy(c.value, c.policy) for c in CATEGORIES if c.policy is not None
        ]
        street_partners = [self._street_partners(street) for street in world.streets]
        for i in range(communities):
            street = i * streets // communities
            community = self._community(world.streets[street], i)
            self._partnerships(community, *street_partners[street])
            await self._pacer.pause()
        await self._people(cases)
        return world

    # places
    def _community(self, street: _Street, index: int) -> _Community:
        rng = self._rng
        community = _Community(
            street=street,
            name=_suffixed(COMMUNITY_STEMS, index, "社区"),
            lat=round(self._center[0] + rng.uniform(-0.08, 0.08), 6),
            lon=round(self._center[1] + rng.uniform(-0.1, 0.1), 6),
            trouble=SPREAD_MILD[rng.randrange(TABLE_SIZE)],
            pace=SPREAD_MILD[rng.randrange(TABLE_SIZE)],
        )
        self.world.communities.append(community)
        for number in range(1, rng.randint(2, 9) + 1):
            self._compound(community, number)
        return community

    def _compound(self, community: _Community, number: int) -> None:
        compound = _Compound(community, f"{number}号院", built=self._rng.randint(1978, 2022))
        community.compounds.append(compound)
        self.world.compounds.append(compound)
        for building_number in range(1, self._rng.randint(1, 12) + 1):
            self._building(compound, building_number)
        for kind, name, chance in COMPOUND_FACILITIES:
            if self._rng.random() < chance:
                year = self._rng.randint(max(compound.built, 2005), self._today.year)
                self._facility(compound, None, kind, name, year)

    def _building(self, compound: _Compound, number: int) -> None:
        rng = self._rng
        high_rise = rng.random() < 0.45
        floors = rng.randint(7, 28) if high_rise else rng.randint(3, 6)
        units = rng.randint(1, 3) if high_rise else rng.randint(1, 4)
        building = _Building(
            compound,
            f"{number}号楼",
            households=floors * units * rng.randint(2, 4),
            lat=round(compound.community.lat + rng.uniform(-0.004, 0.004), 6),
            lon=round(compound.community.lon + rng.uniform(-0.004, 0.004), 6),
        )
        compound.buildings.append(building)
        self.world.buildings.append(building)
        built = min(self._today.year, compound.built + rng.randint(0, 2))
        door_year = rng.randint(max(built, 2012), self._today.year)
        self._facility(compound, building, FacilityKind.DOOR_ACCESS, f"{number}号楼单元门禁",
                       door_year)  # fmt: skip
        if not high_rise:
            return
        for unit in range(1, units + 1):
            for car in range(1, rng.randint(1, 2) + 1):
                # Most elevators are as old as their building; some were replaced with money
                # from the public maintenance fund.
                year = rng.randint(2016, self._today.year) if rng.random() < 0.12 else built
                self._facility(compound, building, FacilityKind.ELEVATOR,
                               f"{number}号楼{unit}单元{car}号电梯", year)  # fmt: skip

    def _facility(
        self,
        compound: _Compound,
        building: _Building | None,
        kind: FacilityKind,
        name: str,
        year: int,
    ) -> None:
        facility = _Facility(compound, building, kind, name, year)
        (building.facilities if building else compound.facilities).append(facility)
        self.world.facilities.append(facility)

    # partners
    def _partner(self, name: str, kind: PartnerKind, slowness: float = 1.0) -> _Partner:
        partner = _Partner(name, kind, self._name(), self._phone("010-", 8), slowness)
        self.world.partners.append(partner)
        return partner

    def _departments(self) -> list[_Partner]:
        names = self._rng.sample(DEPARTMENTS, self._rng.randint(1, 2))
        return [self._partner(name, PartnerKind.GOVERNMENT_DEPARTMENT) for name in names]

    def _street_partners(self, street: _Street) -> tuple[list[_Partner], _Partner]:
        """Several property companies per street, of varying quality, and a co-builder."""
        rng = self._rng
        stem = street.name.removesuffix("街道")
        companies = [
            self._partner(f"{brand}物业{stem}项目部", PartnerKind.PROPERTY_COMPANY,
                          min(2.5, max(0.5, SPREAD_WIDE[rng.randrange(TABLE_SIZE)] ** 0.4)))
            for brand in rng.sample(BRANDS, rng.randint(3, 8))
        ]  # fmt: skip
        helper = self._partner(f"{stem}{rng.choice(CO_BUILDERS)}", PartnerKind.SOCIAL_ORGANIZATION)
        return companies, helper

    def _partnerships(
        self, community: _Community, street_companies: list[_Partner], helper: _Partner
    ) -> None:
        """Who serves the community: its compounds' property companies, the departments, its
        Party organisation (the lead, when it has one) and maybe the street's co-builder."""
        rng = self._rng
        compounds = rng.sample(community.compounds, len(community.compounds))
        count = rng.randint(1, min(4, len(street_companies), len(compounds)))
        community.companies = rng.sample(street_companies, count)
        for i, compound in enumerate(compounds):
            # The first ones go round the companies, so that each serves at least one compound.
            compound.company = community.companies[i if i < count else rng.randrange(count)]
        for company in community.companies:
            reported_in = self._date(2019, self._today.year) if rng.random() < 0.9 else None
            self._link(company, community, PartnershipRole.PROPERTY_COMPANY, reported_in)
        for department in self.world.departments:
            self._link(department, community, PartnershipRole.GOVERNMENT_DEPARTMENT)
        if rng.random() < 0.9:
            party = self._partner(f"{community.name}党委", PartnerKind.PARTY_ORGANIZATION)
            self._link(party, community, PartnershipRole.PARTY_ORGANIZATION, is_lead=True)
        community.helpers = list(community.companies)
        if rng.random() < 0.5:
            self._link(helper, community, PartnershipRole.CO_BUILDER)
            community.helpers.append(helper)

    def _link(
        self,
        partner: _Partner,
        community: _Community,
        role: PartnershipRole,
        reported_in_on: dt.date | None = None,
        *,
        is_lead: bool = False,
    ) -> None:
        since = self._date(2008, self._today.year - 1)
        if reported_in_on is not None:
            reported_in_on = max(since, reported_in_on)
        self.world.partnerships.append(
            _Partnership(partner, community, role, since, reported_in_on, is_lead)
        )

    # people
    async def _people(self, cases: int) -> None:
        """Community workers (who accept and close cases) and residents (who report them):
        about one resident per five cases, living where the households are."""
        world = self.world
        weights = [c.households() * c.trouble for c in world.communities]
        total = sum(weights)
        for community, weight in zip(world.communities, weights, strict=True):
            for _ in range(self._rng.randint(2, 4)):
                worker = self._person(None, login=True)
                community.workers.append(worker)
                world.role_bindings.append(_RoleBinding(worker, community))
            homes = _weighted_table(
                (b, b.households) for c in community.compounds for b in c.buildings
            )
            for _ in range(max(3, round(cases * weight / total / 5))):
                resident = self._person(homes[self._rng.randrange(len(homes))])
                community.residents.append(resident)
            await self._pacer.pause()

    def _person(self, building: _Building | None, *, login: bool = False) -> _Person:
        # `random()` and lookup tables rather than `randrange`/`choice`: a district has tens
        # of thousands of people.
        r = self._rng.random
        age = AGES[int(r() * len(AGES))]
        alone = r() < (0.22 if age >= 60 else 0.08)
        person = _Person(
            name=self._name(),
            login=f"syn{len(self.world.people) + 1}" if login or r() < 0.5 else None,
            phone=self._phone("1", 10),
            birth_date=dt.date.fromordinal(self._today_ordinal - age * 365 - int(r() * 365)),
            lives_alone=alone,
            building=building,
            fee_waiver_reason=_waiver_reason(age) if alone and age >= FEE_WAIVER_AGE else None,
        )
        self.world.people.append(person)
        return person

    def _name(self) -> str:
        r = self._rng.random
        name = SURNAMES[int(r() * len(SURNAMES))] + GIVEN[int(r() * len(GIVEN))]
        return name + GIVEN[int(r() * len(GIVEN))] if r() < 0.6 else name

    def _phone(self, prefix: str, digits: int) -> str:
        low = 10 ** (digits - 1)
        return prefix + str(low + int(self._rng.random() * 9 * low))

    def _date(self, first_year: int, last_year: int) -> dt.date:
        start = dt.date(first_year, 1, 1).toordinal()
        end = min(dt.date(last_year, 12, 31), self._today).toordinal()
        return dt.date.fromordinal(self._rng.randint(start, max(start, end)))


COMPOUND_FACILITIES: Final = (
    (FacilityKind.DRAINAGE, "雨污排水管网", 1.0),
    (FacilityKind.FIRE_SAFETY, "消防设施", 1.0),
    (FacilityKind.LIGHTING, "院内照明", 1.0),
    (FacilityKind.BIKE_SHED, "智能自行车棚(刷卡门禁、电动车充电)", 0.7),
    (FacilityKind.EV_CHARGER, "电动汽车充电桩", 0.4),
    (FacilityKind.WATER_SUPPLY, "二次供水泵房", 0.5),
    (FacilityKind.BOILER, "自供暖锅炉房", 0.3),
)


# --- cases ---------------------------------------------------------------------------------


Resident = tuple[int, "_Spot", str | None, str, str]  # id, home, fee waiver, REPORTED payloads


@dataclass(slots=True, eq=False, repr=False)
class _CommunityPlan:
    """What drawing a case of one community needs, in plain ids."""

    id: int
    pace: float
    workers: list[int]
    departments: list[int]
    residents: list[Resident] = field(default_factory=list)
    last_case: int | None = None  # the latest accepted case: what a report may duplicate


@dataclass(slots=True, eq=False, repr=False)
class _Spot:
    """What a case about one building needs, precomputed once per building."""

    community: _CommunityPlan
    building_id: int
    compound_id: int
    lat: float
    lon: float
    partner_id: int  # the property company serving the compound
    slowness: float
    ratings: list[int]
    helpers: list[int]  # partners of the community that can lend a hand
    facilities: dict[_Category, list[int]]  # what cases of a category may be about


@dataclass(slots=True, eq=False, repr=False)
class _Case:
    """A case while its history is drawn; becomes a `cases` row."""

    id: int
    created: int
    spot: _Spot
    category: _Category
    priority: _Priority
    deadlines: tuple[int, int, int]  # seconds to accept, to resolve, to report in
    reporter_id: int
    actor_id: int  # who reported: the resident, or a worker on their behalf
    reported_payload: str
    worker_id: int
    fee_waiver_reason: str | None
    facility_id: int | None
    status: CaseStatus = CaseStatus.REPORTED
    events: int = 0
    last: int = 0
    accept_due_at: int | None = None
    resolve_due_at: int | None = None
    accepted_at: int | None = None
    assigned_at: int | None = None
    resolved_at: int | None = None
    confirmed_at: int | None = None
    closed_at: int | None = None
    partner_id: int | None = None
    duplicate_of_id: int | None = None
    satisfaction: int | None = None
    reopen_count: int = 0


CASE_COLUMNS: Final = (
    "district_id", "id", "community_id", "compound_id", "building_id", "facility_id",
    "category", "title", "reporter_id", "status", "priority", "assigned_partner_id",
    "duplicate_of_id", "latitude", "longitude", "accept_due_at", "resolve_due_at", "fee_waived",
    "fee_waiver_reason", "satisfaction", "version", "created_at", "updated_at", "accepted_at",
    "assigned_at", "resolved_at", "confirmed_at", "closed_at", "reopen_count",
)  # fmt: skip
# Events are drawn as (district_id, case_id, kind, actor_id, actor_partner_id, payload,
# occurred_at) and get (id, seq) put in front once the district's events are in time order.
EVENT_COLUMNS: Final = (
    "id", "seq", "district_id", "case_id", "kind", "actor_id", "actor_partner_id", "payload",
    "occurred_at",
)  # fmt: skip
EVENT_TIME: Final = itemgetter(6)
ASSIGNMENT_COLUMNS: Final = (
    "district_id", "id", "case_id", "partner_id", "role", "assigned_by_id", "assigned_at",
    "sign_for_due_at", "signed_for_at",
)  # fmt: skip
WHISTLE_COLUMNS: Final = (
    "district_id", "id", "case_id", "department_id", "reason", "blown_by_id", "blown_at",
    "report_in_due_at", "reported_in_at", "response",
)  # fmt: skip
HELPING_HAND_COLUMNS: Final = (
    "district_id", "id", "case_id", "helper_id", "requested_by_id", "reason", "status",
    "requested_at", "responded_at", "response",
)  # fmt: skip


class _IdPool:
    """Ids of one table for rows drawn along with the cases (assignments, whistles, helping
    hands), whose number is known only afterwards: handed out from blocks reserved ahead."""

    BLOCK: ClassVar[int] = 4096

    def __init__(self, table: str) -> None:
        self.table = table
        self._next = 0
        self._end = 0

    def take(self) -> int:
        if self._next >= self._end:
            raise RuntimeError(f"no {self.table} ids left: top the pool up before drawing")
        self._next += 1
        return self._next - 1

    def needs(self, ahead: int) -> bool:
        return self._end - self._next < ahead

    def refill(self, first: int) -> None:
        """A new block from `first` on; what was left of the old one stays unused (a gap,
        as identity sequences have anyway)."""
        self._next, self._end = first, first + self.BLOCK


class _Calendar:
    """When cases are reported: over the year up to now, more on weekdays and in daytime
    (local time), a little more as the platform catches on, and each month its own mix of
    categories (heating in winter, drains in the rainy season)."""

    HOURS: ClassVar[tuple[float, ...]] = (
        1, .5, .3, .3, .3, .6, 1.5, 3, 5, 6, 6, 5, 4, 4, 5, 5, 5, 4.5, 4.5, 5, 5, 4, 3, 2,
    )  # fmt: skip
    WEEKDAYS: ClassVar[tuple[float, ...]] = (1.15, 1.05, 1.05, 1.05, 1.0, 0.85, 0.8)

    def __init__(self, now: int) -> None:
        self.now = now
        # Local midnight a year ago: the days and hours of the tables are local ones.
        self.start = (now + LOCAL_OFFSET) // DAY * DAY - LOCAL_OFFSET - HISTORY_DAYS * DAY
        first = (PG_EPOCH + dt.timedelta(seconds=self.start + LOCAL_OFFSET)).date()
        dates = [first + dt.timedelta(days=d) for d in range(HISTORY_DAYS + 1)]
        self.today = dates[-1]
        self.days = _weighted_table(
            ((d, self.WEEKDAYS[date.weekday()] * (0.8 + 0.4 * d / HISTORY_DAYS))
             for d, date in enumerate(dates)),
            size=32 * len(dates),
        )  # fmt: skip
        self.hours = _weighted_table(enumerate(self.HOURS))
        by_month = {m: _weighted_table((c, c.weight * c.seasons.get(m, 1.0)) for c in CATEGORIES)
                    for m in range(1, 13)}  # fmt: skip
        self.categories = [by_month[date.month] for date in dates]

    def report_times(self, rng: random.Random, count: int) -> list[int]:
        """`count` report times, sorted: case ids follow the order of reporting."""
        days, hours, start, now, r = self.days, self.hours, self.start, self.now, rng.random
        times: list[int] = []
        while len(times) < count:
            t = (start + days[int(r() * len(days))] * DAY + hours[int(r() * TABLE_SIZE)] * HOUR
                 + int(r() * HOUR))  # fmt: skip
            if t <= now:  # the last day is today, partly still to come
                times.append(t)
        times.sort()
        return times


class _CaseFactory:
    """Draws cases and their histories, as the workflow's services (resolvers.workflow)
    would have written them: case rows, their events (in one bucket per day), assignments,
    whistles and helping hands.

    A case's history is walked step by step from its report; a step that would fall after
    `now` has not happened yet. So recent cases are still open (REPORTED, ACCEPTED,
    ASSIGNED...) and old ones closed, as in a real system. The methods are written for speed:
    they run some six million times for a million cases.
    """

    def __init__(self, rng: random.Random, district_id: int, calendar: _Calendar) -> None:
        self._random = rng.random
        self._district_id = district_id
        self._calendar = calendar
        self._now = calendar.now
        self._start = calendar.start
        self.buckets: list[list[Row]] = [[] for _ in range(HISTORY_DAYS + 1)]
        self.assignments: list[Row] = []
        self.whistles: list[Row] = []
        self.helping_hands: list[Row] = []
        self.pools = {
            "case_assignments": _IdPool("case_assignments"),
            "case_whistles": _IdPool("case_whistles"),
            "helping_hands": _IdPool("helping_hands"),
        }
        self._communities: list[_CommunityPlan] = []
        self._deadlines: dict[_Category, tuple[int, int, int]] = {}

    def plan(self, world: _World) -> None:
        """Index the world: communities by case volume, residents with their homes, the
        deadlines of each category."""
        departments = [d.id for d in world.departments]
        weighted = [
            (self._community_plan(c, departments), c.households() * c.trouble)
            for c in world.communities
        ]
        self._communities = _weighted_table(weighted, size=max(TABLE_SIZE, 16 * len(weighted)))
        hours = {policy.category: policy.hours for policy in world.policies}
        for category in CATEGORIES:
            accept, resolve, report_in, _ = hours.get(category.value, hours[None])
            self._deadlines[category] = (accept * HOUR, resolve * HOUR, report_in * HOUR)

    @staticmethod
    def _community_plan(community: _Community, departments: list[int]) -> _CommunityPlan:
        plan = _CommunityPlan(community.id, community.pace, [w.id for w in community.workers],
                              departments)  # fmt: skip
        spots: dict[int, _Spot] = {}
        for person in community.residents:
            building = person.building
            assert building is not None  # residents live in a building of their community
            spot = spots.get(building.id)
            if spot is None:
                spot = spots[building.id] = _CaseFactory._spot(plan, community, building)
            reason = person.fee_waiver_reason
            own, for_them = (
                _payload(reporter_id=person.id, on_behalf=on_behalf, fee_waived=reason is not None,
                         fee_waiver_reason=reason, photos=0)
                for on_behalf in (False, True)
            )  # fmt: skip
            plan.residents.append((person.id, spot, reason, own, for_them))
        return plan

    @staticmethod
    def _spot(plan: _CommunityPlan, community: _Community, building: _Building) -> _Spot:
        company = building.compound.company
        assert company is not None  # every compound is served by a property company
        nearby = building.facilities + building.compound.facilities
        facilities = {}
        for category in CATEGORIES:
            ids = [f.id for f in nearby if f.kind in category.facilities]
            if ids:
                facilities[category] = ids
        return _Spot(
            community=plan,
            building_id=building.id,
            compound_id=building.compound.id,
            lat=building.lat,
            lon=building.lon,
            partner_id=company.id,
            slowness=company.slowness,
            ratings=_rating_table(company.slowness),
            helpers=[h.id for h in community.helpers if h is not company],
            facilities=facilities,
        )

    def cases(self, first_id: int, times: Sequence[int]) -> Iterator[Row]:
        """The case rows, one per report time, with ids from `first_id` on. At most one
        assignment, whistle and helping hand each per case: the pools must hold as many ids
        as cases are drawn before they are topped up again."""
        for case_id, created in enumerate(times, first_id):
            case = self._draw(case_id, created)
            self._live(case)
            yield self._row(case)

    def events(self, first_id: int) -> Iterator[Row]:
        """All events in time order, each with its id and its district seq (1..N) in front.

        The sort is stable, so events of one case at the same second keep their order; `zip`,
        `count` and `tuple.__add__` keep the per-row work in C.
        """
        ordered = itertools.chain.from_iterable(sorted(b, key=EVENT_TIME) for b in self.buckets)
        numbers = zip(itertools.count(first_id), itertools.count(1), strict=False)
        return map(tuple.__add__, numbers, ordered)

    def _draw(self, case_id: int, created: int) -> _Case:
        r = self._random
        plan = self._communities[int(r() * len(self._communities))]
        residents = plan.residents
        # Some residents report far more often than others.
        person_id, spot, waiver, own_report, for_them = residents[int(len(residents) * r() ** 1.6)]
        category = self._calendar.categories[(created - self._start) // DAY][int(r() * TABLE_SIZE)]
        facilities = spot.facilities.get(category)
        if category is ELEVATOR and not facilities:
            category = FACILITY_REPAIR  # a low-rise building has no elevator
            facilities = spot.facilities.get(category)
        facility_id = None
        if facilities and r() < category.facility_chance:
            facility_id = facilities[int(r() * len(facilities))]
        worker_id = plan.workers[int(r() * len(plan.workers))]
        on_behalf = r() < P_WORKER_REPORT
        return _Case(
            case_id,
            created,
            spot,
            category,
            category.priorities[int(r() * TABLE_SIZE)],
            self._deadlines[category],
            person_id,
            worker_id if on_behalf else person_id,
            for_them if on_behalf else own_report,
            worker_id,
            waiver,
            facility_id,
        )

    def _step(
        self,
        case: _Case,
        t: int,
        step: Step,
        actor_id: int | None,
        partner_id: int | None,
        payload: str,
    ) -> bool:
        """Record one event of `case` at `t`, unless `t` is still to come."""
        if t > self._now:
            return False
        self.buckets[(t - self._start) // DAY].append(
            (self._district_id, case.id, step[0], actor_id, partner_id, payload, t)
        )
        case.events += 1
        case.last = t
        if step[1] is not None:
            case.status = step[1]
        return True

    def _wait(self, median: float, spread: list[float]) -> int:
        return int(median * spread[int(self._random() * TABLE_SIZE)])

    def _live(self, case: _Case) -> None:
        self._step(case, case.created, REPORT, case.actor_id, None, case.reported_payload)
        case.accept_due_at = case.created + case.deadlines[0]
        if self._accept(case) and self._assign(case) and self._work(case):
            self._conclude(case, may_reopen=True)

    def _accept(self, case: _Case) -> bool:
        """The committee accepts the case, rejects it, or finds it is a duplicate."""
        plan = case.spot.community
        if self._random() < P_STALL_ACCEPT:
            return False
        t = case.created + self._wait(case.priority.accept_median * plan.pace, SPREAD_WIDE)
        draw = self._random()
        if draw < P_REJECT:
            if self._step(case, t, REJECT, case.worker_id, None, REJECT_PAYLOAD):
                case.closed_at = t
            return False
        original = plan.last_case
        if draw < P_REJECT + P_DUPLICATE and original is not None:
            payload = _payload(duplicate_of_id=original)
            if self._step(case, t, MARK_DUPLICATE, case.worker_id, None, payload):
                case.duplicate_of_id = original
                case.closed_at = t
            return False
        due = t + case.deadlines[1]
        payload = f'{{"note": null, "resolve_due_at": "{_iso(due)}"}}'  # f-string: hot path
        if not self._step(case, t, ACCEPT, case.worker_id, None, payload):
            return False
        case.accepted_at = t
        case.resolve_due_at = due
        plan.last_case = case.id
        return True

    def _assign(self, case: _Case) -> bool:
        """The committee makes the property company serving the compound the lead (主办)."""
        spot = case.spot
        if self._random() < P_STALL_ASSIGN:
            return False
        t = case.last + self._wait(ASSIGN_MEDIAN, SPREAD_WIDE)
        if t > self._now:
            return False
        assignment_id = self.pools["case_assignments"].take()
        payload = (f'{{"partner_id": {spot.partner_id}, "assignment_id": {assignment_id}, '
                   '"co_handlers": []}')  # fmt: skip
        self._step(case, t, ASSIGN, case.worker_id, None, payload)
        signing = t + self._wait(SIGN_FOR_MEDIAN, SPREAD_WIDE)
        never = self._random() < P_NEVER_SIGNED or signing > self._now
        signed = None if never else signing
        self.assignments.append((self._district_id, assignment_id, case.id, spot.partner_id,
                                 AssignmentRole.LEAD, case.worker_id, t,
                                 t + SIGN_FOR_HOURS * HOUR, signed))  # fmt: skip
        case.assigned_at = t
        case.partner_id = spot.partner_id
        return True

    def _work(self, case: _Case) -> bool:
        """The partner works on the case, maybe with a helping hand or after a whistle,
        until it is resolved."""
        assigned = case.last
        spot = case.spot
        median = case.category.resolve_hours * HOUR * case.priority.pace * spot.slowness
        duration = self._wait(median, SPREAD_WORK)
        resolved = NEVER if self._random() < P_STALL_WORK else assigned + duration
        help_chance = P_HELP_SLOW_PARTNER if spot.slowness > SLOW else P_HELP
        if spot.helpers and self._random() < help_chance:
            resolved = self._helping_hand(case, assigned + duration // 5, resolved)
        whistle_chance = case.category.whistle_chance
        if case.resolve_due_at is not None and resolved > case.resolve_due_at:
            whistle_chance += P_WHISTLE_LATE_EXTRA
        if resolved and self._random() < whistle_chance:
            resolved = self._whistle(case, max(case.last, assigned + duration // 3), resolved)
        return bool(resolved) and self._resolve(case, resolved)

    def _resolve(self, case: _Case, t: int) -> bool:
        on_time = case.resolve_due_at is None or t <= case.resolve_due_at
        if not self._step(case, t, RESOLVE, None, case.spot.partner_id, RESOLVE_PAYLOADS[on_time]):
            return False
        case.resolved_at = t
        return True

    def _helping_hand(self, case: _Case, t: int, resolved: int) -> int:
        """A stronger partner of the community is asked to send people (大手拉小手).
        Returns when the case is resolved then, or 0 if the story stops before `now`."""
        if t > self._now:
            return 0
        helpers = case.spot.helpers
        helper = helpers[int(self._random() * len(helpers))]
        hand_id = self.pools["helping_hands"].take()
        asked = _payload(helping_hand_id=hand_id, helper_id=helper, reason=HELP_REASON)
        self._step(case, t, ASK_HELP, case.worker_id, None, asked)
        answered = t + self._wait(HELP_MEDIAN, SPREAD_WIDE)
        given = _payload(helping_hand_id=hand_id, helper_id=helper, response=HELP_RESPONSE)
        accepted = self._step(case, answered, GIVE_HELP, None, helper, given)
        self.helping_hands.append(
            (self._district_id, hand_id, case.id, helper, case.worker_id, HELP_REASON,
             HelpingHandStatus.ACCEPTED if accepted else HelpingHandStatus.REQUESTED, t,
             answered if accepted else None, HELP_RESPONSE if accepted else None)
        )  # fmt: skip
        return max(resolved, answered + HOUR) if accepted else 0

    def _whistle(self, case: _Case, t: int, resolved: int) -> int:
        """The community blows the whistle (吹哨): a department must report in (报到) by the
        policy's deadline; some are late, a few never come. Returns as `_helping_hand`."""
        if t > self._now:
            return 0
        plan = case.spot.community
        department = plan.departments[int(self._random() * len(plan.departments))]
        whistle_id = self.pools["case_whistles"].take()
        due = t + case.deadlines[2]
        blown = _payload(whistle_id=whistle_id, department_id=department, reason=WHISTLE_REASON,
                         report_in_due_at=_iso(due))  # fmt: skip
        self._step(case, t, BLOW_WHISTLE, case.worker_id, None, blown)
        arrived = NEVER
        if self._random() >= P_NO_REPORT_IN:
            arrived = t + self._wait(REPORT_IN_MEDIAN, SPREAD_WIDE)
            reported = _payload(whistle_id=whistle_id, department_id=department,
                                response=REPORT_IN_RESPONSE, overdue=arrived > due)  # fmt: skip
            if not self._step(case, arrived, REPORT_IN, None, department, reported):
                arrived = NEVER
        self.whistles.append(
            (self._district_id, whistle_id, case.id, department, WHISTLE_REASON, case.worker_id,
             t, due, None if arrived == NEVER else arrived,
             None if arrived == NEVER else REPORT_IN_RESPONSE)
        )  # fmt: skip
        if arrived == NEVER:
            return resolved  # the partner gets on without the department
        return max(resolved, arrived + HOUR)

    def _conclude(self, case: _Case, *, may_reopen: bool) -> None:
        """After resolution: reopened; or confirmed with a rating and mostly closed; or never
        confirmed, and then closed by the committee a week later or left resolved."""
        resolved, due = case.last, case.resolve_due_at
        assert due is not None
        spot = case.spot
        t = resolved + self._wait(CONFIRM_MEDIAN, SPREAD_WIDE)
        draw = self._random()
        if may_reopen and draw < P_REOPEN * spot.slowness:
            self._reopen(case, t)
        elif draw < P_CONFIRM:
            rating = spot.ratings[int(self._random() * TABLE_SIZE)]
            if resolved > due and self._random() < P_LATE_RATING_DROP:
                rating = max(1, rating - 1)
            if not self._step(case, t, CONFIRM, case.reporter_id, None, RATING_PAYLOADS[rating]):
                return
            case.satisfaction = rating
            case.confirmed_at = t
            if self._random() < P_CLOSE_AFTER_CONFIRM:
                self._close(case, t + self._wait(CLOSE_MEDIAN, SPREAD_WIDE), CLOSE_PAYLOAD)
        elif self._random() < P_AUTO_CLOSE:
            self._close(case, resolved + AUTO_CLOSE_AFTER, UNCONFIRMED_CLOSE_PAYLOAD)

    def _reopen(self, case: _Case, t: int) -> None:
        """The resident says it is not fixed: back to the partner, with a new deadline."""
        assert case.resolved_at is not None
        assert case.assigned_at is not None
        due = t + case.deadlines[1]
        payload = _payload(reason=REOPEN_REASON, resolve_due_at=_iso(due))
        if not self._step(case, t, REOPEN, case.reporter_id, None, payload):
            return
        again = t + max(HOUR, (case.resolved_at - case.assigned_at) // 2)
        case.reopen_count += 1
        case.resolve_due_at = due
        case.resolved_at = None
        if self._resolve(case, again):
            self._conclude(case, may_reopen=False)

    def _close(self, case: _Case, t: int, payload: str) -> None:
        if self._step(case, t, CLOSE, case.worker_id, None, payload):
            case.closed_at = t

    def _row(self, case: _Case) -> Row:
        spot = case.spot
        titles = case.category.titles
        return (
            self._district_id, case.id, spot.community.id, spot.compound_id, spot.building_id,
            case.facility_id, case.category.value, titles[int(self._random() * len(titles))],
            case.reporter_id, case.status, case.priority.value, case.partner_id,
            case.duplicate_of_id, spot.lat, spot.lon, case.accept_due_at, case.resolve_due_at,
            case.fee_waiver_reason is not None, case.fee_waiver_reason, case.satisfaction,
            case.events, case.created, case.last, case.accepted_at, case.assigned_at,
            case.resolved_at, case.confirmed_at, case.closed_at, case.reopen_count,
        )  # fmt: skip


# --- drawing districts ---------------------------------------------------------------------


@dataclass(frozen=True)
class _DistrictPlan:
    code: str
    name: str
    communities: int
    cases: int
    center: tuple[float, float]


def _plan(codes: list[str], communities: int, cases: int, seed: int) -> list[_DistrictPlan]:
    """The districts, of different sizes as real ones are, in the order they are loaded."""
    rng = random.Random(seed)
    sizes = [rng.uniform(0.6, 1.4) for _ in codes]
    plans = sorted(
        (
            _DistrictPlan(
                code=code,
                name=f"合成区 {code.removeprefix('syn-')}",
                communities=n_communities,
                cases=n_cases,
                center=(39.9 + rng.uniform(-0.4, 0.4), 116.4 + rng.uniform(-0.5, 0.5)),
            )
            for code, n_communities, n_cases in zip(
                codes, _shares(communities, sizes, 1), _shares(cases, sizes), strict=True
            )
        ),
        key=lambda plan: plan.cases,
    )
    # The smallest first, so that the loaders start early; then the largest first, so that
    # the two loaders finish close together.
    return plans[:1] + plans[:0:-1]


Table = tuple[str, Sequence[str], list[Row]]  # name, columns, rows


@dataclass(repr=False)
class _District:
    """A drawn district: its rows, in the order they are copied."""

    id: int
    plan: _DistrictPlan
    tables: list[Table]  # places, partners, people, deadline policies
    cases: list[Row]
    workflow: list[Table]  # assignments, whistles, helping hands
    events: Iterator[Row]
    event_count: int


async def _reserve_ids(conn: asyncpg.Connection, counts: dict[str, int]) -> dict[str, int]:
    """The first of `n` consecutive ids taken from each table's identity sequence."""
    wanted = {table: n for table, n in counts.items() if n > 0}
    rows = await conn.fetch(
        "SELECT t.name, setval(s.seq, nextval(s.seq) + t.n - 1) - t.n + 1 AS first"
        " FROM unnest($1::text[], $2::bigint[]) AS t(name, n),"
        " LATERAL (SELECT pg_get_serial_sequence(t.name, 'id')::regclass AS seq) AS s",
        list(wanted),
        list(wanted.values()),
    )
    return {r["name"]: r["first"] for r in rows}


CHUNK: Final = 200  # cases drawn between pauses: a few milliseconds


class _Drawer:
    """Draws the districts one after the other; reserves their ids on its own connection
    (the loaders' connections are busy copying)."""

    def __init__(self, conn: asyncpg.Connection, calendar: _Calendar, seed: int) -> None:
        self._conn = conn
        self._calendar = calendar
        self._seed = seed
        self.pacer = _Pacer()

    async def _reserve(self, counts: dict[str, int]) -> dict[str, int]:
        return await self.pacer.wait(_reserve_ids(self._conn, counts))

    async def district(self, plan: _DistrictPlan) -> _District:
        # A generator per district: a later run (new codes) draws other districts, a run on
        # an empty database the same ones again.
        rng = random.Random(f"{self._seed}/{plan.code}")
        district_id = (await self._reserve({"districts": 1}))["districts"]
        builder = _WorldBuilder(rng, self._calendar.today, plan.center, self.pacer)
        world = await builder.build(plan.communities, plan.cases)
        tables = await self._world_rows(world, district_id)
        factory = _CaseFactory(rng, district_id, self._calendar)
        factory.plan(world)
        await self.pacer.pause()
        cases = await self._cases(factory, rng, plan.cases)
        workflow: list[Table] = [
            ("case_assignments", ASSIGNMENT_COLUMNS, factory.assignments),
            ("case_whistles", WHISTLE_COLUMNS, factory.whistles),
            ("helping_hands", HELPING_HAND_COLUMNS, factory.helping_hands),
        ]
        event_count = sum(len(bucket) for bucket in factory.buckets)
        first_event = (await self._reserve({"case_events": event_count})).get("case_events", 0)
        events = factory.events(first_event)
        return _District(district_id, plan, tables, cases, workflow, events, event_count)

    async def _world_rows(self, world: _World, district_id: int) -> list[Table]:
        """Give the entities their ids; their rows, table by table in foreign-key order."""
        entities = [items for items in world.entities() if items]
        firsts = await self._reserve({items[0].TABLE: len(items) for items in entities})
        for items in entities:
            for item_id, item in enumerate(items, firsts[items[0].TABLE]):
                item.id = item_id
        created = self._calendar.start - 30 * DAY  # the world is older than its cases
        tables: list[Table] = [
            (items[0].TABLE, items[0].COLUMNS, [item.row(district_id, created) for item in items])
            for items in entities
        ]
        # Compound services name partnerships: they go right after them.
        after = next(i for i, (table, _, _) in enumerate(tables) if table == "partnerships")
        services = world.compound_services(district_id)
        tables.insert(after + 1, ("compound_services", COMPOUND_SERVICE_COLUMNS, services))
        return tables

    async def _cases(self, factory: _CaseFactory, rng: random.Random, count: int) -> list[Row]:
        times = self._calendar.report_times(rng, count)
        first_case = (await self._reserve({"cases": count})).get("cases", 0)
        rows = factory.cases(first_case, times)
        cases: list[Row] = []
        while len(cases) < count:
            await self._top_up(factory.pools, min(CHUNK, count - len(cases)))
            cases += itertools.islice(rows, CHUNK)
            await self.pacer.pause()
        return cases

    async def _top_up(self, pools: dict[str, _IdPool], ahead: int) -> None:
        """Make sure each pool holds ids for `ahead` more cases (one per case at most)."""
        wanted = {table: _IdPool.BLOCK for table, pool in pools.items() if pool.needs(ahead)}
        if wanted:
            for table, first in (await self._reserve(wanted)).items():
                pools[table].refill(first)


# --- loading -------------------------------------------------------------------------------


class SyntheticDataError(RuntimeError):
    """The drawn rows break a constraint: a bug in this module."""


@dataclass
class SyntheticReport:
    """What `load_synthetic` added, and where the time went."""

    districts: list[str]
    rows: dict[str, int]
    seconds: float
    # Seconds per phase, summed over the loaders; drawing runs while they copy, so the
    # phases overlap and add up to more than `seconds`.
    phases: dict[str, float]
    foreign_keys: str  # how the foreign keys were checked

    def __str__(self) -> str:
        lines = [
            f"synthetic data: {len(self.districts)} districts "
            f"({', '.join(self.districts)}) in {self.seconds:.1f} s"
        ]
        lines += [f"  {table:<18} {count:>12,}" for table, count in self.rows.items()]
        lines += [f"  {phase:<30} {seconds:>7.1f} s" for phase, seconds in self.phases.items()]
        lines.append(f"  foreign keys: {self.foreign_keys}")
        return "\n".join(lines)


@dataclass
class _Connection:
    """A seeding connection, and what its role may do."""

    conn: asyncpg.Connection
    bypass_rls: bool  # superuser or BYPASSRLS: COPY straight into tenant tables
    skip_fk_triggers: bool  # may set session_replication_role

    async def copy(self, table: str, columns: Sequence[str], records: Iterable[Row]) -> int:
        """COPY `records` into `table`; returns the number of rows."""
        if self.bypass_rls:
            status = await self.conn.copy_records_to_table(
                table, columns=list(columns), records=records
            )
        else:
            status = await self._copy_staged(table, columns, records)
        return int(status.rsplit(" ", 1)[1])

    async def _copy_staged(self, table: str, columns: Sequence[str], records: Iterable[Row]) -> str:
        """COPY FROM is refused where row-level security applies: copy into a temporary
        table, then insert from it under the transaction's district."""
        stage = f"synthetic_stage_{table}"
        names = ", ".join(columns)
        await self.conn.execute(
            f"CREATE TEMP TABLE {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        await self.conn.copy_records_to_table(stage, columns=list(columns), records=records)
        status: str = await self.conn.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}"  # noqa: S608 - our names
        )
        await self.conn.execute(f"DROP TABLE {stage}")
        return status


async def _connect(owner_url: str) -> _Connection:
    dsn = async_url(owner_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(
        dsn,
        server_settings={
            "application_name": "gongzhi-synthetic",
            "jit": "off",
            # A crash loses the last moments of a load, which its transaction would roll
            # back anyway.
            "synchronous_commit": "off",
        },
    )
    _widen_send_buffer(conn)
    await conn.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=_encode_timestamp,
        decoder=_decode_timestamp,
        format="tuple",
    )
    role = await conn.fetchrow(
        "SELECT rolsuper OR rolbypassrls AS bypass_rls,"
        " has_parameter_privilege('session_replication_role', 'SET') AS skip_fk"
        " FROM pg_roles WHERE rolname = current_user"
    )
    assert role is not None  # the current user is a role
    return _Connection(conn, bool(role["bypass_rls"]), bool(role["skip_fk"]))


def _widen_send_buffer(conn: asyncpg.Connection) -> None:
    """Let the kernel hold a few MB of COPY data for the server.

    With the default ~200 KB, the server eats what is queued in a few milliseconds and then
    waits until Python, busy drawing the next district, comes back to send more. asyncpg
    has no option for it, hence its private transport (skipped if that ever changes).
    """
    transport = getattr(conn, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):  # capped by net.core.wmem_max (4 MB here)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


async def _free_codes(conn: asyncpg.Connection, count: int) -> list[str]:
    """The first `count` unused codes of the form `syn-001`."""
    rows = await conn.fetch("SELECT code FROM districts WHERE code LIKE 'syn-%'")
    taken = {r["code"] for r in rows}
    codes = (f"syn-{n:03d}" for n in itertools.count(1))
    return list(itertools.islice((c for c in codes if c not in taken), count))


LOADED_TABLES: Final = (
    "streets", "partners", "communities", "compounds", "partnerships", "compound_services",
    "buildings", "facilities", "people", "role_bindings", "deadline_policies", "cases",
    "case_assignments", "case_whistles", "helping_hands", "case_events",
)  # fmt: skip


@dataclass(frozen=True)
class _ForeignKeyCheck:
    """One query per table counting, for each of its foreign keys, the rows of a district
    that break it: one pass over the rows, a hash lookup per key. Built from the models, so
    that new constraints are covered too."""

    table: str
    constraints: list[str]
    sql: str

    @classmethod
    def of(cls, name: str) -> _ForeignKeyCheck | None:
        """The check of table `name`; None when it has nothing to check."""
        table = Base.metadata.tables[name]
        constraints: list[str] = []
        counts: list[str] = []
        joins: list[str] = []
        for fk in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
            if fk.referred_table.name == "districts":
                continue  # every row is built with the district's own id
            alias = f"p{len(joins)}"
            pairs = [(e.parent.name, e.column.name) for e in fk.elements]
            match = " AND ".join(f"{alias}.{column} = c.{child}" for child, column in pairs)
            present = " AND ".join(f"c.{child} IS NOT NULL" for child, _ in pairs)
            # district_id is in every referenced key, so it is NULL only when nothing matched.
            missing = f"{alias}.district_id IS NULL"
            joins.append(f" LEFT JOIN {fk.referred_table.name} AS {alias} ON {match}")
            counts.append(f"count(*) FILTER (WHERE {present} AND {missing})")
            constraints.append(str(fk.name))
        if not constraints:
            return None
        sql = (
            f"SELECT {', '.join(counts)} FROM {name} AS c{''.join(joins)}"  # noqa: S608 - our names
            " WHERE c.district_id = $1"
        )
        return cls(name, constraints, sql)

    async def run(self, conn: asyncpg.Connection, district_id: int) -> None:
        broken = await conn.fetchrow(self.sql, district_id)
        assert broken is not None  # an aggregate returns one row
        for constraint, count in zip(self.constraints, broken, strict=True):
            if count:
                raise SyntheticDataError(f"{count} rows of {self.table} break {constraint}")


FOREIGN_KEY_CHECKS: Final = [c for c in map(_ForeignKeyCheck.of, LOADED_TABLES) if c is not None]


class _Loader:
    """Loads drawn districts on one connection, each in its own transaction."""

    def __init__(self, connection: _Connection, bar: tqdm) -> None:
        self._connection = connection
        self._bar = bar
        self.rows: dict[str, int] = {}
        self.phases: dict[str, float] = {}

    async def load(self, district: _District) -> None:
        async with self._connection.conn.transaction():
            await self._begin(district)
            for table, columns, rows in district.tables:
                await self._copy("copy places, partners, people", table, columns, rows)
            await self._copy("copy cases", "cases", CASE_COLUMNS, self._progress(district.cases))
            for table, columns, rows in district.workflow:
                await self._copy("copy workflow rows", table, columns, rows)
            await self._copy("copy case events", "case_events", EVENT_COLUMNS, district.events)
            await self._connection.conn.execute(
                "INSERT INTO district_counters (district_id, last_event_seq) VALUES ($1, $2)",
                district.id,
                district.event_count,
            )
            self._count("district_counters", 1)
            if self._connection.skip_fk_triggers:
                await self._verify(district.id)
            await self._roll_up(district.id)

    async def _begin(self, district: _District) -> None:
        """Create the district and enter it: row-level security now admits its rows."""
        conn = self._connection.conn
        await conn.execute(
            "INSERT INTO districts (id, code, name) VALUES ($1, $2, $3)",
            district.id,
            district.plan.code,
            district.plan.name,
        )
        self._count("districts", 1)
        await conn.execute(set_district_sql(district.id))
        if self._connection.skip_fk_triggers:
            await conn.execute("SET LOCAL session_replication_role = replica")

    async def _copy(
        self, phase: str, table: str, columns: Sequence[str], rows: Iterable[Row]
    ) -> None:
        started = time.perf_counter()
        self._count(table, await self._connection.copy(table, columns, rows))
        self._time(phase, started)

    async def _roll_up(self, district_id: int) -> None:
        """Count the district's assessment and comparison rollups from its rows: the triggers
        that keep them were off while copying (or ran per statement, over rows not all there
        yet)."""
        started = time.perf_counter()
        conn = self._connection.conn
        await conn.execute("SET LOCAL session_replication_role = DEFAULT")
        await conn.execute("SET LOCAL enable_indexscan = on")  # a case's latest follow-up
        await conn.execute("SELECT assessment_rebuild($1)", district_id)
        self._time("assessment rollups", started)
        started = time.perf_counter()
        await conn.execute("SELECT comparison_rebuild($1)", district_id)
        self._time("comparison rollups", started)

    async def _verify(self, district_id: int) -> None:
        started = time.perf_counter()
        conn = self._connection.conn
        await conn.execute("SET LOCAL session_replication_role = DEFAULT")
        # The rows are fresh and have no statistics: nested loops or merge joins planned for
        # "one row" take quadratic time; hash joins are linear whatever the estimates.
        await conn.execute("SET LOCAL enable_nestloop = off")
        await conn.execute("SET LOCAL enable_mergejoin = off")
        # A bitmap scan reads a district's fresh rows in heap order; an index scan would jump
        # around the heap (and index-only scans need the visibility map VACUUM has not built).
        await conn.execute("SET LOCAL enable_indexscan = off")
        # Parallel workers would only take CPU from the drawing and the other loader.
        await conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        for check in FOREIGN_KEY_CHECKS:
            await check.run(conn, district_id)
        self._time("check foreign keys", started)

    def _progress(self, rows: list[Row]) -> Iterator[Row]:
        for start in range(0, len(rows), 10_000):
            yield from rows[start : start + 10_000]
            self._bar.update(min(10_000, len(rows) - start))

    def _count(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows

    def _time(self, phase: str, started: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + time.perf_counter() - started


async def _run(drawer: _Drawer, loaders: list[_Loader], plans: list[_DistrictPlan]) -> None:
    """Draw the districts in one task while the loaders load them in others."""
    # One drawn district waits at most: the next is drawn while the loaders are busy, and
    # memory holds a handful of districts at a time.
    queue: asyncio.Queue[_District | None] = asyncio.Queue(maxsize=1)

    async def draw() -> None:
        for plan in plans:
            district = await drawer.district(plan)
            await drawer.pacer.wait(queue.put(district))
        for _ in loaders:
            await queue.put(None)

    async def load(loader: _Loader) -> None:
        while (district := await queue.get()) is not None:
            await loader.load(district)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(draw())
            for loader in loaders:
                group.create_task(load(loader))
    except ExceptionGroup as failed:
        # The first failure cancels the other tasks (their districts roll back): report it
        # as itself, not wrapped in a group.
        raise failed.exceptions[0] from None


async def load_synthetic(
    owner_url: str,
    *,
    districts: int,
    communities: int,
    cases: int,
    progress: bool = False,
    seed: int = 42,
) -> SyntheticReport:
    """Add `districts` new districts with `communities` communities and `cases` cases in
    total, each district in its own transaction. Districts differ in size (0.6 to 1.4 times
    the average), communities and cases going with the size. The same `seed` on an empty
    database draws the same data, up to the clock: histories end at the moment of loading.
    `progress` shows a progress bar over the cases when stderr is a terminal."""
    if districts < 1 or communities < districts or cases < 0:
        raise ValueError("need districts >= 1, communities >= districts and cases >= 0")
    started = time.perf_counter()
    connections: list[_Connection] = []
    bar = tqdm(total=cases, unit="case", disable=not (progress and sys.stderr.isatty()))
    try:
        for _ in range(min(LOADERS, districts) + 1):  # the drawer's, and the loaders'
            connections.append(await _connect(owner_url))
        codes = await _free_codes(connections[0].conn, districts)
        drawer = _Drawer(connections[0].conn, _Calendar(_now_seconds()), seed)
        loaders = [_Loader(connection, bar) for connection in connections[1:]]
        # On an empty database, build the secondary indexes once after the load (sorted, in
        # parallel) rather than row by row during it.
        deferred = await _drop_secondary_indexes(connections[0].conn)
        try:
            with _no_cyclic_gc():
                await _run(drawer, loaders, _plan(codes, communities, cases, seed))
        finally:
            indexed = time.perf_counter()
            await _create_indexes([c.conn for c in connections], deferred)
        index_seconds = time.perf_counter() - indexed
        analyzed = time.perf_counter()
        await _analyze([connection.conn for connection in connections])
        phases = {"draw (Python)": drawer.pacer.busy} | _merged(ld.phases for ld in loaders)
        if deferred:
            phases["build secondary indexes"] = index_seconds
        phases["analyze"] = time.perf_counter() - analyzed
    finally:
        bar.close()
        for connection in connections:
            await connection.conn.close()
    return SyntheticReport(
        districts=codes,
        rows=_merged(loader.rows for loader in loaders),
        seconds=round(time.perf_counter() - started, 2),
        phases={phase: round(seconds, 2) for phase, seconds in phases.items()},
        foreign_keys=(
            "checked after each district's COPY, one query per table (triggers off)"
            if connections[1].skip_fk_triggers
            else "checked row by row by PostgreSQL's triggers"
        ),
    )


async def _drop_secondary_indexes(conn: asyncpg.Connection) -> list[str]:
    """On a database without any district yet (so its tenant tables are empty), drop the
    indexes of the loaded tables that back no constraint, and return their definitions.

    Building an index once over a million sorted rows costs a fraction of updating it row
    by row. Keys and unique constraints stay: they guard the load.
    """
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM districts)"):
        return []
    rows = await conn.fetch(
        """
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
        FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
        WHERE t.relname = ANY($1::text[]) AND NOT i.indisprimary AND NOT i.indisunique
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY pg_relation_size(t.oid) DESC, 1
        """,
        list(LOADED_TABLES),
    )
    for row in rows:
        await conn.execute(f"DROP INDEX {row['name']}")
    return [str(row["definition"]) for row in rows]


async def _create_indexes(connections: list[asyncpg.Connection], definitions: list[str]) -> None:
    """Create `definitions` on all connections side by side, biggest tables first."""
    pending = list(definitions)

    async def work(conn: asyncpg.Connection) -> None:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        while pending:
            await conn.execute(pending.pop(0))

    await asyncio.gather(*(work(conn) for conn in connections))


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Switch off the cyclic garbage collector meanwhile (it is process-wide).

    Millions of new tuples set it off over and over, and each pass walks what is still
    alive: without it, drawing takes 40 % less time. It collects the districts' worlds
    (entities pointing at each other) when it is back on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _analyze(connections: list[asyncpg.Connection]) -> None:
    """Fresh statistics, so that the first queries on the new rows get sensible plans; the
    two big tables on connections of their own, side by side."""
    tables = [
        "case_events",
        "cases",
        *(t for t in LOADED_TABLES if t not in ("cases", "case_events")),
        *ROLLUP_TABLES,
    ]
    groups: list[list[str]] = [[] for _ in connections]
    for i, table in enumerate(tables):
        groups[min(i, len(groups) - 1)].append(table)

    async def run(conn: asyncpg.Connection, group: list[str]) -> None:
        # VACUUM sets the visibility map of the cases, so that comparisons read them by
        # index-only scans (ix_cases_community_created) from the start; the rollups were
        # written by the rebuild, whose deletes leave dead rows to clear.
        for table in group:
            vacuum = table == "cases" or table in ROLLUP_TABLES
            await conn.execute(f"{'VACUUM (ANALYZE)' if vacuum else 'ANALYZE'} {table}")

    await asyncio.gather(
        *(run(conn, group) for conn, group in zip(connections, groups, strict=True))
    )


ROLLUP_TABLES = (
    "assessment_case_facts",
    "assessment_rollups",
    "comparison_case_facts",
    "comparison_rollups",
)
"""Tables the rollups' rebuild fills after the load (`_roll_up`)."""


def _merged(counters: Iterable[dict[str, T]]) -> dict[str, T]:
    merged: dict[str, Any] = {}
    for counter in counters:
        for key, value in counter.items():
            merged[key] = merged.get(key, 0) + value
    return merged
