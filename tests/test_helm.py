"""The Helm chart, rendered by Helm's own engine (helm-python-sdk, no binary, no cluster).

Every rendered document is validated against the Kubernetes 1.30 schemas (kubernetes-validate,
strict: an unknown field or kind fails), the chart lints clean, and the wiring between the
objects is checked: the workspace reaches the code location, every reference names an object
that exists, run pods use the code location's image, and data lands on the volumes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from profiteer_pipeline.settings import PgUrl, Settings, environment

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "profiteer"
VALUES_DIR = Path(__file__).resolve().parent / "helm_values"
OVERRIDE = VALUES_DIR / "external-airbyte.yaml"
KUBE_VERSION = "1.30.0"  # the pinned Kubernetes version for lint and schema validation
RELEASE, NAMESPACE = "profiteer", "profiteer"

WORKLOADS = {"Deployment", "StatefulSet"}


# --- rendering ----------------------------------------------------------------------------


def load_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart, values: dict | None = None) -> list[dict]:
    """Every manifest the chart renders for `values` (NOTES.txt left out), as dicts."""
    out = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


@pytest.fixture(scope="module")
def default_docs(chart):
    return render(chart)


@pytest.fixture(scope="module")
def override_values():
    return load_values(OVERRIDE)


@pytest.fixture(scope="module")
def override_docs(chart, override_values):
    return render(chart, override_values)


@pytest.fixture(params=["default", "override"])
def case(request, default_docs, override_docs, override_values):
    """(values, docs) for the default values and for the override file."""
    if request.param == "default":
        return {}, default_docs
    return override_values, override_docs


def find(docs: list[dict], kind: str, name: str) -> dict:
    for d in docs:
        if d["kind"] == kind and d["metadata"]["name"] == name:
            return d
    raise AssertionError(f"no {kind} {name!r} rendered; have {sorted(names(docs))}")


def names(docs: list[dict]) -> set[tuple[str, str]]:
    return {(d["kind"], d["metadata"]["name"]) for d in docs}


def containers(doc: dict) -> list[dict]:
    spec = doc["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def env_value(container: dict, name: str) -> str | None:
    for e in container.get("env", []):
        if e["name"] == name:
            return e.get("value")
    return None


def instance_yaml(docs: list[dict]) -> dict:
    return yaml.safe_load(find(docs, "ConfigMap", "profiteer-instance")["data"]["dagster.yaml"])


def arg_after(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


# --- Helm and Kubernetes validity ---------------------------------------------------------


@pytest.mark.parametrize("values_file", [None, OVERRIDE], ids=["default", "override"])
def test_lint_strict_has_no_warnings_or_errors(values_file):
    values = load_values(values_file) if values_file else {}
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], problems or report["errors"]


def test_every_document_is_valid_kubernetes_1_30(case):
    _, docs = case
    assert docs
    for doc in docs:
        # Raises ValidationError on an unknown field, SchemaNotFoundError on an unknown kind.
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_validator_rejects_unknown_kinds_and_fields():
    """The check above can fail: the validator knows neither made-up kinds nor fields."""
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(
            {"apiVersion": "profiteer.example/v1", "kind": "Pricer", "metadata": {"name": "x"}},
            KUBE_VERSION,
            strict=True,
        )
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "datta": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBE_VERSION, strict=True)


def test_templates_do_not_depend_on_cluster_capabilities():
    """Rendering offline equals rendering for the pinned version: nothing reads .Capabilities."""
    used = [p.name for p in (CHART / "templates").iterdir() if ".Capabilities" in p.read_text()]
    assert used == []
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"] == ">=1.25.0-0"


def test_default_values_render_the_whole_stack(default_docs):
    assert names(default_docs) == {
        ("ConfigMap", "profiteer-env"),
        ("ConfigMap", "profiteer-dagster-env"),
        ("ConfigMap", "profiteer-instance"),
        ("ConfigMap", "profiteer-workspace"),
        ("ConfigMap", "profiteer-mindsdb-config"),
        ("ConfigMap", "profiteer-postgresql-initdb"),
        ("Secret", "profiteer-postgresql"),  # the admin's: the StatefulSet only
        ("Secret", "profiteer-pipeline"),
        ("Secret", "profiteer-reader"),
        ("Secret", "profiteer-model"),
        ("Secret", "profiteer-shop-api-db"),
        ("Secret", "profiteer-shop-api"),
        ("ServiceAccount", "profiteer"),
        ("ServiceAccount", "profiteer-workload"),
        ("Role", "profiteer-run-launcher"),
        ("RoleBinding", "profiteer-run-launcher"),
        ("Deployment", "profiteer-webserver"),
        ("Deployment", "profiteer-daemon"),
        ("Deployment", "profiteer-code-location"),
        ("Deployment", "profiteer-shop-api"),
        ("Deployment", "profiteer-app"),
        ("Deployment", "profiteer-mindsdb"),
        ("StatefulSet", "profiteer-postgresql"),
        ("PersistentVolumeClaim", "profiteer-mindsdb-storage"),
        ("Service", "profiteer-webserver"),
        ("Service", "profiteer-code-location"),
        ("Service", "profiteer-shop-api"),
        ("Service", "profiteer-app"),
        ("Service", "profiteer-mindsdb"),
        ("Service", "profiteer-postgresql"),
        ("Service", "profiteer-postgresql-headless"),
        ("Ingress", "profiteer"),  # the app only; the Dagster UI has no Ingress by default
        ("NetworkPolicy", "profiteer-default-deny"),
        ("NetworkPolicy", "profiteer-dagster-egress"),
        ("NetworkPolicy", "profiteer-code-location"),
        ("NetworkPolicy", "profiteer-shop-api"),
        ("NetworkPolicy", "profiteer-app"),
        ("NetworkPolicy", "profiteer-mindsdb"),
        ("NetworkPolicy", "profiteer-postgresql"),
    }


def test_override_uses_external_postgres_and_no_ingress(override_docs):
    kinds = {k for k, _ in names(override_docs)}
    assert "StatefulSet" not in kinds and "Ingress" not in kinds
    assert ("Service", "profiteer-postgresql") not in names(override_docs)
    env = find(override_docs, "ConfigMap", "profiteer-env")["data"]
    assert env["PROFITEER_PG_HOST"] == "pg.data.svc.cluster.local"
    assert env["PROFITEER_PG_PORT"] == "5433"
    assert env["PGSSLMODE"] == "require"
    dagster = find(override_docs, "ConfigMap", "profiteer-dagster-env")["data"]
    assert dagster["PROFITEER_PG_USER"] == "profiteer_app"
    assert "PROFITEER_PG_USER" not in env  # each login goes with its consumer only


def test_install_dry_run_gives_the_same_objects_and_notes(chart, override_values):
    """The install path (what `helm install --dry-run` runs) agrees with the plain render."""
    with helm.Config(namespace=NAMESPACE, storage_driver="memory") as cfg:
        release = cfg.install(chart, RELEASE, override_values, dry_run="client")
    docs = [d for d in yaml.safe_load_all(release["manifest"]) if d]
    assert names(docs) == names(render(chart, override_values))
    assert "port-forward svc/profiteer-webserver" in release["notes"]
    assert "Airbyte server mode" in release["notes"]


# --- wiring -------------------------------------------------------------------------------


def test_workspace_points_at_the_code_location_service(case):
    values, docs = case
    workspace = yaml.safe_load(
        find(docs, "ConfigMap", "profiteer-workspace")["data"]["workspace.yaml"]
    )
    (entry,) = workspace["load_from"]
    grpc = entry["grpc_server"]
    service = find(docs, "Service", grpc["host"])
    (port,) = service["spec"]["ports"]
    assert port["port"] == grpc["port"]

    deployment = find(docs, "Deployment", "profiteer-code-location")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (container,) = containers(deployment)
    (cport,) = [p for p in container["ports"] if p["name"] == port["targetPort"]]
    assert int(arg_after(container["command"], "--port")) == cport["containerPort"]
    assert arg_after(container["command"], "--module-name") == "profiteer_pipeline.definitions"
    assert arg_after(container["command"], "--location-name") == grpc["location_name"]

    # Both readers of the workspace mount this ConfigMap where their command looks for it.
    for name in ("profiteer-webserver", "profiteer-daemon"):
        pod = find(docs, "Deployment", name)["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        path = Path(arg_after(c["command"], "--workspace"))
        (vol,) = [
            v for v in pod["volumes"] if v.get("configMap", {}).get("name") == "profiteer-workspace"
        ]
        (mount,) = [m for m in c["volumeMounts"] if m["name"] == vol["name"]]
        assert Path(mount["mountPath"]) / "workspace.yaml" == path


def test_run_launcher_runs_the_code_location_image(case):
    values, docs = case
    (container,) = containers(find(docs, "Deployment", "profiteer-code-location"))
    launcher = instance_yaml(docs)["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    config = launcher["config"]
    assert (
        config["job_image"] == container["image"] == env_value(container, "DAGSTER_CURRENT_IMAGE")
    )
    image = values.get("image", {})
    expected = f"{image.get('repository', 'profiteer')}:{image.get('tag', '0.1.0')}"
    assert container["image"] == expected
    # Every other pod that runs project code runs the same image.
    for name in ("profiteer-webserver", "profiteer-daemon", "profiteer-shop-api", "profiteer-app"):
        (c,) = containers(find(docs, "Deployment", name))
        assert c["image"] == expected, name
    assert config["instance_config_map"] == "profiteer-instance"
    assert config["job_namespace"] == NAMESPACE
    # Run pods need no Kubernetes API: the account without a Role (test_helm_security.py).
    assert config["service_account_name"] == "profiteer-workload"
    assert config.get("image_pull_secrets") == values.get("imagePullSecrets")


def test_run_pods_get_the_same_environment_as_the_code_location(case):
    _, docs = case
    config = instance_yaml(docs)["run_launcher"]["config"]
    (container,) = containers(find(docs, "Deployment", "profiteer-code-location"))
    env_from = container["envFrom"]
    assert [e["configMapRef"]["name"] for e in env_from if "configMapRef" in e] == config[
        "env_config_maps"
    ]
    code_secrets = [e["secretRef"]["name"] for e in env_from if "secretRef" in e]
    assert config["env_secrets"][: len(code_secrets)] == code_secrets
    # The run pod mounts the instance under DAGSTER_HOME; its writable folders match the others.
    assert (
        config["dagster_home"] == find(docs, "ConfigMap", "profiteer-env")["data"]["DAGSTER_HOME"]
    )
    mounts = {m["mount_path"] for m in config["volume_mounts"]}
    assert {"/tmp", "/var/lib/profiteer", config["dagster_home"]} <= mounts
    assert config["security_context"]["read_only_root_filesystem"] is True
    assert (
        config["run_k8s_config"]["pod_spec_config"]["security_context"]["run_as_non_root"] is True
    )


def test_instance_uses_postgres_storage_and_queued_runs(default_docs):
    instance = instance_yaml(default_docs)
    db = instance["storage"]["postgres"]["postgres_db"]
    assert db["scheme"] == "postgresql+psycopg2"
    assert db["password"] == {"env": "PROFITEER_PG_PASSWORD"}
    assert db["db_name"] == {"env": "PROFITEER_DAGSTER_DB"}
    coordinator = instance["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert coordinator["config"]["max_concurrent_runs"] == 2
    assert coordinator["config"]["tag_concurrency_limits"] == [
        {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]


PG_ENV = ("PROFITEER_PG_HOST", "PROFITEER_PG_USER", "PROFITEER_PG_PASSWORD", "PROFITEER_DAGSTER_DB")


def _checked_instance(docs, tmp_path, monkeypatch, edit=None) -> dict:
    """The rendered dagster.yaml as Dagster builds an instance from it: its instance schema
    (`InstanceRef.from_dir`), then each configurable class (storage, run coordinator,
    dagster-k8s's K8sRunLauncher, compute logs) imported and its section put through that
    class's own config schema. Returns the sections by name."""
    from dagster._config import process_config
    from dagster._core.instance.ref import InstanceRef
    from dagster._serdes.config_class import class_from_code_pointer

    instance = instance_yaml(docs)
    if edit:
        edit(instance)
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(instance))
    for name in PG_ENV:
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("PROFITEER_PG_PORT", "5432")
    ref = InstanceRef.from_dir(str(tmp_path))
    sections = {
        "storage": ref.storage_data,
        "run_coordinator": ref.run_coordinator_data,
        "run_launcher": ref.run_launcher_data,
        "compute_logs": ref.compute_logs_data,
    }
    for section, data in sections.items():
        cls = class_from_code_pointer(data.module_name, data.class_name)
        result = process_config(cls.config_type(), data.config_dict)
        assert result.success, (section, [e.message for e in result.errors])
    return {name: (data.class_name, data.config_dict) for name, data in sections.items()}


