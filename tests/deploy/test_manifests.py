"""The deployment files under ``deploy/`` parse, match their schemas, run the
processes the Dockerfile describes, and set only settings MemoryHub reads.

Neither Docker nor Kubernetes runs on the development and CI machines, so
this is what checks those files: every YAML document parses; the Kubernetes
manifests validate, strictly (unknown fields fail), against the JSON schemas
that ``kubernetes-validate`` bundles, for the oldest and the newest version
it knows; the Compose file validates against the Compose specification's
schema that ``check-jsonschema`` vendors; and every environment variable the
files set is one that MemoryHub's code reads, so a misspelt name fails here
instead of being silently ignored in production. No database is needed.
"""

import fnmatch
import importlib.resources
import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured
from kubernetes_validate.utils import all_versions, latest_version

from memoryhub.crypto.keys import MasterKeyRing

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose.yaml"

# The oldest Kubernetes whose schemas kubernetes-validate bundles, and the
# newest: a field removed or added between them fails one of the two.
KUBERNETES_VERSIONS = (all_versions()[0], latest_version())

APP_SERVICES = ("migrate", "web", "worker", "beat", "mcp")
APP_DEPLOYMENTS = (
    "memoryhub-web",
    "memoryhub-worker",
    "memoryhub-beat",
    "memoryhub-mcp",
)
APP_UID = 10001  # the Dockerfile's `useradd --uid`

# Read by libraries rather than by MemoryHub's code (the README's "Set for
# third-party libraries"), so the scan below cannot find them.
THIRD_PARTY_NAMES = {"DJANGO_SETTINGS_MODULE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}
# What the pgvector/pgvector (official postgres) image reads on its first start.
POSTGRES_IMAGE_NAMES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
# Names that only tests set: a deployment that sets them runs a test setup.
TEST_ONLY_NAMES = {
    "MEMORYHUB_TESTING",
    "MEMORYHUB_TEST_DB_NAME",
    "MEMORYHUB_TEST_REDIS_URL",
    "MEMORYHUB_CELERY_EAGER",
}
# Values that are credentials, or URLs that may carry one: they belong in a
# Secret, never a ConfigMap.
CREDENTIAL_NAME = re.compile(
    r"(_KEY|_KEYS|_PASSWORD|_TOKEN|_USER|^DATABASE_URL|^CELERY_BROKER_URL"
    r"|^CELERY_RESULT_BACKEND|_CACHE_URL)$"
)
# Values that are secret in every deployment: templates hold placeholders.
SECRET_NAME = re.compile(r"(_KEY|_KEYS|_PASSWORD|_TOKEN|^DATABASE_URL)$")
PLACEHOLDER = re.compile(r"change-me|REPLACE")

_READ_CALL = re.compile(
    r"""(?:\benv_(?:str|int|bool|float|list|required)\(
          |\bos\.environ(?:\.get|\.setdefault|\.pop)?\(
          |\bos\.getenv\(
          |\bos\.environ\[
        )\s*["']([A-Z][A-Z0-9_]*)["']""",
    re.VERBOSE,
)
_NOT_CODE = {
    ".git",
    ".venv",
    "var",
    "node_modules",
    "staticfiles",
    "tests",
    "benchmarks",
}
# `NAME=value` in an env file, also commented out (documented, not set).
_ENV_FILE_LINE = re.compile(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
# `NAME: value` commented out in a ConfigMap or Secret (suggested settings).
_YAML_COMMENTED_KEY = re.compile(r"^ +# *([A-Z][A-Z0-9_]*): ", re.MULTILINE)


def _documents(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _yaml_files() -> list[Path]:
    return sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])


SECRETS = KUBE / "secrets"  # applied on their own: the base never overwrites them


def _manifest_files(where: Path | None = None) -> list[Path]:
    """Manifests in ``where`` (default: the base and the secrets)."""
    found = where.glob("*.yaml") if where else KUBE.rglob("*.yaml")
    return sorted(p for p in found if p.name != "kustomization.yaml")


@cache
def _manifests() -> tuple[dict, ...]:
    return tuple(doc for path in _manifest_files() for doc in _documents(path))


def _manifest_ids() -> list[str]:
    return [f"{doc['kind']}/{doc['metadata']['name']}" for doc in _manifests()]


def _resource(kind: str, name: str) -> dict:
    found = [
        doc
        for doc in _manifests()
        if doc["kind"] == kind and doc["metadata"]["name"] == name
    ]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _pod_specs() -> dict[str, dict]:
    """Pod templates of every Deployment and Job, by workload name."""
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]
        for doc in _manifests()
        if doc["kind"] in ("Deployment", "Job")
    }


