"""The deployment artefacts (`deploy/`): parsed, and every cross-reference resolved.

Compose services, Kubernetes objects, the Dockerfile and the Citus SQL name each other and
name things of the code (settings, CLI flags, tables); these tests fail when one side moves.
No database and no Docker: files, `db.models` metadata, the settings class and the CLI parser.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import BigInteger, ForeignKeyConstraint, Table, UniqueConstraint

from db.models import Base
from server.cli import build_parser
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

# --- shared readers -------------------------------------------------------------------------


@cache
def setting_env_names() -> frozenset[str]:
    """The environment variables `Settings` reads: `GONGZHI_<FIELD>` or the field's alias."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return frozenset(names)


def assert_gongzhi_command(argv: list[str], subcommand: str) -> Any:
    """`argv` is a `gongzhi <subcommand> ...` line that the real CLI parser accepts."""
    assert argv[:2] == ["gongzhi", subcommand], argv
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit as exc:  # argparse's way of refusing an unknown flag
        pytest.fail(f"`{shlex.join(argv)}` is refused by server/cli.py: exit {exc.code}")


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def gongzhi_services() -> dict[str, dict[str, Any]]:
    """The compose services that run the gongzhi image built from deploy/Dockerfile."""
    return {
        name: svc
        for name, svc in services().items()
        if isinstance(svc.get("build"), dict)
        and svc["build"].get("dockerfile") == "deploy/Dockerfile"
    }


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """A service's `depends_on` as {name: condition}, from either the list or the map form."""
    raw = service.get("depends_on", {})
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in raw.items()}


