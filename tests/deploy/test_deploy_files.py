"""The deployment files, checked as well as can be done without a container runtime or a
cluster: the Kubernetes manifests against the Kubernetes API schemas (kubernetes-validate,
which ships them), the compose file against the Compose Specification's schema (vendored in
check-jsonschema), the Dockerfile by its parsed instructions (dockerfile-parse), and every
`STORIES_*` variable any of them sets against the settings the code reads. Nothing here
reaches the network.

KEDA's ScaledObject is a custom resource, and no package ships its CRD's schema: its shape
is checked here against the fields of KEDA v2's CRD and Kafka scaler that it uses.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import kubernetes_validate
import pytest
import yaml
from check_jsonschema.cli.main_command import main as check_jsonschema
from click.testing import CliRunner
from dockerfile_parse import DockerfileParser
from kubernetes_validate.utils import latest_version
from pydantic import SecretStr
from stories_gemini.settings import GeminiSettings
from stories_openai.settings import OpenAISettings

from stories_adapters.settings import Settings, variables
from stories_core.plugins import backend_settings
from stories_core.plugins.settings import env_prefix
from tests.unit.test_settings import BACKENDS, defaults

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"

OLDEST_KUBERNETES = "1.27"
"""The oldest Kubernetes the manifests are for: gRPC probes are GA from 1.27."""
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES, latest_version())

COMMANDS = {"api": "serve", "worker": "worker", "dispatcher": "dispatcher", "migrate": "migrate"}
"""Each component's `stories` subcommand (the image's entry point is `stories`)."""
STORIES_SERVICES = ("migrate", "serve", "worker", "dispatcher")
"""The compose services that run the image built from the Dockerfile."""

STORIES_VARIABLE = re.compile(r"\bSTORIES_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_*])")
"""A whole variable name (not a `STORIES_S3_*` family)."""


# --- loading -----------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    return sorted(KUBERNETES.rglob("*.yaml"))


@functools.cache
def manifests() -> list[tuple[str, dict[str, Any]]]:
    """(file relative to deploy/kubernetes, object) for every object in every manifest
    (read once: copy one before changing it)."""
    found = []
    for path in manifest_files():
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found.append((str(path.relative_to(KUBERNETES)), document))
    return found


def objects(kind: str) -> list[dict[str, Any]]:
    return [each for _, each in manifests() if each["kind"] == kind]


def one(kind: str, name: str) -> dict[str, Any]:
    [found] = [each for each in objects(kind) if each["metadata"]["name"] == name]
    return found


def config_map() -> dict[str, str]:
    [config] = objects("ConfigMap")
    return dict(config["data"])


def secret() -> dict[str, str]:
    [found] = objects("Secret")
    return dict(found.get("stringData", {}))


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    """(component, pod spec) of every workload."""
    for kind in ("Deployment", "Job"):
        for each in objects(kind):
            yield (
                each["metadata"]["labels"]["app.kubernetes.io/component"],
                each["spec"]["template"]["spec"],
            )


def container(component: str) -> dict[str, Any]:
    [spec] = [spec for name, spec in pod_specs() if name == component]
    [found] = spec["containers"]
    return found


def deployment(component: str) -> dict[str, Any]:
    [found] = [
        each
        for each in objects("Deployment")
        if each["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return found


@functools.cache
def compose() -> dict[str, Any]:
    """compose.yaml (read once: copy it before changing it)."""
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE), cache_content=True)


def stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, one list per stage (each starts with its FROM)."""
    found: list[list[dict[str, Any]]] = []
    for instruction in dockerfile().structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found and instruction["instruction"] != "COMMENT":
            found[-1].append(instruction)
    return found


# --- what the settings are ----------------------------------------------------------------


def known_variables() -> set[str]:
    """Every variable the service reads (tests/unit/test_settings.py's list, which the README
    is checked against) and every backend's own settings."""
    backends = {
        env_prefix(name) + field.upper()
        for name, model in BACKENDS.items()
        for field in model.model_fields
    }
    return set(defaults()) | backends


def setting(name: str, given: dict[str, str]) -> float:
    """A numeric setting as `given` sets it, else its default."""
    return float(given.get(name, defaults()[name]))  # type: ignore[arg-type]