def test_instance_yaml_loads_with_dagster_and_dagster_k8s(case, tmp_path, monkeypatch):
    _, docs = case
    sections = _checked_instance(docs, tmp_path, monkeypatch)
    assert {name: cls for name, (cls, _) in sections.items()} == {
        "storage": "DagsterPostgresStorage",
        "run_coordinator": "QueuedRunCoordinator",
        "run_launcher": "K8sRunLauncher",
        "compute_logs": "NoOpComputeLogManager",
    }


def test_k8s_run_launcher_builds_from_the_rendered_config(default_docs, tmp_path, monkeypatch):
    """dagster-k8s constructs its K8sRunLauncher from the rendered section (a kubeconfig that
    points nowhere stands in for the in-cluster one: nothing is called)."""
    from dagster_k8s import K8sRunLauncher

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "none", "user": {}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
    }))  # fmt: skip
    section = dict(instance_yaml(default_docs)["run_launcher"]["config"])
    section |= {"load_incluster_config": False, "kubeconfig_file": str(kubeconfig)}
    launcher = K8sRunLauncher(**section)
    assert launcher.job_image == section["job_image"]
    assert launcher.service_account_name == section["service_account_name"]
    assert launcher.instance_config_map == section["instance_config_map"]


@pytest.mark.parametrize(
    "section, key",
    [("run_launcher", "job_namespce"), ("run_coordinator", "max_concurent_runs")],
)
def test_a_typo_in_the_instance_config_fails(default_docs, tmp_path, monkeypatch, section, key):
    def misspell(instance):
        instance[section]["config"][key] = "x"

    with pytest.raises(AssertionError, match=section):
        _checked_instance(default_docs, tmp_path, monkeypatch, edit=misspell)


