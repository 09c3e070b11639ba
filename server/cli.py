"""The `gongzhi` command line: serve, migrate, seed, token, schema."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging.config
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from db import migrate
from db.models import Community, District, Partner, Person, Street
from db.models.enums import Role
from db.session import Database
from db.tenancy import use_district
from server.auth import AuthConfigError, TokenVerifier, issue_token, jwt_secret
from server.logs import logging_config
from server.runtime import open_database, owner_url, prepare, wait_for_database
from server.settings import Settings, get_settings


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    from server import serving

    logging.config.dictConfig(logging_config(settings.log_format, args.log_level))
    serving.empty_metrics_dir()
    # Once, here, before any worker starts: the embedded server, migrations, the demo seed.
    url = owner_url(settings)
    loaded = asyncio.run(prepare(settings, url, seed_demo=not args.no_demo))
    if loaded:
        print("Loaded the demo data set (海淀区 haidian, 西城区 xicheng).", file=sys.stderr)
    banner = None  # without a development token, uvicorn's own line says where it listens
    if not settings.is_production:
        token = asyncio.run(_dev_token(settings, url))
        if token:
            banner = (
                f"\nGraphiQL:  http://{args.host}:{args.port}/graphql\n"
                f"Token (district administrator of {token[0]}), for GraphiQL's headers:\n"
                f'{{"Authorization": "Bearer {token[1]}"}}\n'
            )
    if not settings.is_production:
        # Workers read the development secret from the data folder: it must exist before.
        jwt_secret(settings)
    app: object
    if args.workers > 1:
        # Workers are new processes that read their settings from the environment.
        os.environ["DATABASE_URL"] = url
        # Each worker divides the cost budgets by their number (without REDIS_URL).
        os.environ["GONGZHI_WORKERS"] = str(args.workers)
        app = "server.serving:worker_app"
    else:
        from server.app import create_app

        app = create_app(settings, open_database(settings, url))
    status = serving.serve(
        settings,
        app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        banner=banner,
    )
    if status:
        raise SystemExit(status)


async def _dev_token(settings: Settings, url: str) -> tuple[str, str] | None:
    database = open_database(settings, url)
    try:
        async with database.platform_session() as session:
            code = await session.scalar(select(District.code).order_by(District.id).limit(1))
    finally:
        await database.dispose()
    if code is None:
        return None
    try:
        token = issue_token(settings, Principal(role=Role.DISTRICT_ADMIN, district_code=code))
    except AuthConfigError:
        return None  # RS256/ES256 without a private key here: tokens come from elsewhere
    return code, token


def _migrate(args: argparse.Namespace, settings: Settings) -> None:
    url = owner_url(settings)
    asyncio.run(wait_for_database(settings, url))
    if args.downgrade:
        asyncio.run(migrate.downgrade(url, args.downgrade))
    else:
        asyncio.run(migrate.upgrade(url, args.revision, role_password=settings.role_password))
    print(f"database at revision {asyncio.run(migrate.current_revision(url))}", file=sys.stderr)


def _seed(args: argparse.Namespace, settings: Settings) -> None:
    url = owner_url(settings)
    asyncio.run(prepare(settings, url, seed_demo=False))
    if args.demo:
        asyncio.run(_seed_demo(settings, url))
    if args.synthetic:
        from db.seed.synthetic import load_synthetic

        report = asyncio.run(
            load_synthetic(
                url,
                districts=args.districts,
                communities=args.communities,
                cases=args.cases,
                progress=sys.stderr.isatty(),
            )
        )
        print(report, file=sys.stderr)


async def _seed_demo(settings: Settings, url: str) -> None:
    from db.seed.demo import load_demo

    database = open_database(settings, url)
    try:
        for code, created in (await load_demo(database)).items():
            print(
                f"{code}: {'loaded' if created else 'already present, left as it is'}",
                file=sys.stderr,
            )
    finally:
        await database.dispose()


_SCOPES: dict[str, Any] = {"street": Street, "community": Community, "partner": Partner}


async def _lookup(session: AsyncSession, model: Any, value: str, what: str) -> int:
    """Id of the `model` row whose id or name is `value`, in the session's district."""
    condition = model.name == value
    if model is Person:
        condition = or_(condition, Person.login == value)
    if value.isdigit():
        condition = or_(condition, model.id == int(value))
    ids = list(await session.scalars(select(model.id).where(condition).limit(2)))
    if len(ids) != 1:
        raise CliError(f"no single {what} {value!r} in this district")
    return int(ids[0])