def _containers(pod: dict) -> list[dict]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def _main_container(name: str) -> dict:
    (container,) = _pod_specs()[name]["containers"]
    return container


def _port_number(container: dict, port) -> int:
    """A probe's or Service's port, resolving a named container port."""
    if isinstance(port, int):
        return port
    for entry in container.get("ports", []):
        if entry["name"] == port:
            return entry["containerPort"]
    raise AssertionError(f"{container['name']} has no port named {port!r}")


@cache
def _compose() -> dict:
    (document,) = _documents(COMPOSE)
    return document


def _service(name: str) -> dict:
    return _compose()["services"][name]


def _command(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def _env_files(service: dict) -> list[Path]:
    entries = service.get("env_file", [])
    entries = [entries] if isinstance(entries, str) else entries
    return [
        DEPLOY / (entry if isinstance(entry, str) else entry["path"])
        for entry in entries
    ]


def _env_example(env_file: Path) -> Path:
    return env_file.with_name(env_file.name + ".example")


@cache
def _configured_names() -> frozenset[str]:
    """Every environment variable MemoryHub's own code reads."""
    names = set(THIRD_PARTY_NAMES)
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in _NOT_CODE]
        for file in files:
            if file.endswith(".py"):
                text = (Path(folder) / file).read_text(encoding="utf-8")
                names.update(_READ_CALL.findall(text))
    return frozenset(names)


def _names_set_by_compose() -> dict[str, set[str]]:
    """Variable names each MemoryHub service sets, by where they are set."""
    found: dict[str, set[str]] = {}
    for name in APP_SERVICES:
        service = _service(name)
        environment = service.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        found.setdefault(f"compose.yaml services.{name}.environment", set()).update(
            environment
        )
        for env_file in _env_files(service):
            example = _env_example(env_file)
            found.setdefault(example.name, set()).update(
                _ENV_FILE_LINE.findall(example.read_text())
            )
    return found


def _names_set_by_kubernetes() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for doc in _manifests():
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "ConfigMap":
            found[where] = set(doc.get("data", {}))
        elif doc["kind"] == "Secret":
            found[where] = {*doc.get("stringData", {}), *doc.get("data", {})}
    for workload, pod in _pod_specs().items():
        for container in _containers(pod):
            where = f"{workload} container {container['name']} env"
            found[where] = {entry["name"] for entry in container.get("env", [])}
    # Settings suggested in comments must be real ones too.
    for path in (KUBE / "configmap.yaml", *_manifest_files(SECRETS)):
        found[f"{path.name} (comments)"] = set(
            _YAML_COMMENTED_KEY.findall(path.read_text())
        )
    return found


# --- Every file parses -------------------------------------------------------


def test_deploy_holds_the_compose_file_and_the_kubernetes_manifests():
    files = {path.relative_to(DEPLOY).as_posix() for path in _yaml_files()}
    assert "compose.yaml" in files
    assert "kubernetes/kustomization.yaml" in files
    assert len(_manifest_files()) >= 5


@pytest.mark.parametrize(
    "path", _yaml_files(), ids=lambda p: p.relative_to(DEPLOY).as_posix()
)
def test_every_yaml_file_under_deploy_parses_into_mappings(path):
    documents = _documents(path)
    assert documents, f"{path} holds no document"
    assert all(isinstance(doc, dict) for doc in documents)


# --- Kubernetes --------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("manifest", _manifests(), ids=_manifest_ids())
def test_every_kubernetes_manifest_matches_the_kubernetes_schema_strictly(
    manifest, version
):
    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.absolute_path)
        problem = f"{where}: {error.message} (Kubernetes {version})"
    else:
        return
    # Outside the except block: the chained report would print the whole schema.
    pytest.fail(problem)


def test_the_strict_schema_check_rejects_a_misspelt_field():
    broken = json.loads(json.dumps(_resource("Deployment", "memoryhub-web")))
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, latest_version(), strict=True)