def test_run_launcher_kubernetes_config_is_snake_case(case):
    """dagster-k8s builds run pods from Kubernetes' Python models: camelCase keys there are
    rejected at launch time ("Unexpected keys in model class V1SecurityContext")."""
    _, docs = case
    config = instance_yaml(docs)["run_launcher"]["config"]
    camel = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if not re.fullmatch(r"[a-z0-9_]+", key):
                    camel.append(f"{path}.{key}")
                if key not in ("node_selector", "labels", "annotations"):  # user data, not fields
                    walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")

    for section in ("security_context", "volumes", "volume_mounts", "run_k8s_config"):
        walk(config[section], section)
    assert camel == []
    assert config["security_context"]["read_only_root_filesystem"] is True
    pod_security = config["run_k8s_config"]["pod_spec_config"]["security_context"]
    assert pod_security["run_as_user"] == 10001


def _existing_from_values(values: dict) -> set[tuple[str, str]]:
    """Objects the values say exist outside the chart."""
    out = set()
    auth = values.get("postgresql", {}).get("auth", {})
    for section, key in (
        *((auth, key) for key in EXISTING_SECRET_KEYS),
        (values.get("shopApi", {}), "existingSecret"),
        (values.get("airbyte", {}), "existingSecret"),
        (values.get("mindsdb", {}).get("auth", {}), "existingSecret"),
    ):
        if section.get(key):
            out.add(("Secret", section[key]))
    launcher = values.get("dagster", {}).get("runLauncher", {})
    out |= {("Secret", n) for n in launcher.get("envSecrets", [])}
    out |= {("ConfigMap", n) for n in launcher.get("envConfigMaps", [])}
    return out


def _references(docs: list[dict]) -> list[tuple[str, str, str | None, str]]:
    """(kind, name, key, where) for every reference a pod or the run launcher makes."""
    refs = []
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        spec = doc["spec"]["template"]["spec"]
        for c in spec.get("initContainers", []) + spec["containers"]:
            for e in c.get("env", []):
                source = e.get("valueFrom", {})
                if "secretKeyRef" in source:
                    ref = source["secretKeyRef"]
                    refs.append(("Secret", ref["name"], ref["key"], where))
                if "configMapKeyRef" in source:
                    ref = source["configMapKeyRef"]
                    refs.append(("ConfigMap", ref["name"], ref["key"], where))
            for e in c.get("envFrom", []):
                if "secretRef" in e:
                    refs.append(("Secret", e["secretRef"]["name"], None, where))
                if "configMapRef" in e:
                    refs.append(("ConfigMap", e["configMapRef"]["name"], None, where))
        for v in spec.get("volumes", []):
            if "configMap" in v:
                refs.append(("ConfigMap", v["configMap"]["name"], None, where))
            if "secret" in v:
                refs.append(("Secret", v["secret"]["secretName"], None, where))
            if "persistentVolumeClaim" in v:
                refs.append(
                    ("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"], None, where)
                )
        if "serviceAccountName" in spec:
            refs.append(("ServiceAccount", spec["serviceAccountName"], None, where))
    config = instance_yaml(docs)["run_launcher"]["config"]
    refs += [("ConfigMap", n, None, "run_launcher") for n in config["env_config_maps"]]
    refs += [("Secret", n, None, "run_launcher") for n in config["env_secrets"]]
    refs.append(("ConfigMap", config["instance_config_map"], None, "run_launcher"))
    refs.append(("ServiceAccount", config["service_account_name"], None, "run_launcher"))
    return refs