async def _principal_for(database: Database, args: argparse.Namespace, role: Role) -> Principal:
    async with database.platform_session(write=True) as session, session.begin():
        district_id = await session.scalar(
            select(District.id).where(District.code == args.district)
        )
        if district_id is None:
            raise CliError(f"no district with code {args.district!r}")
        await use_district(session, district_id)
        ids: dict[str, int | None] = {}
        for name, model in {**_SCOPES, "person": Person}.items():
            value = getattr(args, name)
            ids[name] = None if value is None else await _lookup(session, model, value, name)
    return Principal(
        role=role,
        district_code=args.district,
        person_id=ids["person"],
        street_id=ids["street"],
        community_id=ids["community"],
        partner_id=ids["partner"],
    )


_REQUIRED_SCOPE = {
    Role.PARTNER_STAFF: "partner",
    Role.STREET_OFFICER: "street",
    Role.COMMITTEE_MEMBER: "community",
    Role.COMMUNITY_WORKER: "community",
}


def _token(args: argparse.Namespace, settings: Settings) -> None:
    role = Role(args.role)
    needed = _REQUIRED_SCOPE.get(role)
    if needed and getattr(args, needed) is None:
        raise CliError(f"role {role.value} needs --{needed}")
    given = [name for name in _SCOPES if getattr(args, name) is not None]
    if len(given) > 1:
        raise CliError("give at most one of --street, --community, --partner")
    if role is Role.PLATFORM_OPERATOR:
        principal = Principal(role=role)
    else:
        if not args.district:
            raise CliError(f"role {role.value} needs --district")
        database = open_database(settings)

        async def build() -> Principal:
            try:
                return await _principal_for(database, args, role)
            finally:
                await database.dispose()

        principal = asyncio.run(build())
    ttl = dt.timedelta(hours=args.ttl_hours) if args.ttl_hours else None
    try:
        # HS256 with the secret, or RS256/ES256 with GONGZHI_JWT_PRIVATE_KEY_FILE (and its kid).
        signed = issue_token(settings, principal, ttl=ttl)
    except AuthConfigError as exc:
        raise CliError(str(exc)) from exc
    print(signed)


def _documents(args: argparse.Namespace, settings: Settings) -> None:
    from db import documents
    from resolvers.root import build_schema
    from server import manifests

    url = owner_url(settings)
    asyncio.run(prepare(settings, url, seed_demo=False))
    if args.action == "add":
        if not args.files:
            raise CliError("documents add needs .graphql files or a .json manifest")
        schema = build_schema(production=False, max_nodes=settings.max_query_nodes)
        pairs: list[tuple[str, str | None]] = []
        for name in args.files:
            try:
                found = manifests.read(Path(name))
                manifests.check(schema._schema, found, name)
            except manifests.ManifestError as exc:
                raise CliError(str(exc)) from None
            pairs.extend(found)

        async def add() -> list[documents.Document]:
            database = open_database(settings, url)
            try:
                async with database.platform_transaction() as session:
                    return await documents.register(session, pairs)
            finally:
                await database.dispose()

        for document in asyncio.run(add()):
            print(f"sha256:{document.sha256}\t{document.manifest_id or ''}")
        return

    async def listed() -> Sequence[documents.Document]:
        database = open_database(settings, url)
        try:
            async with database.platform_session(write=True) as session:
                return await documents.registered(session)
        finally:
            await database.dispose()

    for document in asyncio.run(listed()):
        first = " ".join(document.body.split())[:70]
        print(f"sha256:{document.sha256}\t{document.manifest_id or ''}\t{first}")