def test_the_kustomizations_apply_every_manifest_file_and_set_the_image():
    (kustomization,) = _documents(KUBE / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == "memoryhub"
    assert sorted(kustomization["resources"]) == sorted(
        path.name for path in _manifest_files(KUBE)
    )
    (secrets,) = _documents(SECRETS / "kustomization.yaml")
    assert secrets["namespace"] == "memoryhub"
    assert sorted(secrets["resources"]) == sorted(
        path.name for path in _manifest_files(SECRETS)
    )
    images = {image["name"] for image in kustomization["images"]}
    used = {
        container["image"]
        for pod in _pod_specs().values()
        for container in _containers(pod)
    }
    assert used == {"memoryhub"}
    assert used <= images


def test_kubernetes_has_every_resource_a_production_install_needs():
    present = set(_manifest_ids())
    expected = {
        "Namespace/memoryhub",
        "ConfigMap/memoryhub-config",
        "Secret/memoryhub-keys",
        "Secret/memoryhub-connections",
        "Job/memoryhub-migrate",
        *(f"Deployment/{name}" for name in APP_DEPLOYMENTS),
        "Service/memoryhub-web",
        "Service/memoryhub-mcp",
        "PodDisruptionBudget/memoryhub-web",
        "PodDisruptionBudget/memoryhub-mcp",
        "HorizontalPodAutoscaler/memoryhub-web",
    }
    assert expected <= present
    assert any(doc["kind"] == "NetworkPolicy" for doc in _manifests())
    assert len(present) == len(_manifests()), "two resources share a kind and name"


def test_applying_the_manifests_never_overwrites_the_secrets():
    base = [doc for path in _manifest_files(KUBE) for doc in _documents(path)]
    assert not [doc for doc in base if doc["kind"] == "Secret"]
    kinds = {
        doc["kind"] for path in _manifest_files(SECRETS) for doc in _documents(path)
    }
    assert kinds == {"Secret"}


def test_every_namespaced_resource_lives_in_the_memoryhub_namespace():
    for doc in _manifests():
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "memoryhub", doc["kind"]


def test_web_worker_and_mcp_run_two_replicas_and_beat_exactly_one_recreated():
    for name in ("memoryhub-web", "memoryhub-worker", "memoryhub-mcp"):
        assert _resource("Deployment", name)["spec"]["replicas"] == 2
    beat = _resource("Deployment", "memoryhub-beat")["spec"]
    assert beat["replicas"] == 1
    # A rolling update would run the old and the new beat side by side.
    assert beat["strategy"]["type"] == "Recreate"


def test_deployments_select_the_pods_their_templates_label():
    for name in APP_DEPLOYMENTS:
        spec = _resource("Deployment", name)["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()


def test_each_process_runs_the_command_the_dockerfile_describes():
    def command(name):
        return " ".join(_main_container(name)["command"])

    assert command("memoryhub-web").startswith("gunicorn memoryhub.wsgi:application")
    assert "--bind=0.0.0.0:8000" in command("memoryhub-web")
    assert re.search(
        r"celery -A memoryhub worker .*-Q default", command("memoryhub-worker")
    )
    assert "beat" in command("memoryhub-beat")
    assert "django_celery_beat.schedulers:DatabaseScheduler" in command(
        "memoryhub-beat"
    )
    assert command("memoryhub-mcp").startswith("python -m memories.mcp --host 0.0.0.0")
    assert command("memoryhub-migrate") == "python manage.py migrate --noinput"


def test_app_pods_wait_until_the_migrate_job_has_run():
    for name in APP_DEPLOYMENTS:
        (init,) = _pod_specs()[name]["initContainers"]
        assert init["command"][:4] == ["python", "manage.py", "migrate", "--check"]
    job = _resource("Job", "memoryhub-migrate")["spec"]
    assert job["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


def test_web_is_ready_on_readyz_and_alive_on_healthz():
    web = _main_container("memoryhub-web")
    readiness, liveness = web["readinessProbe"], web["livenessProbe"]
    assert readiness["httpGet"]["path"] == "/readyz"
    assert liveness["httpGet"]["path"] == "/healthz"
    for probe in (readiness, liveness):
        assert _port_number(web, probe["httpGet"]["port"]) == 8000


def test_mcp_probes_check_that_its_port_accepts_connections():
    # The MCP app has no unauthenticated path (memories/mcp/server.py).
    mcp = _main_container("memoryhub-mcp")
    for probe in (mcp["readinessProbe"], mcp["livenessProbe"]):
        assert _port_number(mcp, probe["tcpSocket"]["port"]) == 8001


def test_worker_liveness_pings_its_own_celery_node():
    worker = _main_container("memoryhub-worker")
    assert "--hostname=worker@%h" in worker["command"]
    probe = " ".join(worker["livenessProbe"]["exec"]["command"])
    assert "inspect ping" in probe
    assert "worker@$HOSTNAME" in probe


def test_every_container_has_cpu_and_memory_requests_and_limits():
    for workload, pod in _pod_specs().items():
        for container in _containers(pod):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), (
                    f"{workload}/{container['name']} lacks {bound}"
                )


def test_every_pod_runs_as_the_image_user_with_a_read_only_root():
    for workload, pod in _pod_specs().items():
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == APP_UID
        assert pod["automountServiceAccountToken"] is False
        scratch = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
        for container in _containers(pod):
            where = f"{workload}/{container['name']}"
            own = container["securityContext"]
            assert own["readOnlyRootFilesystem"] is True, where
            assert own["allowPrivilegeEscalation"] is False, where
            assert own["capabilities"]["drop"] == ["ALL"], where
            # MEMORYHUB_VAR_DIR (the Dockerfile's /app/var) must stay writable.
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/app/var") in scratch, where
            assert mounts.get("/tmp") in scratch, where


def test_every_container_reads_the_config_map_and_both_secrets():
    expected = [
        ("configMapRef", "memoryhub-config"),
        ("secretRef", "memoryhub-keys"),
        ("secretRef", "memoryhub-connections"),
    ]
    for workload, pod in _pod_specs().items():
        for container in _containers(pod):
            sources = [
                (kind, ref["name"])
                for source in container["envFrom"]
                for kind, ref in source.items()
            ]
            assert sources == expected, f"{workload}/{container['name']}"


def test_services_send_traffic_to_the_ports_web_and_mcp_listen_on():
    for name, port in (("memoryhub-web", 8000), ("memoryhub-mcp", 8001)):
        service = _resource("Service", name)["spec"]
        pod_labels = _resource("Deployment", name)["spec"]["template"]["metadata"][
            "labels"
        ]
        assert service["selector"].items() <= pod_labels.items()
        (entry,) = service["ports"]
        assert _port_number(_main_container(name), entry["targetPort"]) == port


def test_disruption_budgets_keep_web_and_mcp_serving_during_node_drains():
    for name in ("memoryhub-web", "memoryhub-mcp"):
        budget = _resource("PodDisruptionBudget", name)["spec"]
        pod_labels = _resource("Deployment", name)["spec"]["template"]["metadata"][
            "labels"
        ]
        assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
        assert budget["minAvailable"] >= 1


def test_web_autoscales_on_cpu_from_its_replica_count():
    hpa = _resource("HorizontalPodAutoscaler", "memoryhub-web")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "memoryhub-web",
    }
    assert spec["minReplicas"] == 2
    assert spec["maxReplicas"] > spec["minReplicas"]
    (metric,) = spec["metrics"]
    assert metric["resource"]["name"] == "cpu"


def test_network_policies_open_only_web_mcp_and_worker_metrics_and_needed_egress():
    ingress_ports: dict[str, set[int]] = {}
    egress_ports: set[int] = set()
    for doc in _manifests():
        if doc["kind"] != "NetworkPolicy":
            continue
        spec = doc["spec"]
        component = spec["podSelector"]["matchLabels"].get(
            "app.kubernetes.io/component", "all"
        )
        for rule in spec.get("ingress", []):
            ports = {entry["port"] for entry in rule["ports"]}
            ingress_ports.setdefault(component, set()).update(ports)
        for rule in spec.get("egress", []):
            egress_ports.update(entry["port"] for entry in rule["ports"])
    assert ingress_ports == {"web": {8000}, "mcp": {8001}, "worker": {9100}}
    # DNS, PostgreSQL, Redis, HTTPS (backends, LLM, webhooks).
    assert {53, 5432, 6379, 443} <= egress_ports
    default = _resource("NetworkPolicy", "memoryhub-default")["spec"]
    assert set(default["policyTypes"]) == {"Ingress", "Egress"}
    assert default["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "memoryhub"
    }


def test_the_worker_serves_its_metrics_on_the_port_it_declares():
    worker = _main_container("memoryhub-worker")
    env = {item["name"]: item["value"] for item in worker["env"]}
    (port,) = worker["ports"]
    assert port["name"] == "metrics"
    assert env["MEMORYHUB_WORKER_METRICS_PORT"] == str(port["containerPort"])
    assert env["MEMORYHUB_WORKER_METRICS_ADDRESS"] == "0.0.0.0"  # noqa: S104 (pod)
    compose = _service("worker")
    assert compose["environment"]["MEMORYHUB_WORKER_METRICS_PORT"] == "9100"
    assert compose["expose"] == ["9100"] and "ports" not in compose


def test_master_keys_are_kept_apart_from_connection_credentials():
    keys = set(_resource("Secret", "memoryhub-keys")["stringData"])
    connections = set(_resource("Secret", "memoryhub-connections")["stringData"])
    assert {"MEMORYHUB_MASTER_KEYS", "MEMORYHUB_SECRET_KEY"} <= keys
    assert {"DATABASE_URL", "CELERY_BROKER_URL"} <= connections
    assert not keys & connections
    assert not {"DATABASE_URL", "CELERY_BROKER_URL"} & keys
    assert not {"MEMORYHUB_MASTER_KEYS", "MEMORYHUB_SECRET_KEY"} & connections


def test_the_config_map_holds_no_credential():
    data = _resource("ConfigMap", "memoryhub-config")["data"]
    assert not [name for name in data if CREDENTIAL_NAME.search(name)]


# --- Placeholders ------------------------------------------------------------


def _placeholder_master_keys() -> dict[str, str]:
    found = {
        "secrets/keys.yaml": _resource("Secret", "memoryhub-keys")["stringData"][
            "MEMORYHUB_MASTER_KEYS"
        ]
    }
    for line in (DEPLOY / "memoryhub.env.example").read_text().splitlines():
        if line.startswith("MEMORYHUB_MASTER_KEYS="):
            found["memoryhub.env.example"] = line.partition("=")[2]
    return found


@pytest.mark.parametrize("where", ["secrets/keys.yaml", "memoryhub.env.example"])
def test_placeholder_master_keys_are_refused_so_nothing_starts_with_them(where):
    # A template applied unfilled must fail at start-up, never encrypt data
    # under a key that is public in this repository.
    with pytest.raises(ImproperlyConfigured):
        MasterKeyRing.parse(_placeholder_master_keys()[where])


def test_templates_hold_placeholders_where_secrets_go():
    values = {
        f"{doc['metadata']['name']}: {name}": value
        for doc in _manifests()
        if doc["kind"] == "Secret"
        for name, value in doc["stringData"].items()
        if SECRET_NAME.search(name) or "@" in value  # a URL with a password
    }
    for example in DEPLOY.glob("*.env.example"):
        for line in example.read_text().splitlines():
            name, _, value = line.partition("=")
            if SECRET_NAME.search(name):
                values[f"{example.name}: {name}"] = value
    assert len(values) >= 6
    assert {
        where for where, value in values.items() if not PLACEHOLDER.search(value)
    } == set()


def test_real_env_files_are_ignored_by_git():
    for service in _compose()["services"].values():
        for env_file in _env_files(service):
            assert _env_example(env_file).is_file(), env_file
            relative = env_file.relative_to(ROOT).as_posix()
            ignored = subprocess.run(  # noqa: S603 (fixed argv)
                ["git", "check-ignore", "--quiet", "--no-index", relative],  # noqa: S607
                cwd=ROOT,
                check=False,
            )
            assert ignored.returncode == 0, f"{relative} is not git-ignored"


def test_real_env_files_stay_out_of_the_docker_build_context():
    # compose.yaml builds with the repository as context and the Dockerfile
    # copies all of it: an unexcluded memoryhub.env would ship the master keys
    # inside the image.
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for service in _compose()["services"].values():
        for env_file in _env_files(service):
            relative = env_file.relative_to(ROOT).as_posix()
            assert any(fnmatch.fnmatchcase(relative, p) for p in patterns), relative


# --- Compose -----------------------------------------------------------------


@cache
def _compose_schema() -> dict:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendored / "compose-spec.json").read_text())