def test_every_reference_names_an_object_that_exists(case):
    values, docs = case
    created = names(docs)
    outside = _existing_from_values(values)
    refs = _references(docs)
    assert any(r[2] for r in refs), "no secretKeyRef found: the walk is broken"
    for kind, name, key, where in refs:
        if (kind, name) in outside:
            continue
        assert (kind, name) in created, f"{where} refers to {kind} {name!r}, which nothing creates"
        if key is not None:
            obj = find(docs, kind, name)
            assert key in obj.get("data", {}), f"{where}: {kind} {name!r} has no key {key!r}"


def test_references_to_missing_objects_are_caught(default_docs):
    """The walk above notices a dangling reference (so that test can fail)."""
    docs = [d for d in default_docs if d["kind"] != "Secret"]
    created = names(docs)
    dangling = [r for r in _references(docs) if (r[0], r[1]) not in created]
    assert ("Secret", "profiteer-postgresql") in {(k, n) for k, n, _, _ in dangling}


# postgresql.auth's Secret values -> the keys the operator's Secret holds (values.yaml)
EXISTING_SECRET_KEYS = {
    "adminExistingSecret": {"POSTGRES_PASSWORD"},
    "existingSecret": {"PROFITEER_PG_PASSWORD", "PROFITEER_DATABASE_URL"},
    "readerExistingSecret": {"PROFITEER_READER_PASSWORD"},
    "modelExistingSecret": {"PROFITEER_MODEL_PASSWORD"},
    "shopApiExistingSecret": {"PROFITEER_PG_PASSWORD", "PROFITEER_DATABASE_URL"},
}


def secret_keys(docs: list[dict], values: dict, name: str) -> set[str]:
    """The keys of Secret `name`: rendered, or an operator's one named in postgresql.auth."""
    created = {n for k, n in names(docs) if k == "Secret"}
    if name in created:
        return set(find(docs, "Secret", name)["data"])
    auth = values.get("postgresql", {}).get("auth", {})
    for value_key, keys in EXISTING_SECRET_KEYS.items():
        if auth.get(value_key) == name:
            return keys
    if name == values.get("shopApi", {}).get("existingSecret"):
        return {"PROFITEER_SHOP_API_KEY"}
    if name == values.get("airbyte", {}).get("existingSecret"):
        return {"AIRBYTE_CLIENT_ID", "AIRBYTE_CLIENT_SECRET"}
    return set()  # dagster.runLauncher.envSecrets: the operator's own


def visible_secrets(docs: list[dict], values: dict, container: dict) -> set[tuple[str, str]]:
    """(Secret, key) of every secret value a container can read from its environment."""
    seen = set()
    for e in container.get("envFrom", []):
        if "secretRef" in e:
            name = e["secretRef"]["name"]
            seen |= {(name, k) for k in secret_keys(docs, values, name)}
    for e in container.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            seen.add((ref["name"], ref["key"]))
    return seen


def run_pod_environment(docs: list[dict], values: dict) -> set[str]:
    """Variables a run pod gets from the run launcher's ConfigMaps, Secrets and env_vars."""
    config = instance_yaml(docs)["run_launcher"]["config"]
    created = {n for k, n in names(docs) if k == "ConfigMap"}
    provided = set()
    for cm in config["env_config_maps"]:
        if cm in created:
            provided |= set(find(docs, "ConfigMap", cm)["data"])
    for secret in config["env_secrets"]:
        provided |= secret_keys(docs, values, secret)
    provided |= {v.split("=", 1)[0] for v in config.get("env_vars", [])}
    return provided


def container_environment(docs: list[dict], values: dict, deployment: str) -> set[str]:
    (c,) = containers(find(docs, "Deployment", deployment))
    provided = {e["name"] for e in c.get("env", [])}
    for e in c.get("envFrom", []):
        if "configMapRef" in e:
            provided |= set(find(docs, "ConfigMap", e["configMapRef"]["name"])["data"])
    provided |= {k for _, k in visible_secrets(docs, values, c)}
    return provided


def local_share(service: str) -> set[str]:
    """The variables of `settings.environment()` the local stack gives `service`
    (stack/context.py: the shared ones and the service's own)."""
    from profiteer_pipeline.stack.context import SERVICE_VARIABLES, SHARED_VARIABLES

    local = environment(
        Settings(
            warehouse=PgUrl("u", "p", "h", 5432, "warehouse"),
            shop_api_key="k",
            reader_password="r",
            model_password="m",
        )
    )
    return set(local) & (SHARED_VARIABLES | SERVICE_VARIABLES[service])


def test_pipeline_processes_get_every_variable_the_settings_define(case):
    """Run pods and Dagster's Deployments get every variable of `settings.environment()` the
    local stack gives Dagster's processes, the model's login included; the app and the shop API
    get theirs."""
    values, docs = case
    dagster = local_share("dagster")
    assert {"PROFITEER_MODEL_USER", "PROFITEER_MODEL_PASSWORD", "PROFITEER_PG_PASSWORD"} <= dagster
    missing = dagster - run_pod_environment(docs, values)
    assert missing == set(), f"run pods lack {sorted(missing)}"
    for name in ("profiteer-webserver", "profiteer-daemon", "profiteer-code-location"):
        missing = dagster - container_environment(docs, values, name)
        assert missing == set(), f"{name} lacks {sorted(missing)}"
    for service, name in (("app", "profiteer-app"), ("shop_api", "profiteer-shop-api")):
        missing = local_share(service) - container_environment(docs, values, name)
        assert missing == set(), f"{name} lacks {sorted(missing)}"


def test_dagster_records_one_planned_event_per_range_as_the_local_stack(case):
    """Every process that creates or executes runs (webserver, daemon, code location, run pods)
    gets DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS with the local stack's value, so a
    single-run backfill writes one planned event per asset, not one per hour; the app and the
    shop API do not get it."""
    from profiteer_pipeline.stack.context import SERVICE_VARIABLES

    values, docs = case
    name = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
    assert name in SERVICE_VARIABLES["dagster"]  # the local stack gives it to Dagster only
    assert name not in SERVICE_VARIABLES["app"] | SERVICE_VARIABLES["shop_api"]
    data = find(docs, "ConfigMap", "profiteer-dagster-env")["data"]
    assert data[name] == "1"
    assert name in run_pod_environment(docs, values)
    for deployment in ("profiteer-webserver", "profiteer-daemon", "profiteer-code-location"):
        assert name in container_environment(docs, values, deployment), deployment
    for deployment in ("profiteer-app", "profiteer-shop-api"):
        assert name not in container_environment(docs, values, deployment), deployment