def _import_orders(args: argparse.Namespace, settings: Settings) -> None:
    """`gongzhi import-orders --district CODE FILE`: the 12345 hotline's work orders."""
    from tqdm import tqdm

    from db import work_orders

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no file {path}")
    url = owner_url(settings)
    asyncio.run(prepare(settings, url, seed_demo=False))
    # A progress bar on a terminal (tqdm, as `seed --synthetic` shows its own).
    bar = tqdm(unit="order", disable=not sys.stderr.isatty())

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    async def run() -> work_orders.Outcome:
        database = open_database(settings, url)
        try:
            async with database.platform_session() as session:
                district = await session.scalar(
                    select(District.id).where(District.code == args.district)
                )
            if district is None:
                raise CliError(f"no district with code {args.district!r}")
            return await work_orders.import_orders(database, district, path, progress)
        finally:
            await database.dispose()

    started = time.monotonic()
    try:
        outcome = asyncio.run(run())
    finally:
        bar.close()
    print(
        f"{outcome.accepted:,} orders accepted ({outcome.created:,} new, "
        f"{outcome.dispatched:,} of them dispatched to a partner; {outcome.updated:,} updated; "
        f"{outcome.unchanged:,} unchanged), {len(outcome.refused):,} refused, "
        f"in {time.monotonic() - started:.1f} s"
    )
    for refusal in outcome.refused:
        print(f"line {refusal.line}: {refusal.order_no or '-'}: {refusal.reason}")
    if outcome.refused:
        raise SystemExit(1)


def _assessment_rollups(args: argparse.Namespace, settings: Settings) -> None:
    """`gongzhi assessment-rollups`: count the assessment's rollups anew from the cases, each
    district in a transaction of its own (PostgreSQL keeps them as cases change; this is for
    data loaded with triggers off, or restored, or a changed definition)."""
    from db import assessment_rollups
    from db.models import AssessmentRollup

    _rollups(args, settings, assessment_rollups.rebuild, AssessmentRollup)


def _comparison_rollups(args: argparse.Namespace, settings: Settings) -> None:
    """`gongzhi comparison-rollups`: count the rollups of comparisons and time series anew
    from the cases, each district in a transaction of its own (as `assessment-rollups`)."""
    from db import comparison_rollups
    from db.models import ComparisonRollup

    _rollups(args, settings, comparison_rollups.rebuild, ComparisonRollup)


def _rollups(args: argparse.Namespace, settings: Settings, rebuild: Any, model: Any) -> None:
    from sqlalchemy import func, text

    url = owner_url(settings)
    asyncio.run(prepare(settings, url, seed_demo=False))

    async def run() -> list[tuple[str, int, float]]:
        database = open_database(settings, url)
        done = []
        try:
            async with database.platform_session() as session:
                query = select(District.id, District.code).order_by(District.code)
                if args.district:
                    query = query.where(District.code == args.district)
                districts = (await session.execute(query)).all()
            if args.district and not districts:
                raise CliError(f"no district with the code {args.district!r}")
            for district_id, code in districts:
                started = time.monotonic()
                async with database.tenant_session(district_id) as session, session.begin():
                    await session.execute(text("SET LOCAL statement_timeout = 0"))
                    await rebuild(session, [district_id])
                    rows = await session.scalar(select(func.count()).select_from(model))
                done.append((code, int(rows or 0), time.monotonic() - started))
        finally:
            await database.dispose()
        return done

    for code, rows, seconds in asyncio.run(run()):
        print(f"{code}: {rows:,} rollup rows, counted in {seconds:.1f} s")


def _assessment_weights(args: argparse.Namespace, settings: Settings) -> None:
    """`gongzhi assessment-weights`: the platform-wide weights of the monthly assessment from a
    month on (districts may override them with `setAssessmentWeights`), or list them."""
    from sqlalchemy.dialects.postgresql import insert

    from db.models import AssessmentWeights

    url = owner_url(settings)
    asyncio.run(prepare(settings, url, seed_demo=False))
    values = {"response": args.response, "resolution": args.resolution}
    values["satisfaction"] = args.satisfaction
    given = [v for v in values.values() if v is not None]
    if given and (len(given) != 3 or args.effective is None):
        raise CliError("give --from and all of --response, --resolution, --satisfaction")
    if given and abs(sum(given) - 100) > 1e-9:
        raise CliError("the three weights add up to 100")
    month = None
    if args.effective is not None:
        try:
            year, number = (int(x) for x in args.effective.split("-"))
            month = dt.date(year, number, 1)
        except ValueError:
            raise CliError(f"--from is a month written YYYY-MM, got {args.effective!r}") from None

    async def run() -> list[AssessmentWeights]:
        database = open_database(settings, url)
        try:
            async with database.platform_transaction() as session:
                if given:
                    await session.execute(
                        insert(AssessmentWeights)
                        .values(effective_month=month, **values)
                        .on_conflict_do_update(index_elements=["effective_month"], set_=values)
                    )
                rows = await session.scalars(
                    select(AssessmentWeights).order_by(AssessmentWeights.effective_month)
                )
                return list(rows)
        finally:
            await database.dispose()

    for row in asyncio.run(run()):
        print(
            f"from {row.effective_month:%Y-%m}: response {row.response}, "
            f"resolution {row.resolution}, satisfaction {row.satisfaction}"
        )