@cache
def k8s_documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(file name, object) of every YAML document under deploy/k8s."""
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                assert isinstance(doc, dict), path
                docs.append((path.name, doc))
    return tuple(docs)


def k8s_objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == kind}


def only(kind: str) -> dict[str, Any]:
    objects = k8s_objects(kind)
    assert len(objects) == 1, f"expected one {kind}, found {sorted(objects)}"
    return next(iter(objects.values()))


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    """(workload name, pod spec) of every Deployment and Job."""
    for kind in ("Deployment", "Job"):
        for name, obj in k8s_objects(kind).items():
            yield f"{kind}/{name}", obj["spec"]["template"]["spec"]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@cache
def dockerfile() -> tuple[tuple[str, str], ...]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        keyword, _, rest = pending.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return tuple(instructions)


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in dockerfile():
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def exposed_port() -> int:
    (port,) = [rest for keyword, rest in stages()[-1] if keyword == "EXPOSE"]
    return int(port.split("/")[0])


# --- Dockerfile -----------------------------------------------------------------------------

COMPILERS = re.compile(r"\b(gcc|g\+\+|cc|clang|make|build-essential|libpq-dev|python3?-dev)\b")


def test_dockerfile_is_multi_stage_with_a_clean_final_stage() -> None:
    all_stages = stages()
    assert len(all_stages) > 1, "one FROM: the build happens in the image that ships"
    builder_names = {
        rest.split()[-1] for stage in all_stages[:-1] for kw, rest in stage if kw == "FROM"
    }
    final = all_stages[-1]
    assert final[0][0] == "FROM"
    assert final[0][1].split()[0] not in builder_names, "the final stage must start afresh"
    for keyword, rest in final:
        if keyword == "RUN":
            assert not COMPILERS.search(rest), f"build tools in the final image: {rest}"
            assert "pip install" not in rest, "the final stage installs nothing with pip"
    copies = [rest for kw, rest in final if kw == "COPY"]
    assert any(re.match(r"--from=\w+\s+/opt/venv\b", c) for c in copies), copies


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [rest for keyword, rest in stages()[-1] if keyword == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_dockerfile_serves_on_its_exposed_port_with_a_healthcheck() -> None:
    final = stages()[-1]
    (cmd,) = [rest for keyword, rest in final if keyword == "CMD"]
    argv = json.loads(cmd)
    args = assert_gongzhi_command(argv, "serve")
    assert args.host == "0.0.0.0"  # noqa: S104 - a container listens on every interface
    assert args.port == exposed_port() == 8000
    assert args.no_demo, "a production image must not seed the demo world"
    (check,) = [rest for keyword, rest in final if keyword == "HEALTHCHECK"]
    assert f"127.0.0.1:{exposed_port()}/healthz" in check
    assert "python" in check
    assert "curl" not in check
    assert "wget" not in check


def test_dockerfile_copies_every_package_the_project_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.rstrip("*") for p in patterns}
    sources: set[str] = set()
    for keyword, rest in stages()[0]:
        if keyword == "COPY" and not rest.startswith("--from"):
            *srcs, _ = rest.split()
            sources.update(s.rstrip("/") for s in srcs)
    assert packages <= sources, f"not copied into the builder: {packages - sources}"
    assert {"pyproject.toml", pyproject["project"]["readme"]} <= sources
    for source in sources:
        assert (ROOT / source).exists(), source
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for source in sources:
        assert f"!{source}" in ignore or f"!{source}/" in ignore, (
            f"{source} is excluded from the build context by Dockerfile.dockerignore"
        )


# --- compose --------------------------------------------------------------------------------


def test_compose_depends_on_names_services_with_known_conditions() -> None:
    all_services = services()
    for name, svc in all_services.items():
        for target, condition in depends_on(svc).items():
            assert target in all_services, f"{name} depends on unknown service {target}"
            assert condition in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
            if condition == "service_healthy":
                has_check = "healthcheck" in all_services[target] or target in gongzhi_services()
                assert has_check, f"{name} waits for {target} to be healthy; it has no check"


def test_compose_migrates_once_before_the_app_instances() -> None:
    ours = gongzhi_services()
    migrations = {
        n for n, s in ours.items() if s.get("command", [None])[:2] == ["gongzhi", "migrate"]
    }
    assert migrations == {"migrate"}
    assert_gongzhi_command(ours["migrate"]["command"], "migrate")
    database = depends_on(ours["migrate"])
    assert database == {"postgres": "service_healthy"}
    assert services()["postgres"]["image"].startswith("postgres:16")
    assert "healthcheck" in services()["postgres"]
    apps = {n: s for n, s in ours.items() if n not in migrations}
    assert len(apps) >= 2, "two app instances at least"
    for name, svc in apps.items():
        assert "command" not in svc, f"{name}: app instances run the image's `gongzhi serve`"
        assert depends_on(svc).get("migrate") == "service_completed_successfully", name
        for published in svc.get("ports", []):
            assert published.rsplit(":", 1)[1] == str(exposed_port()), published


def test_compose_app_services_share_one_database_and_one_secret() -> None:
    ours = gongzhi_services()
    envs = {name: svc["environment"] for name, svc in ours.items()}
    for key in ("DATABASE_URL", "GONGZHI_JWT_SECRET", "GONGZHI_ROLE_PASSWORD"):
        values = {name: env.get(key) for name, env in envs.items()}
        assert None not in values.values(), f"{key} missing: {values}"
        assert len(set(values.values())) == 1, f"{key} differs between instances: {values}"
    url = next(iter(envs.values()))["DATABASE_URL"]
    scheme, _, rest = url.partition("://")
    assert scheme in {"postgresql", "postgres"}
    credentials, _, location = rest.rpartition("@")
    host_port, _, database = location.partition("/")
    host = host_port.split(":")[0]
    assert host in services(), f"DATABASE_URL names host {host!r}, not a compose service"
    postgres_env = services()[host]["environment"]
    assert credentials.split(":")[0] == postgres_env["POSTGRES_USER"]
    assert database == postgres_env["POSTGRES_DB"]
    assert depends_on(ours["migrate"]).get(host) == "service_healthy"


def test_compose_gongzhi_services_set_only_real_settings() -> None:
    for name, svc in gongzhi_services().items():
        unknown = set(svc["environment"]) - setting_env_names()
        assert not unknown, f"{name} sets variables server/settings.py does not read: {unknown}"
        build = svc["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        )


def test_compose_balancer_and_named_objects_resolve() -> None:
    data = compose()
    for name, svc in services().items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in data.get("volumes", {}), f"{name}: undeclared volume {source}"
        for config in svc.get("configs", []):
            assert config["source"] in data.get("configs", {}), f"{name}: unknown config"
    upstreams = re.findall(
        r"^\s*server\s+([\w.-]+):(\d+)", data["configs"]["nginx"]["content"], re.MULTILINE
    )
    assert upstreams, "nginx balances nothing"
    apps = {n for n, s in gongzhi_services().items() if "command" not in s}
    assert {host for host, _ in upstreams} == apps
    assert {int(port) for _, port in upstreams} == {exposed_port()}
    assert set(depends_on(services()["nginx"])) == apps


# --- Kubernetes -----------------------------------------------------------------------------


def test_k8s_manifests_parse_are_namespace_less_and_listed_in_the_kustomization() -> None:
    assert k8s_documents()
    for file, doc in k8s_documents():
        assert {"apiVersion", "kind"} <= set(doc), file
        assert "namespace" not in doc.get("metadata", {}), f"{file} names a namespace"
    (kustomization,) = [d for f, d in k8s_documents() if f == "kustomization.yaml"]
    listed = set(kustomization["resources"])
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == manifests
    kinds = {doc["kind"] for _, doc in k8s_documents()}
    required = {"ConfigMap", "Secret", "Job", "Deployment", "Service", "HorizontalPodAutoscaler"}
    assert required <= kinds
    image_names = {image["name"] for image in kustomization.get("images", [])}
    for workload, spec in pod_specs():
        for container in spec["containers"]:
            assert container["image"].split(":")[0] in image_names, workload


def test_k8s_service_selects_the_deployment_pods_on_the_container_port() -> None:
    deployment = only("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert matches(deployment["spec"]["selector"]["matchLabels"], pod_labels)
    service = only("Service")
    assert matches(service["spec"]["selector"], pod_labels)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    port_names = {p.get("name") for p in container["ports"]}
    port_numbers = {p["containerPort"] for p in container["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in port_names | port_numbers
    for pdb in k8s_objects("PodDisruptionBudget").values():
        assert matches(pdb["spec"]["selector"]["matchLabels"], pod_labels)


def test_k8s_hpa_scales_the_deployment_on_cpu() -> None:
    hpa = only("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert target["kind"] == "Deployment"
    assert target["name"] in k8s_objects("Deployment")
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu"}
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    (container,) = k8s_objects("Deployment")[target["name"]]["spec"]["template"]["spec"][
        "containers"
    ]
    assert "cpu" in container["resources"]["requests"], "CPU utilisation needs a CPU request"


def test_k8s_probes_ask_readyz_and_healthz_on_the_served_port() -> None:
    deployment = only("Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = assert_gongzhi_command(container["command"], "serve")
    assert args.no_demo
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    assert args.port in ports.values(), f"serve listens on {args.port}, not a container port"
    assert args.port == exposed_port()
    expected = {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}
    for probe_name, path in expected.items():
        probe = container[probe_name]["httpGet"]
        assert probe["path"] == path, probe_name
        port = probe["port"]
        assert ports.get(port, port) == args.port, f"{probe_name} asks port {port}"
    if "startupProbe" in container:
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 0


def test_k8s_env_refs_name_defined_objects_and_real_settings() -> None:
    config_maps, secrets = k8s_objects("ConfigMap"), k8s_objects("Secret")
    used_config_maps: set[str] = set()
    used_secrets: set[str] = set()
    for workload, spec in pod_specs():
        for container in spec.get("initContainers", []) + spec["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    used_config_maps.add(source["configMapRef"]["name"])
                if "secretRef" in source:
                    used_secrets.add(source["secretRef"]["name"])
            for var in container.get("env", []):
                assert var["name"] in setting_env_names(), f"{workload}: {var['name']}"
                ref = var.get("valueFrom", {})
                if "configMapKeyRef" in ref:
                    used_config_maps.add(ref["configMapKeyRef"]["name"])
                if "secretKeyRef" in ref:
                    used_secrets.add(ref["secretKeyRef"]["name"])
    assert used_config_maps, "no workload reads the ConfigMap"
    assert used_secrets, "no workload reads the Secret"
    assert used_config_maps <= set(config_maps), used_config_maps - set(config_maps)
    assert used_secrets <= set(secrets), used_secrets - set(secrets)
    for name, obj in {**config_maps, **secrets}.items():
        keys = set(obj.get("data", {})) | set(obj.get("stringData", {}))
        unknown = keys - setting_env_names()
        assert not unknown, f"{name} holds variables server/settings.py does not read: {unknown}"
    keys = {k for s in secrets.values() for k in s.get("stringData", {}) | s.get("data", {})}
    assert {"DATABASE_URL", "GONGZHI_JWT_SECRET"} <= keys
    for secret in secrets.values():
        for key, value in secret.get("stringData", {}).items():
            assert "CHANGE-ME" in value, f"{key}: the committed Secret holds placeholders only"


def test_k8s_job_migrates_and_pods_run_as_non_root() -> None:
    job = only("Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert_gongzhi_command(container["command"], "migrate")
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"Never", "OnFailure"}
    for workload, spec in pod_specs():
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True, workload
        assert context.get("runAsUser", 1) != 0, workload
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, workload
            assert {"requests", "limits"} <= set(container["resources"]), workload
    users = [rest for keyword, rest in stages()[-1] if keyword == "USER"]
    image_uid = users[-1].split(":")[0]
    for workload, spec in pod_specs():
        assert str(spec["securityContext"]["runAsUser"]) == image_uid, workload


# --- Citus ----------------------------------------------------------------------------------

CALL = re.compile(r"\bcreate_(?:distributed|reference)_table\s*\(")
REFERENCE = re.compile(r"\bcreate_reference_table\(\s*'(\w+)'\s*\)")
DISTRIBUTED = re.compile(
    r"\bcreate_distributed_table\(\s*'(\w+)'\s*,\s*'(\w+)'"
    r"(?:\s*,\s*colocate_with\s*=>\s*'(\w+)')?\s*\)"
)


@cache
def citus_calls() -> tuple[tuple[str, str, str | None, str | None], ...]:
    """(table, kind, distribution column, colocate_with) in the order of distribute.sql."""
    sql = "\n".join(
        line.split("--", 1)[0]
        for line in (DEPLOY / "citus" / "distribute.sql").read_text().splitlines()
    )
    found: list[tuple[int, tuple[str, str, str | None, str | None]]] = []
    for m in REFERENCE.finditer(sql):
        found.append((m.start(), (m[1], "reference", None, None)))
    for m in DISTRIBUTED.finditer(sql):
        found.append((m.start(), (m[1], "distributed", m[2], m[3])))
    assert len(found) == len(CALL.findall(sql)), (
        "a call distribute.sql has that this test cannot read"
    )
    return tuple(call for _, call in sorted(found))


def tables() -> dict[str, Table]:
    return dict(Base.metadata.tables)


def is_tenant(table: Table) -> bool:
    return "district_id" in table.c


def test_citus_sql_names_every_table_once_with_the_right_kind() -> None:
    names = [table for table, *_ in citus_calls()]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"distributed twice: {duplicates}"
    assert set(names) == set(tables()), (
        f"missing: {set(tables()) - set(names)}, unknown: {set(names) - set(tables())}"
    )
    for name, kind, column, _ in citus_calls():
        if is_tenant(tables()[name]):
            assert (kind, column) == ("distributed", "district_id"), name
        else:
            assert kind == "reference", f"{name} has no district_id: a reference table"


def test_citus_sql_colocates_every_distributed_table_with_one_anchor() -> None:
    distributed = [
        (name, colocate) for name, kind, _, colocate in citus_calls() if kind == "distributed"
    ]
    (anchor, anchor_colocate), *others = distributed
    assert anchor_colocate == "none", "the anchor starts its own co-location group"
    for name, colocate in others:
        assert colocate == anchor, f"{name} is co-located with {colocate}, not {anchor}"


def test_citus_sql_distributes_parents_before_children() -> None:
    position = {name: i for i, (name, *_) in enumerate(citus_calls())}
    for name, table in tables().items():
        for fk in table.foreign_key_constraints:
            parent = fk.referred_table.name
            if parent != name:
                assert position[parent] < position[name], f"{name} comes before its parent {parent}"


@pytest.mark.parametrize("name", sorted(n for n, t in Base.metadata.tables.items() if is_tenant(t)))
def test_a_tenant_table_is_citus_ready(name: str) -> None:
    """Citus enforces primary keys, unique constraints and foreign keys within a shard only:
    each must include the distribution column (foreign keys at the same position on both
    sides), and identity columns of a distributed table must be bigint."""
    table = tables()[name]
    assert "district_id" in table.primary_key.columns, f"{name}: primary key"
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            assert "district_id" in constraint.columns, f"{name}: {constraint.name}"
    for index in table.indexes:
        if index.unique:
            assert "district_id" in index.columns, f"{name}: {index.name}"
    for fk in table.foreign_key_constraints:
        assert isinstance(fk, ForeignKeyConstraint)
        local = [c.name for c in fk.columns]
        remote = [e.column for e in fk.elements]
        assert "district_id" in local, f"{name}: {fk.name}"
        at = local.index("district_id")
        if is_tenant(fk.referred_table):
            assert remote[at].name == "district_id", f"{name}: {fk.name} pairs district_id wrongly"
        else:
            assert remote[at].table.name == "districts", f"{name}: {fk.name}"
        assert (fk.ondelete or "").upper() not in {"SET NULL", "SET DEFAULT"}, fk.name
        assert (fk.onupdate or "").upper() not in {"SET NULL", "SET DEFAULT", "CASCADE"}, fk.name
    for column in table.columns:
        if column.identity is not None:
            assert isinstance(column.type, BigInteger), f"{name}.{column.name}: bigint identity"


# --- documentation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "readme", [DEPLOY / "README.md", DEPLOY / "citus" / "README.md"], ids=lambda p: p.parent.name
)
def test_readme_links_resolve(readme: Path) -> None:
    for target in re.findall(r"\]\(([^)#\s]+)\)", readme.read_text()):
        if not target.startswith(("http://", "https://")):
            assert (readme.parent / target).exists(), f"{readme.name} links to missing {target}"