def test_each_container_sees_only_its_own_secrets(default_docs):
    """Per Deployment (and run pods): every (Secret, key) its environment can read."""
    pipeline = {
        ("profiteer-pipeline", "PROFITEER_PG_PASSWORD"),
        ("profiteer-pipeline", "PROFITEER_DATABASE_URL"),
        ("profiteer-model", "PROFITEER_MODEL_PASSWORD"),
        ("profiteer-shop-api", "PROFITEER_SHOP_API_KEY"),
    }
    expected = {
        "profiteer-webserver": pipeline,
        "profiteer-daemon": pipeline,
        "profiteer-code-location": pipeline,
        "profiteer-app": {("profiteer-reader", "PROFITEER_READER_PASSWORD")},
        "profiteer-shop-api": {
            ("profiteer-shop-api-db", "PROFITEER_PG_PASSWORD"),
            ("profiteer-shop-api-db", "PROFITEER_DATABASE_URL"),
            ("profiteer-shop-api", "PROFITEER_SHOP_API_KEY"),
        },
        "profiteer-mindsdb": set(),  # its datasource's login arrives through SQL, from Dagster
        "profiteer-postgresql": {
            ("profiteer-postgresql", "POSTGRES_PASSWORD"),
            ("profiteer-pipeline", "PROFITEER_PG_PASSWORD"),
            ("profiteer-reader", "PROFITEER_READER_PASSWORD"),
            ("profiteer-model", "PROFITEER_MODEL_PASSWORD"),
            ("profiteer-shop-api-db", "PROFITEER_PG_PASSWORD"),
        },
    }
    seen = {}
    for doc in default_docs:
        if doc["kind"] in WORKLOADS:
            (c,) = containers(doc)
            seen[doc["metadata"]["name"]] = visible_secrets(default_docs, {}, c)
    assert seen == expected
    config = instance_yaml(default_docs)["run_launcher"]["config"]
    run = {(n, k) for n in config["env_secrets"] for k in secret_keys(default_docs, {}, n)}
    assert run == pipeline
    # the users that go with those passwords, from the consumers' own non-secret environment,
    # and the reader's name without its password (an import grants the app its tables)
    dagster = find(default_docs, "ConfigMap", "profiteer-dagster-env")["data"]
    assert dagster == {
        "PROFITEER_PG_USER": "profiteer_pipeline",
        "PROFITEER_MODEL_USER": "profiteer_model",
        "PROFITEER_READER_USER": "profiteer_reader",
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",
    }
    shared = find(default_docs, "ConfigMap", "profiteer-env")["data"]
    assert not {k for k in shared if k.endswith(("_USER", "_PASSWORD", "_KEY", "_URL"))} - {
        "MINDSDB_URL",
        "PROFITEER_SHOP_API_URL",
    }
    (shop,) = containers(find(default_docs, "Deployment", "profiteer-shop-api"))
    assert env_value(shop, "PROFITEER_PG_USER") == "profiteer_shop_api"


def test_each_container_sees_only_its_own_secrets_with_existing_ones(
    override_docs, override_values
):
    """With the operator's Secrets (external server): still one login per consumer."""
    seen = {}
    for doc in override_docs:
        if doc["kind"] in WORKLOADS:
            (c,) = containers(doc)
            seen[doc["metadata"]["name"]] = {
                n for n, _ in visible_secrets(override_docs, override_values, c)
            }
    dagster = {
        "profiteer-db-credentials",  # postgresql.auth.existingSecret: the writer's
        "profiteer-model",
        "profiteer-shop-api",
        "airbyte-profiteer-client",
        "profiteer-mindsdb",
    }
    assert seen == {
        "profiteer-webserver": dagster,
        "profiteer-daemon": dagster,
        "profiteer-code-location": dagster,
        "profiteer-app": {"profiteer-reader", "profiteer-mindsdb"},
        "profiteer-shop-api": {"profiteer-shop-api-db", "profiteer-shop-api"},
        "profiteer-mindsdb": {"profiteer-mindsdb"},  # its own HTTP login only
    }
    config = instance_yaml(override_docs)["run_launcher"]["config"]
    assert set(config["env_secrets"]) == dagster | {"profiteer-extra"}


@pytest.mark.parametrize("values_file", [None, OVERRIDE], ids=["default", "override"])
def test_the_app_never_references_the_writers_or_the_admins_password(chart, values_file):
    values = load_values(values_file) if values_file else {}
    docs = render(chart, values)
    app = find(docs, "Deployment", "profiteer-app")
    (c,) = containers(app)
    writer = values.get("postgresql", {}).get("auth", {}).get("existingSecret")
    forbidden = {"profiteer-postgresql", "profiteer-pipeline", writer or "profiteer-pipeline"}
    text = yaml.safe_dump(app)
    for name in forbidden:
        assert f"name: {name}\n" not in text
    visible = visible_secrets(docs, values, c)
    assert not {k for _, k in visible} & {
        "POSTGRES_PASSWORD",
        "PROFITEER_PG_PASSWORD",
        "PROFITEER_DATABASE_URL",
    }
    assert PgUrl.parse(env_value(c, "PROFITEER_DATABASE_URL")).password == ""
    assert PgUrl.parse(env_value(c, "PROFITEER_DATABASE_URL")).user == env_value(
        c, "PROFITEER_READER_USER"
    )