def _schema(args: argparse.Namespace, settings: Settings) -> None:
    from resolvers.root import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gongzhi", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, seed the demo if empty, and serve HTTP")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--no-demo", action="store_true", help="do not seed an empty database")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes on the port (default GONGZHI_WORKERS, 1)",
    )
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=_serve)

    mig = commands.add_parser("migrate", help="apply the migrations (or downgrade)")
    mig.add_argument("--revision", default="head")
    mig.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION (e.g. base)")
    mig.set_defaults(handler=_migrate)

    seed = commands.add_parser("seed", help="load the demo world or a synthetic data set")
    seed.add_argument("--demo", action="store_true", help="the seed article's world (idempotent)")
    seed.add_argument("--synthetic", action="store_true", help="a large generated data set")
    seed.add_argument("--districts", type=int, default=10)
    seed.add_argument("--communities", type=int, default=1000)
    seed.add_argument("--cases", type=int, default=100_000)
    seed.set_defaults(handler=_seed)

    token = commands.add_parser("token", help="print a signed development token")
    token.add_argument("--district", help="district code, e.g. haidian")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--street", help="street id or name")
    token.add_argument("--community", help="community id or name")
    token.add_argument("--partner", help="partner organisation id or name")
    token.add_argument("--person", help="person id, login or name the token speaks for")
    token.add_argument("--ttl-hours", type=float, default=None)
    token.set_defaults(handler=_token)

    docs = commands.add_parser(
        "documents", help="register trusted documents (add FILE…) or list the registered ones"
    )
    docs.add_argument("action", choices=["add", "list"])
    docs.add_argument("files", nargs="*", help=".graphql files, or persisted-operations manifests")
    docs.set_defaults(handler=_documents)

    orders = commands.add_parser(
        "import-orders",
        help="import 12345 hotline work orders (CSV or JSON lines) into a district",
    )
    orders.add_argument("--district", required=True, help="district code, e.g. haidian")
    orders.add_argument("file", help="the orders: .csv with a header row, or .jsonl")
    orders.set_defaults(handler=_import_orders)

    weights = commands.add_parser(
        "assessment-weights",
        help="set (or, without values, list) the platform-wide assessment weights",
    )
    weights.add_argument("--from", dest="effective", help="the first month, YYYY-MM")
    weights.add_argument("--response", type=float, help="percent")
    weights.add_argument("--resolution", type=float, help="percent")
    weights.add_argument("--satisfaction", type=float, help="percent")
    weights.set_defaults(handler=_assessment_weights)

    rollups = commands.add_parser(
        "assessment-rollups",
        help="count the monthly assessment's rollups anew from the cases (all districts, or one)",
    )
    rollups.add_argument("--district", help="district code, e.g. haidian (default: every one)")
    rollups.set_defaults(handler=_assessment_rollups)

    compared = commands.add_parser(
        "comparison-rollups",
        help="count the rollups of comparisons and time series anew from the cases (all "
        "districts, or one)",
    )
    compared.add_argument("--district", help="district code, e.g. haidian (default: every one)")
    compared.set_defaults(handler=_comparison_rollups)

    sdl = commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    sdl.set_defaults(handler=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    if args.command == "serve":
        args.host = args.host or settings.host
        args.port = args.port or settings.port
        args.workers = args.workers or settings.workers
        if args.workers < 1:
            build_parser().error("--workers must be at least 1")
    if args.command == "seed" and not (args.demo or args.synthetic):
        build_parser().error("seed needs --demo or --synthetic")
    try:
        # Bad authentication settings stop here, once, with a clear line.
        if args.command == "serve":
            TokenVerifier(settings)
        args.handler(args, settings)
    except (CliError, AuthConfigError) as exc:
        print(f"gongzhi: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