def secret_variables() -> set[str]:
    """Variables whose values are credentials: SecretStr fields, keys, and the database URL
    (it carries the password)."""
    found = {"STORIES_DATABASE_URL", "STORIES_S3_ACCESS_KEY"}
    for name, field in variables():
        if field.annotation is SecretStr or SecretStr in get_args(field.annotation):
            found.add(name)
    return found | {name for name in known_variables() if name.endswith("_API_KEY")}


def variables_set() -> dict[str, set[str]]:
    """Every STORIES_* variable the files set (or point KEDA at), by where."""
    found: dict[str, set[str]] = {}

    def add(where: str, names: object) -> None:
        found.setdefault(where, set()).update(
            name for name in names if str(name).startswith("STORIES_")
        )

    for path, each in manifests():
        add(path, each.get("data", {}))
        add(path, each.get("stringData", {}))
        for trigger in each.get("spec", {}).get("triggers", []):
            add(path, [v for k, v in trigger["metadata"].items() if k.endswith("FromEnv")])
    for component, spec in pod_specs():
        for each in spec["containers"]:
            add(f"{component} container", [env["name"] for env in each.get("env", [])])
    for name, service in compose()["services"].items():
        add(f"compose {name}", compose_environment(service))
    for context in dockerfile().context_structure:
        add("Dockerfile", context.envs)
    return found


# --- Kubernetes: the schemas ---------------------------------------------------------------


def test_the_manifests_hold_every_part() -> None:
    kinds = sorted((each["kind"], each["metadata"]["name"]) for _, each in manifests())
    assert kinds == [
        ("ConfigMap", "stories-config"),
        ("Deployment", "stories-api"),
        ("Deployment", "stories-dispatcher"),
        ("Deployment", "stories-worker"),
        ("Job", "stories-migrate"),
        ("ScaledObject", "stories-worker"),
        ("Secret", "stories-secrets"),
        ("Service", "stories-api"),
    ]
    assert [path for path, each in manifests() if each["kind"] == "ScaledObject"] == [
        "keda/worker-scaledobject.yaml"
    ]


def core_manifests() -> list[tuple[str, dict[str, Any]]]:
    return [(path, each) for path, each in manifests() if not path.startswith("keda/")]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "manifest",
    core_manifests(),
    ids=[f"{path}:{each['kind']}" for path, each in core_manifests()],
)
def test_each_manifest_matches_the_kubernetes_schema(
    manifest: tuple[str, dict[str, Any]], version: str
) -> None:
    """Strict: an unknown field (a misspelt one) is an error, as `kubectl apply` says."""
    _, resource = manifest
    kubernetes_validate.validate(resource, version, strict=True)