def test_airbyte_server_mode_only_when_enabled(default_docs, override_docs, override_values):
    default_env = find(default_docs, "ConfigMap", "profiteer-env")["data"]
    assert not [k for k in default_env if k.startswith("AIRBYTE_")]  # embedded PyAirbyte path
    env = find(override_docs, "ConfigMap", "profiteer-env")["data"]
    airbyte = override_values["airbyte"]
    assert env["AIRBYTE_REST_API_BASE_URL"] == airbyte["restApiBaseUrl"]
    assert env["AIRBYTE_CONFIGURATION_API_BASE_URL"] == airbyte["configurationApiBaseUrl"]
    assert env["AIRBYTE_WORKSPACE_ID"] == airbyte["workspaceId"]
    assert env["AIRBYTE_CONNECTION_ID"] == airbyte["connectionId"]
    config = instance_yaml(override_docs)["run_launcher"]["config"]
    assert airbyte["existingSecret"] in config["env_secrets"]
    assert "profiteer-mindsdb" in config["env_secrets"]  # mindsdb.auth.enabled


def test_pvcs_mount_where_mindsdb_and_postgres_keep_data(default_docs):
    mindsdb = find(default_docs, "Deployment", "profiteer-mindsdb")
    (c,) = containers(mindsdb)
    storage_dir = env_value(c, "MINDSDB_STORAGE_DIR")
    (vol,) = [
        v for v in mindsdb["spec"]["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v
    ]
    claim = find(default_docs, "PersistentVolumeClaim", vol["persistentVolumeClaim"]["claimName"])
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == vol["name"]]
    assert mount["mountPath"] == storage_dir == "/var/lib/mindsdb"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert mindsdb["spec"]["strategy"]["type"] == "Recreate"  # one writer on a RWO volume

    sts = find(default_docs, "StatefulSet", "profiteer-postgresql")
    (pg,) = containers(sts)
    (template,) = sts["spec"]["volumeClaimTemplates"]
    (data_mount,) = [m for m in pg["volumeMounts"] if m["name"] == template["metadata"]["name"]]
    pgdata = Path(env_value(pg, "PGDATA"))
    assert Path(data_mount["mountPath"]) in pgdata.parents
    assert pg["image"] == "postgres:17"


DBS = ("warehouse", "shop", "dagster")


def test_postgres_init_script_creates_each_role_with_its_grants(default_docs):
    """What the script does, read off it (tests/test_helm_roles.py runs it on a real server and
    compares it with stack/roles.py)."""
    script = find(default_docs, "ConfigMap", "profiteer-postgresql-initdb")["data"][
        "10-profiteer.sh"
    ]
    assert script.startswith("#!/bin/sh\n")
    assert "-v warehouse='warehouse' -v shop='shop' -v dagster='dagster'" in script
    for var, role in (
        ("writer", "profiteer_pipeline"),
        ("reader", "profiteer_reader"),
        ("model", "profiteer_model"),
        ("shop_api", "profiteer_shop_api"),
    ):
        assert f"-v {var}='{role}'" in script
        assert f"ALTER ROLE :\"{var}\" LOGIN PASSWORD :'{var}_password';" in script
    sql = script.split("<<'SQL'\n", 1)[1]
    statements = [line.strip() for line in sql.splitlines()]
    for db in DBS:
        assert f'REVOKE ALL ON DATABASE :"{db}" FROM PUBLIC;' in statements  # CONNECT, TEMPORARY
        assert f'ALTER DATABASE :"{db}" OWNER TO :"writer";' in statements
    assert 'GRANT CONNECT ON DATABASE :"warehouse" TO :"reader";' in statements
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "analytics" TO :"reader";' in statements
    assert (
        'ALTER DEFAULT PRIVILEGES FOR ROLE :"writer" IN SCHEMA "analytics" '
        'GRANT SELECT ON TABLES TO :"reader";'
    ) in statements
    assert 'GRANT SELECT ON "public"."products" TO :"reader";' in statements
    assert 'GRANT CONNECT ON DATABASE :"warehouse" TO :"model";' in statements
    assert 'GRANT SELECT ON "public"."sales_features" TO :"model";' in statements
    assert 'GRANT CONNECT ON DATABASE :"shop" TO :"shop_api";' in statements
    assert 'GRANT SELECT ON "public"."shop_sales" TO :"shop_api";' in statements
    # nothing broader: no predefined role granted, no superuser
    assert "GRANT pg_" not in sql and "SUPERUSER" not in sql.upper().replace("NOSUPERUSER", "")
    # every GRANT of the script: the admin keeps its access, each role gets exactly these
    assert sorted(s for s in statements if s.startswith("GRANT ")) == sorted(
        [
            *(f'GRANT CONNECT, TEMPORARY ON DATABASE :"{db}" TO CURRENT_USER;' for db in DBS),
            'GRANT CONNECT ON DATABASE :"warehouse" TO :"reader";',
            *(
                grant
                for schema in ("analytics", "shop_model")  # the shop's metrics, its model's advice
                for grant in (
                    f'GRANT USAGE ON SCHEMA "{schema}" TO :"reader";',
                    f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO :"reader";',
                )
            ),
            'GRANT SELECT ON "public"."products" TO :"reader";',
            'GRANT CONNECT ON DATABASE :"warehouse" TO :"model";',
            'GRANT SELECT ON "public"."sales_features" TO :"model";',
            'GRANT CONNECT ON DATABASE :"shop" TO :"shop_api";',
            'GRANT SELECT ON "public"."shop_sales" TO :"shop_api";',
        ]
    )
    sts = find(default_docs, "StatefulSet", "profiteer-postgresql")
    (pg,) = containers(sts)
    (mount,) = [m for m in pg["volumeMounts"] if m["name"] == "initdb"]
    assert mount["mountPath"] == "/docker-entrypoint-initdb.d"
    assert env_value(pg, "POSTGRES_USER") == "postgres"


def test_mindsdb_is_pinned_to_the_local_version(default_docs):
    pinned = (ROOT / "requirements" / "mindsdb.in").read_text()
    version = re.search(r"mindsdb\[lightwood\]==([\d.]+)", pinned).group(1)
    (c,) = containers(find(default_docs, "Deployment", "profiteer-mindsdb"))
    assert c["image"] == f"mindsdb/mindsdb:v{version}-lightwood"


# --- secrets ------------------------------------------------------------------------------

GUESSABLE = {"", "password", "postgres", "profiteer", "changeme", "secret", "admin", "mindsdb"}


def _decoded(doc: dict) -> dict[str, str]:
    import base64

    return {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}