def _compose_errors(document: dict) -> list[str]:
    validator_class = jsonschema.validators.validator_for(_compose_schema())
    validator = validator_class(_compose_schema())
    return [error.message for error in validator.iter_errors(document)]


def test_the_compose_file_matches_the_compose_specification_schema():
    assert _compose_errors(_compose()) == []


def test_the_compose_schema_check_rejects_an_unknown_depends_on_condition():
    broken = json.loads(json.dumps(_compose()))
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "finished"
    assert _compose_errors(broken)


def test_compose_runs_the_database_broker_and_every_memoryhub_process():
    assert set(_compose()["services"]) == {"db", "redis", *APP_SERVICES}
    assert _service("db")["image"].startswith("pgvector/pgvector:pg17")
    assert "healthcheck" in _service("db")
    assert "healthcheck" in _service("redis")


def test_memoryhub_services_build_the_repository_dockerfile_and_read_the_env_file():
    for name in APP_SERVICES:
        build = _service(name)["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build.get("dockerfile", "Dockerfile")).is_file()
        assert _env_files(_service(name)) == [DEPLOY / "memoryhub.env"]
    # The database reads its own file: it never sees the master keys.
    assert _env_files(_service("db")) == [DEPLOY / "postgres.env"]


def test_compose_processes_run_the_commands_the_dockerfile_describes():
    assert _command(_service("web")).startswith("gunicorn memoryhub.wsgi:application")
    assert re.search(
        r"celery -A memoryhub worker .*-Q default", _command(_service("worker"))
    )
    assert "django_celery_beat.schedulers:DatabaseScheduler" in _command(
        _service("beat")
    )
    assert _command(_service("mcp")).startswith("python -m memories.mcp --host 0.0.0.0")
    assert _command(_service("migrate")) == "python manage.py migrate --noinput"


def test_app_services_start_after_migrate_completes_and_db_and_redis_are_healthy():
    for name in ("web", "worker", "beat", "mcp"):
        depends = _service(name)["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_migrate_runs_once_after_the_database_is_healthy():
    migrate = _service("migrate")
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert "migrate" not in migrate["depends_on"]


def test_compose_runs_exactly_one_beat():
    beats = [
        name
        for name, service in _compose()["services"].items()
        if re.search(
            r"\bcelery\b.*\bbeat\b", _command(service) if "command" in service else ""
        )
    ]
    assert beats == ["beat"]
    assert _service("beat").get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in _service("beat")


def test_web_is_healthy_only_when_readyz_answers():
    test = " ".join(_service("web")["healthcheck"]["test"])
    assert "urllib.request" in test  # the image has no curl
    assert "http://127.0.0.1:8000/readyz" in test


def test_no_compose_healthcheck_needs_curl():
    for name, service in _compose()["services"].items():
        test = service.get("healthcheck", {}).get("test", [])
        assert "curl" not in " ".join(test), name


def test_services_without_a_web_port_turn_off_the_image_healthcheck():
    # The Dockerfile's HEALTHCHECK asks port 8000, which only web listens on.
    for name in ("migrate", "worker", "beat"):
        assert _service(name)["healthcheck"] == {"disable": True}, name


def test_published_ports_listen_on_localhost_only():
    published = {
        name: service["ports"]
        for name, service in _compose()["services"].items()
        if "ports" in service
    }
    assert published == {"web": ["127.0.0.1:8000:8000"], "mcp": ["127.0.0.1:8001:8001"]}


# --- Environment variable names ----------------------------------------------


def test_the_configuration_scan_finds_the_variables_settings_read():
    names = _configured_names()
    assert {
        "MEMORYHUB_SECRET_KEY",  # env_required
        "MEMORYHUB_MASTER_KEYS",
        "DATABASE_URL",  # env_str
        "CELERY_BROKER_URL",
        "MEMORYHUB_DEBUG",  # env_bool
        "MEMORYHUB_DB_POOL_MAX",  # env_int
        "MEMORYHUB_LLM_TEMPERATURE",  # env_float
        "MEMORYHUB_ALLOWED_HOSTS",  # env_list
        "MEMORYHUB_EMBEDDER_BATCH_THREADS",  # name on the line after the call
        "MCP_HOST",  # os.environ.get in memories/mcp
    } <= names


@pytest.mark.parametrize(
    "source",
    [_names_set_by_compose, _names_set_by_kubernetes],
    ids=["compose", "kubernetes"],
)
def test_every_variable_the_deployment_files_set_is_one_memoryhub_reads(source):
    unknown = {
        where: sorted(names - _configured_names())
        for where, names in source().items()
        if names - _configured_names()
    }
    assert unknown == {}, f"unknown environment variables: {unknown}"


def test_the_postgres_env_example_sets_only_what_the_database_image_reads():
    names = set(_ENV_FILE_LINE.findall((DEPLOY / "postgres.env.example").read_text()))
    assert names == POSTGRES_IMAGE_NAMES


def test_deployment_files_never_turn_on_test_settings_or_debug():
    every = [*_names_set_by_compose().values(), *_names_set_by_kubernetes().values()]
    assert not set().union(*every) & TEST_ONLY_NAMES
    assert not re.search(
        r"^\s*#?\s*MEMORYHUB_DEBUG\s*[=:]\s*\"?(1|true|yes|on)",
        "\n".join(path.read_text() for path in DEPLOY.rglob("*") if path.is_file()),
        re.IGNORECASE | re.MULTILINE,
    )