def test_the_schema_check_catches_mistakes() -> None:
    misspelt = copy.deepcopy(deployment("worker"))
    misspelt["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    named_grpc_port = copy.deepcopy(deployment("api"))
    named_grpc_port["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"][
        "port"
    ] = "grpc"  # a gRPC probe takes a number only
    for wrong in (misspelt, named_grpc_port):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(wrong, latest_version(), strict=True)


# --- Kubernetes: what the service needs -----------------------------------------------------


@pytest.mark.parametrize("component", sorted(COMMANDS))
def test_each_component_runs_its_command_from_the_image(component: str) -> None:
    found = container(component)
    assert "command" not in found, "the image's entry point is `stories`"
    assert found["args"] == [COMMANDS[component]]
    images = {each["image"] for _, spec in pod_specs() for each in spec["containers"]}
    assert len(images) == 1, "one image for every process"
    assert [ref for source in found["envFrom"] for ref in source] == [
        "configMapRef",
        "secretRef",
    ]
    assert found["envFrom"][0]["configMapRef"]["name"] == "stories-config"
    assert found["envFrom"][1]["secretRef"]["name"] == "stories-secrets"


@pytest.mark.parametrize("component", sorted(COMMANDS))
def test_each_container_has_resource_requests_and_limits(component: str) -> None:
    resources = container(component)["resources"]
    for bound in ("requests", "limits"):
        assert set(resources[bound]) == {"cpu", "memory"}, f"{component} {bound}"


@pytest.mark.parametrize("component", sorted(COMMANDS))
def test_each_pod_runs_as_the_images_non_root_user(component: str) -> None:
    [spec] = [spec for name, spec in pod_specs() if name == component]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == image_uid()
    assert container(component)["securityContext"]["readOnlyRootFilesystem"] is True
    home = dockerfile().envs["STORIES_HOME"]
    mounts = {mount["mountPath"] for mount in container(component)["volumeMounts"]}
    assert {home, "/tmp"} <= mounts, "the writable places on a read-only root"


def test_the_api_is_probed_with_grpc_health_on_its_grpc_port() -> None:
    api = container("api")
    port = int(setting("STORIES_GRPC_PORT", config_map()))
    assert {"name": "grpc", "containerPort": port, "protocol": "TCP"} in api["ports"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert api[probe]["grpc"] == {"port": port}, probe
    [service] = objects("Service")
    assert service["spec"]["selector"] == deployment("api")["spec"]["selector"]["matchLabels"]
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(port, "grpc")]


@pytest.mark.parametrize("component", ["worker", "dispatcher"])
def test_workers_and_dispatchers_are_probed_on_the_metrics_port(component: str) -> None:
    found = container(component)
    assert found["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert found["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert found["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}


@pytest.mark.parametrize("component", ["api", "worker", "dispatcher"])
def test_prometheus_finds_the_metrics_port(component: str) -> None:
    port = int(config_map()["STORIES_METRICS_PORT"])
    assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in container(component)[
        "ports"
    ]
    annotations = deployment(component)["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }


def longest_backend_call(config: dict[str, str]) -> float:
    """The longest one request to a remote model may take, as configured."""
    timeouts = []
    for name, model in (("openai", OpenAISettings), ("gemini", GeminiSettings)):
        default = model.model_fields["timeout_seconds"].default
        timeouts.append(float(config.get(env_prefix(name) + "TIMEOUT_SECONDS", default)))
    return max(timeouts)


def test_termination_grace_periods_outlast_each_process_shutdown() -> None:
    config = config_map()
    worker = deployment("worker")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    shutdown = setting("STORIES_WORKER_SHUTDOWN_GRACE_SECONDS", config)
    assert worker > shutdown + longest_backend_call(config)

    api = deployment("api")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    drain = setting("STORIES_SHUTDOWN_DRAIN_SECONDS", config)
    assert api > drain + setting("STORIES_SHUTDOWN_GRACE_SECONDS", config)

    dispatcher = deployment("dispatcher")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    assert dispatcher > setting("STORIES_WEBHOOK_TIMEOUT_SECONDS", config)
    assert dispatcher > setting("STORIES_KAFKA_DELIVERY_TIMEOUT_MS", config) / 1000


def test_the_migration_job_runs_once() -> None:
    [job] = objects("Job")
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


# --- KEDA -----------------------------------------------------------------------------------

SCALED_OBJECT_SPEC = {
    "advanced", "cooldownPeriod", "fallback", "idleReplicaCount", "initialCooldownPeriod",
    "maxReplicaCount", "minReplicaCount", "pollingInterval", "scaleTargetRef", "triggers",
}  # fmt: skip
"""spec's fields in KEDA v2's ScaledObject CRD (keda.sh/v1alpha1)."""
KAFKA_TRIGGER = {
    "bootstrapServers", "consumerGroup", "topic", "partitionLimitation", "lagThreshold",
    "activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers",
    "excludePersistentLag", "scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag",
    "ensureEvenDistributionOfPartitions", "version", "tls", "sasl",
}  # fmt: skip
"""The Kafka scaler's metadata parameters (a `…FromEnv` form names a container variable)."""


def test_the_keda_scaled_object_scales_the_workers_up_to_the_partition_count() -> None:
    [scaled] = objects("ScaledObject")
    config = config_map()
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert set(spec) <= SCALED_OBJECT_SPEC
    assert spec["scaleTargetRef"] == {
        "name": deployment("worker")["metadata"]["name"],
        "envSourceContainerName": container("worker")["name"],
    }
    partitions = int(setting("STORIES_KAFKA_JOBS_PARTITIONS", config))
    assert spec["maxReplicaCount"] == partitions
    assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    for field in ("pollingInterval", "cooldownPeriod"):
        assert isinstance(spec[field], int)

    [trigger] = spec["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert all(isinstance(value, str) for value in metadata.values()), "strings only"
    assert {key.removesuffix("FromEnv") for key in metadata} <= KAFKA_TRIGGER
    # The scaler reads the brokers, the group and the topic from the worker's ConfigMap.
    assert {key: value for key, value in metadata.items() if key.endswith("FromEnv")} == {
        "bootstrapServersFromEnv": "STORIES_KAFKA_BROKERS",
        "consumerGroupFromEnv": "STORIES_KAFKA_GROUP_ID",
        "topicFromEnv": "STORIES_KAFKA_JOBS_TOPIC",
    }
    for name in ("STORIES_KAFKA_BROKERS", "STORIES_KAFKA_GROUP_ID", "STORIES_KAFKA_JOBS_TOPIC"):
        assert name in config, f"KEDA resolves {name} from the ConfigMap: set it there"
    assert metadata["offsetResetPolicy"] == "earliest", "as the workers' consumer"
    assert int(metadata["lagThreshold"]) == setting("STORIES_WORKER_CONCURRENCY", config)


# --- the settings ---------------------------------------------------------------------------


def test_every_stories_variable_the_files_set_is_a_setting() -> None:
    known = known_variables()
    unknown = {
        where: sorted(names - known) for where, names in variables_set().items() if names - known
    }
    assert unknown == {}


def test_every_stories_variable_the_files_name_is_a_setting() -> None:
    """Comments and deploy/README.md included: no misspelt or stale name anywhere."""
    files = [DOCKERFILE, COMPOSE, *manifest_files(), DEPLOY / "README.md"]
    named = {
        name: path.relative_to(ROOT)
        for path in files
        for name in STORIES_VARIABLE.findall(path.read_text(encoding="utf-8"))
    }
    assert {name: str(path) for name, path in named.items() if name not in known_variables()} == {}


@pytest.fixture
def no_stories_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in os.environ:
        if name.startswith("STORIES_"):
            monkeypatch.delenv(name)


def valid(given: dict[str, str]) -> None:
    """The values are what the settings accept (bounds, types), as a process reading them
    at start-up would find."""
    Settings.from_variables(given)
    assert given.get("STORIES_DEFAULT_BACKEND", "local") in BACKENDS
    for name, model in BACKENDS.items():
        own = {k: v for k, v in given.items() if k.startswith(env_prefix(name))}
        if own:
            backend_settings(model, name, own)


@pytest.mark.usefixtures("no_stories_environment")
def test_the_kubernetes_settings_are_valid() -> None:
    valid({**config_map(), **secret()})


@pytest.mark.usefixtures("no_stories_environment")
@pytest.mark.parametrize("service", STORIES_SERVICES)
def test_the_compose_settings_are_valid(service: str) -> None:
    valid(compose_environment(compose()["services"][service]))


def test_credentials_are_in_the_secret_and_only_placeholders() -> None:
    assert set(config_map()) & secret_variables() == set()
    assert set(secret()) <= secret_variables()
    assert {"STORIES_DATABASE_URL", "STORIES_WEBHOOK_SECRET"} <= set(secret())
    assert all("CHANGE-ME" in value for value in secret().values())


# --- compose --------------------------------------------------------------------------------


def compose_check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        check_jsonschema, ["--builtin-schema", "vendor.compose-spec", str(path)]
    )
    return result.exit_code, result.output


def test_the_compose_file_matches_the_compose_specification() -> None:
    code, output = compose_check(COMPOSE)
    assert code == 0, output


def test_the_compose_check_catches_mistakes(tmp_path: Path) -> None:
    wrong = copy.deepcopy(compose())
    wrong["services"]["serve"]["depends_on"]["migrate"]["condition"] = "service_finished"
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(wrong), encoding="utf-8")
    code, output = compose_check(path)
    assert code == 1
    assert "service_finished" in output


def test_compose_starts_the_whole_production_stack() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "kafka", "minio", *STORIES_SERVICES}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    kafka = compose_environment(services["kafka"])
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, "KRaft"
    assert not any("zookeeper" in name.lower() for name in kafka)
    for name in ("postgres", "kafka", "minio"):
        assert services[name]["healthcheck"]["test"], f"{name} has a health check"

    for name in STORIES_SERVICES:
        service = services[name]
        assert service["build"] == ".", "built from the Dockerfile"
        assert service["command"] == [name]
        environment = compose_environment(service)
        for needed in ("STORIES_DATABASE_URL", "STORIES_KAFKA_BROKERS", "STORIES_S3_ENDPOINT"):
            assert needed in environment, f"{name} runs in production mode"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("serve", "worker", "dispatcher"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "kafka": {"condition": "service_healthy"},
            "minio": {"condition": "service_healthy"},
        }
        port = compose_environment(services[name])["STORIES_METRICS_PORT"]
        assert f"{port}/readyz" in " ".join(services[name]["healthcheck"]["test"])
    assert services["serve"]["ports"][0].endswith(
        f":{int(setting('STORIES_GRPC_PORT', compose_environment(services['serve'])))}"
    )


def test_compose_gives_the_worker_the_same_stop_grace_as_kubernetes() -> None:
    services = compose()["services"]
    spec = deployment("worker")["spec"]["template"]["spec"]
    assert services["worker"]["stop_grace_period"] == f"{spec['terminationGracePeriodSeconds']}s"


# --- the Dockerfile -------------------------------------------------------------------------


def image_uid() -> int:
    [user] = [each["value"] for each in stages()[-1] if each["instruction"] == "USER"]
    return int(user.split(":")[0])


def test_the_dockerfile_builds_in_stages() -> None:
    parsed = dockerfile()
    assert parsed.is_multistage
    build, runtime = stages()
    assert build[0]["value"].endswith(" AS build")
    assert build[0]["value"].split()[0] == runtime[0]["value"].split()[0], (
        "the venv is copied between stages: the same Python in both"
    )
    copies = [each["value"] for each in runtime if each["instruction"] == "COPY"]
    assert copies == ["--from=build /opt/stories /opt/stories"]


def test_the_final_image_has_no_build_tools_and_the_libraries_the_code_loads() -> None:
    _, runtime = stages()
    installs = " ".join(each["value"] for each in runtime if each["instruction"] == "RUN")
    for tool in ("build-essential", "gcc", "g++", "make ", "-dev", "git", "curl", "wget"):
        assert tool not in installs, f"{tool} in the final stage"
    assert "libfribidi0" in installs, "Pillow's raqm and stories_local.canvas load FriBidi"


def test_the_image_runs_stories_as_a_non_root_user() -> None:
    _, runtime = stages()
    [user] = [each["value"] for each in runtime if each["instruction"] == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    assert image_uid() > 0
    [entrypoint] = [each["value"] for each in runtime if each["instruction"] == "ENTRYPOINT"]
    assert yaml.safe_load(entrypoint) == ["stories"], "exec form: signals reach the process"
    instructions = [each["instruction"] for each in runtime]
    assert instructions.index("USER") > max(
        at for at, each in enumerate(instructions) if each == "RUN"
    ), "nothing runs as root after USER is set"


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves `path` out of the build context: the last pattern that
    matches the path or one of its parent folders decides; `!` lets it back in."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: at + 1]) for at in range(len(parts))]
    decision = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            decision = not keep
    return decision


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_heavy() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    build, _ = stages()
    sources = [
        source
        for each in build
        if each["instruction"] == "COPY" and not each["value"].startswith("--from")
        for source in each["value"].split()[:-1]
    ]
    assert sources, "the build stage copies the project"
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source, patterns), f"{source} is left out of the build context"
    for heavy in (".venv", ".git", "node_modules", "tests", "src/stories_core/__pycache__"):
        assert ignored(heavy, patterns), f"{heavy} is sent to the builder"
    assert not ignored("plugins/stories_local/canvas.py", patterns)