PASSWORDS = {  # Secret -> its generated password's key
    "profiteer-postgresql": "POSTGRES_PASSWORD",
    "profiteer-pipeline": "PROFITEER_PG_PASSWORD",
    "profiteer-reader": "PROFITEER_READER_PASSWORD",
    "profiteer-model": "PROFITEER_MODEL_PASSWORD",
    "profiteer-shop-api-db": "PROFITEER_PG_PASSWORD",
}


def test_generated_secrets_are_random_and_consistent(chart):
    first_docs, second_docs = render(chart), render(chart)
    first = {n: _decoded(find(first_docs, "Secret", n))[k] for n, k in PASSWORDS.items()}
    second = {n: _decoded(find(second_docs, "Secret", n))[k] for n, k in PASSWORDS.items()}
    for name, password in first.items():
        assert len(password) == 32 and password not in GUESSABLE, name
        assert password != second[name], name
    assert len(set(first.values())) == len(first)  # one password per login
    for secret, user in (
        ("profiteer-pipeline", "profiteer_pipeline"),
        ("profiteer-shop-api-db", "profiteer_shop_api"),
    ):
        data = _decoded(find(first_docs, "Secret", secret))
        url = PgUrl.parse(data["PROFITEER_DATABASE_URL"])
        assert (url.user, url.password, url.port, url.database) == (
            user,
            data["PROFITEER_PG_PASSWORD"],
            5432,
            "warehouse",
        )
        assert url.host == "profiteer-postgresql.profiteer.svc"
    key = _decoded(find(first_docs, "Secret", "profiteer-shop-api"))["PROFITEER_SHOP_API_KEY"]
    assert len(key) == 48
    # every chart Secret of the embedded server outlives an uninstall, like the data
    for name in PASSWORDS:
        annotations = find(first_docs, "Secret", name)["metadata"]["annotations"]
        assert annotations == {"helm.sh/resource-policy": "keep"}


def test_given_secrets_are_used_as_is(chart):
    docs = render(
        chart,
        {
            "postgresql": {
                "auth": {
                    "password": "p@ss/w:rd",
                    "readerPassword": "r1",
                    "modelPassword": "m1",
                    "shopApiPassword": "s/1",
                    "adminPassword": "a1",
                }
            },
            "shopApi": {"apiKey": "k1"},
        },
    )
    pg = _decoded(find(docs, "Secret", "profiteer-pipeline"))
    assert pg["PROFITEER_PG_PASSWORD"] == "p@ss/w:rd"
    assert PgUrl.parse(pg["PROFITEER_DATABASE_URL"]).password == "p@ss/w:rd"  # URL-encoded
    shop_db = _decoded(find(docs, "Secret", "profiteer-shop-api-db"))
    assert PgUrl.parse(shop_db["PROFITEER_DATABASE_URL"]).password == "s/1"
    assert _decoded(find(docs, "Secret", "profiteer-reader")) == {"PROFITEER_READER_PASSWORD": "r1"}
    assert _decoded(find(docs, "Secret", "profiteer-model")) == {"PROFITEER_MODEL_PASSWORD": "m1"}
    assert _decoded(find(docs, "Secret", "profiteer-postgresql")) == {"POSTGRES_PASSWORD": "a1"}
    assert _decoded(find(docs, "Secret", "profiteer-shop-api"))["PROFITEER_SHOP_API_KEY"] == "k1"


def test_existing_secrets_replace_the_charts_own(chart):
    names_ = {
        "adminExistingSecret": "db-admin",
        "existingSecret": "db-writer",
        "readerExistingSecret": "db-reader",
        "modelExistingSecret": "db-model",
        "shopApiExistingSecret": "db-shop-api",
    }
    docs = render(chart, {"postgresql": {"auth": names_}})
    assert not [n for k, n in names(docs) if k == "Secret" and n != "profiteer-shop-api"]
    refs = {(n, k) for kind, n, k, _ in _references(docs) if kind == "Secret"}
    for value_key, secret in names_.items():  # each key is read (by name, or with envFrom)
        for key in EXISTING_SECRET_KEYS[value_key]:
            assert (secret, key) in refs or (secret, None) in refs, (secret, key)
    readers = {}
    for kind, name, _, where in _references(docs):
        if kind == "Secret" and name.startswith("db-"):
            readers.setdefault(name, set()).add(where.split("/")[-1].removeprefix("profiteer-"))
    dagster = {"webserver", "daemon", "code-location", "run_launcher", "postgresql"}
    assert readers == {
        "db-admin": {"postgresql"},
        "db-writer": dagster,
        "db-reader": {"app", "postgresql"},
        "db-model": dagster,
        "db-shop-api": {"shop-api", "postgresql"},
    }


def test_app_gets_only_the_read_only_login(default_docs):
    (c,) = containers(find(default_docs, "Deployment", "profiteer-app"))
    assert not [e for e in c.get("envFrom", []) if "secretRef" in e]
    refs = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in c["env"]
        if "valueFrom" in e
    }
    assert refs == {("profiteer-reader", "PROFITEER_READER_PASSWORD")}
    url = PgUrl.parse(env_value(c, "PROFITEER_DATABASE_URL"))
    assert (url.user, url.password) == ("profiteer_reader", "")


# --- values that must be refused ----------------------------------------------------------


@pytest.mark.parametrize(
    ("values_file", "message"),
    [
        (
            "bad-type.yaml",
            "at '/dagster/runCoordinator/maxConcurrentRuns': got string, want integer",
        ),
        (
            "bad-unknown-key.yaml",
            "at '/postgresql': additional properties 'externalHost' not allowed",
        ),
        ("bad-database-name.yaml", "at '/postgresql/databases/warehouse'"),
    ],
)
def test_bad_values_fail_with_the_schema_message(chart, values_file, message):
    with pytest.raises(helm.HelmValuesError) as err:
        render(chart, load_values(VALUES_DIR / values_file))
    assert message in str(err.value)
    report = helm.lint(
        CHART, load_values(VALUES_DIR / values_file), strict=True, kube_version=f"v{KUBE_VERSION}"
    )
    assert any(message in e for e in report["errors"])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"postgresql": {"enabled": False}}, "postgresql.external.host is required"),
        (
            {"postgresql": {"enabled": False, "external": {"host": "db.internal"}}},
            "set postgresql.auth.password or postgresql.auth.existingSecret",
        ),
        (
            {"postgresql": {"auth": {"readerUsername": "profiteer_pipeline"}}},
            "each login needs its own role name",
        ),
        ({"airbyte": {"enabled": True}}, "airbyte."),
        ({"mindsdb": {"enabled": False}}, "mindsdb.externalUrl is required"),
    ],
)
def test_incomplete_values_fail_with_a_clear_message(chart, values, message):
    with pytest.raises(helm.HelmError) as err:
        render(chart, values)
    assert message in str(err.value)


# --- resources, probes, security ----------------------------------------------------------

CPU = {"m": 0.001}
MEM = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def cpu(q: str | int) -> float:
    q = str(q)
    return float(q[:-1]) * CPU["m"] if q.endswith("m") else float(q)


def mem(q: str) -> float:
    for unit, factor in MEM.items():
        if q.endswith(unit):
            return float(q[: -len(unit)]) * factor
    return float(q)


def test_every_container_has_resources_and_probes(case):
    _, docs = case
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        for c in containers(doc):
            where = f"{doc['metadata']['name']}/{c['name']}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][bound]), where
                assert cpu(c["resources"][bound]["cpu"]) > 0, where
            assert cpu(c["resources"]["requests"]["cpu"]) <= cpu(c["resources"]["limits"]["cpu"]), (
                where
            )
            assert mem(c["resources"]["requests"]["memory"]) <= mem(
                c["resources"]["limits"]["memory"]
            ), where
            assert "livenessProbe" in c and "readinessProbe" in c, where
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, where


def test_project_pods_run_as_non_root(case):
    _, docs = case
    for doc in docs:
        if doc["kind"] not in WORKLOADS or doc["metadata"]["name"] == "profiteer-mindsdb":
            continue  # MindsDB's official image runs as root (see values.yaml)
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        for c in pod["containers"]:
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_total_requests_fit_in_the_original_budget(default_docs):
    """The original chart asked for about 7 GiB and 2 CPUs; the stack must fit in that."""
    total_cpu = total_mem = 0.0
    for doc in default_docs:
        if doc["kind"] in WORKLOADS:
            for c in containers(doc):
                replicas = doc["spec"].get("replicas", 1)
                total_cpu += replicas * cpu(c["resources"]["requests"]["cpu"])
                total_mem += replicas * mem(c["resources"]["requests"]["memory"])
    assert total_cpu <= 2.0 and total_mem <= 7 * 2**30, (total_cpu, total_mem / 2**30)
    # At the peak, one run pod per concurrent run joins them: still within the budget.
    config = instance_yaml(default_docs)
    runs = config["run_coordinator"]["config"]["max_concurrent_runs"]
    run = config["run_launcher"]["config"]["resources"]["requests"]
    assert total_cpu + runs * cpu(run["cpu"]) <= 2.0
    assert total_mem + runs * mem(run["memory"]) <= 7 * 2**30


# --- the image the chart runs -------------------------------------------------------------


def test_chart_commands_match_the_project_image():
    """What the pods start exists in the code and the Dockerfile puts it where the chart looks."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", dockerfile, re.M)
    stages = {
        m.group(1): m.group(0)
        for m in re.finditer(r"^FROM \S+ AS (\w+)\n(?:(?!^FROM ).*\n?)*", dockerfile, re.M)
    }
    assert "--require-hashes -r requirements/pipeline.lock.txt" in stages["build"]
    runtime = stages["runtime"]
    values = load_values(CHART / "values.yaml")
    uid = values["podSecurityContext"]["runAsUser"]
    assert re.search(rf"^USER {uid}:", runtime, re.M)
    assert "COPY --from=build /src/profiteer_app /opt/profiteer/profiteer_app" in runtime
    assert "--target mindsdb" in dockerfile and "requirements/mindsdb.lock.txt" in stages["mindsdb"]
    assert (ROOT / "profiteer_app" / "Home.py").exists()
    assert (ROOT / "profiteer_pipeline" / "definitions.py").exists()
    api = ast.parse((ROOT / "profiteer_pipeline" / "shop" / "api.py").read_text())
    assigned = {
        t.id
        for n in ast.walk(api)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    assert "app" in assigned


def test_schema_closes_every_section():
    """Every section with declared keys refuses unknown ones (a typo fails, it is not ignored)."""
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    open_sections = []

    def walk(node: dict, path: str) -> None:
        if "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        if node.get("type") == "object" and "properties" in node:
            if node.get("additionalProperties") is not False:
                open_sections.append(path)
            for key, child in node["properties"].items():
                walk(child, f"{path}.{key}")

    walk(schema, "")
    assert open_sections == []
    assert set(schema["properties"]) >= set(load_values(CHART / "values.yaml"))


def test_the_graph_drives_itself_after_install(case):
    """The daemon runs, and nothing in the instance turns the schedules, the sensors or the
    automation condition sensor off: they start RUNNING as the code declares them."""
    import dagster as dg

    from profiteer_pipeline.definitions import defs

    _, docs = case
    daemon = find(docs, "Deployment", "profiteer-daemon")
    assert containers(daemon)[0]["command"][:2] == ["dagster-daemon", "run"]
    instance = instance_yaml(docs)
    for section in ("auto_materialize", "schedules", "sensors"):
        assert instance.get(section, {}).get("enabled", True) is not False, section
        assert instance.get(section, {}).get("use_sensors", True) is not False, section
    repo = defs.get_repository_def()
    on = {s.name for s in repo.sensor_defs if s.default_status == dg.DefaultSensorStatus.RUNNING}
    assert on >= {
        "automation_condition_sensor",
        "retraining_sensor",
    }
    on = {
        s.name for s in repo.schedule_defs if s.default_status == dg.DefaultScheduleStatus.RUNNING
    }
    assert on == {
        "hourly_sales_schedule",
        "daily_retraining_schedule",
    }
