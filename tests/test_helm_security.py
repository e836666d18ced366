"""The chart is closed by default (issue 16, point 4), rendered by Helm's own engine.

- The Ingress routes to the app only; the Dagster UI (no login of its own) is reached with
  kubectl port-forward, or through its own Ingress only with basic auth or oauth2-proxy, and the
  values schema refuses it without one.
- NetworkPolicies: who may reach PostgreSQL, MindsDB, the shop API and the code location is
  evaluated from the rendered policies and the pods' labels (run pods included), both ways.
- Every container has a read-only root filesystem, with writable emptyDirs where it writes.
- Only the daemon and the webserver get a Kubernetes API token.

Rendering, lookup and validation helpers come from test_helm.py.
"""

from __future__ import annotations

import helm_python as helm
import kubernetes_validate
import pytest
import test_helm
from test_helm import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    WORKLOADS,
    containers,
    env_value,
    find,
    instance_yaml,
    names,
    render,
)

# test_helm's fixtures, shared rather than redefined (case needs override_values too).
chart = test_helm.chart
default_docs = test_helm.default_docs
override_values = test_helm.override_values
override_docs = test_helm.override_docs
case = test_helm.case  # (values, docs) for the default values and for the override file

BASIC_AUTH = {
    "ingress": {
        "dagster": {"enabled": True, "auth": {"basic": {"secretName": "dagster-basic-auth"}}}
    }
}
OAUTH2 = {
    "ingress": {
        "dagster": {
            "enabled": True,
            "auth": {
                "oauth2Proxy": {
                    "authUrl": "https://oauth2.example.com/oauth2/auth",
                    "signinUrl": "https://oauth2.example.com/oauth2/start?rd=$escaped_request_uri",
                }
            },
        }
    }
}
AUTH_TYPE = "nginx.ingress.kubernetes.io/auth-type"
AUTH_SECRET = "nginx.ingress.kubernetes.io/auth-secret"
AUTH_REALM = "nginx.ingress.kubernetes.io/auth-realm"
AUTH_URL = "nginx.ingress.kubernetes.io/auth-url"
AUTH_SIGNIN = "nginx.ingress.kubernetes.io/auth-signin"

DAGSTER_PODS = {"webserver", "daemon", "code-location", "run"}


def ingresses(docs: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Ingress"}


def backends(ingress: dict) -> set[tuple[str, str, str, str]]:
    """(host, path, service, port name) of every rule of an Ingress."""
    return {
        (
            rule["host"],
            p["path"],
            p["backend"]["service"]["name"],
            p["backend"]["service"]["port"]["name"],
        )
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }


def lint_errors(values: dict) -> list[str]:
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE_VERSION}")
    return report["errors"] + [m["error"] for m in report["messages"] if m["severity"] >= 2]


# --- Ingress ------------------------------------------------------------------------------


def test_default_ingress_routes_only_to_the_app(default_docs):
    (ingress,) = ingresses(default_docs).values()
    assert ingress["metadata"]["name"] == "profiteer"
    assert backends(ingress) == {("profiteer.local", "/", "profiteer-app", "http")}
    assert "annotations" not in ingress["metadata"]
    service = find(default_docs, "Service", "profiteer-app")
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


def test_dagster_ui_is_reached_by_port_forward_by_default(chart, default_docs):
    for ingress in ingresses(default_docs).values():
        assert "profiteer-webserver" not in {b[2] for b in backends(ingress)}
    assert find(default_docs, "Service", "profiteer-webserver")["spec"]["type"] == "ClusterIP"
    with helm.Config(namespace=NAMESPACE, storage_driver="memory") as cfg:
        notes = cfg.install(chart, RELEASE, {}, dry_run="client")["notes"]
    assert "port-forward svc/profiteer-webserver 3000:3000" in notes
    assert "http://profiteer.local" in notes and "dagster.profiteer.local" not in notes


@pytest.mark.parametrize(
    ("values", "messages"),
    [
        (
            {"ingress": {"dagster": {"enabled": True}}},
            [
                "at '/ingress/dagster/auth': 'oneOf' failed, none matched",
                "at '/ingress/dagster/auth/basic/secretName': minLength: got 0, want 1",
                "at '/ingress/dagster/auth/oauth2Proxy/authUrl': minLength: got 0, want 1",
            ],
        ),
        (
            # Both at once would stack two auth schemes on one Ingress: refused too.
            {
                "ingress": {
                    "dagster": {
                        "enabled": True,
                        "auth": {
                            "basic": {"secretName": "dagster-basic-auth"},
                            "oauth2Proxy": {"authUrl": "https://oauth2.example.com/oauth2/auth"},
                        },
                    }
                }
            },
            ["at '/ingress/dagster/auth': 'oneOf' failed, subschemas 0, 1 matched"],
        ),
        (
            {
                "ingress": {
                    "dagster": {
                        "enabled": True,
                        "auth": {"oauth2Proxy": {"authUrl": "oauth2/auth"}},
                    }
                }
            },
            [
                "at '/ingress/dagster/auth/oauth2Proxy/authUrl'",
                "does not match pattern '^https?://'",
            ],
        ),
        (
            {"ingress": {"dagster": {"enabled": True, "auth": {"basic": {"secret": "x"}}}}},
            ["at '/ingress/dagster/auth/basic': additional properties 'secret' not allowed"],
        ),
    ],
    ids=["no-auth", "both", "bad-url", "misspelt-key"],
)
def test_dagster_ingress_without_auth_is_a_schema_error(chart, values, messages):
    with pytest.raises(helm.HelmValuesError) as err:
        render(chart, values)
    for message in messages:
        assert message in str(err.value)
    errors = lint_errors(values)
    assert any(messages[0] in e for e in errors), errors


def test_dagster_ingress_with_basic_auth(chart):
    # An annotation in values cannot switch the chart's auth off.
    values = {
        "ingress": {
            "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
            "dagster": {
                **BASIC_AUTH["ingress"]["dagster"],
                "annotations": {AUTH_TYPE: "", "nginx.ingress.kubernetes.io/proxy-body-size": "1m"},
            },
        }
    }
    docs = render(chart, values)
    found = ingresses(docs)
    assert set(found) == {"profiteer", "profiteer-dagster"}
    dagster = found["profiteer-dagster"]
    assert backends(dagster) == {("dagster.profiteer.local", "/", "profiteer-webserver", "http")}
    assert dagster["metadata"]["annotations"] == {
        AUTH_TYPE: "basic",
        AUTH_SECRET: "dagster-basic-auth",
        AUTH_REALM: "Profiteer Dagster",
        "nginx.ingress.kubernetes.io/proxy-body-size": "1m",
        "cert-manager.io/cluster-issuer": "letsencrypt",
    }
    # The app's Ingress stays as it was: its backend only, and no auth of the Dagster host.
    app = found["profiteer"]
    assert backends(app) == {("profiteer.local", "/", "profiteer-app", "http")}
    assert app["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    # Only now may the ingress controller reach the webserver.
    policy = find(docs, "NetworkPolicy", "profiteer-webserver")
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 3000}]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    assert lint_errors(values) == []


def test_dagster_ingress_with_oauth2_proxy_and_path_prefix(chart):
    values = {**OAUTH2, "dagster": {"webserver": {"pathPrefix": "/dagster"}}}
    docs = render(chart, values)
    dagster = find(docs, "Ingress", "profiteer-dagster")
    assert dagster["metadata"]["annotations"] == {
        AUTH_URL: "https://oauth2.example.com/oauth2/auth",
        AUTH_SIGNIN: "https://oauth2.example.com/oauth2/start?rd=$escaped_request_uri",
    }
    assert backends(dagster) == {
        ("dagster.profiteer.local", "/dagster", "profiteer-webserver", "http")
    }
    assert lint_errors(values) == []


def test_ingress_off_renders_no_ingress_even_for_dagster(chart):
    docs = render(chart, {"ingress": {"enabled": False, **BASIC_AUTH["ingress"]}})
    assert ingresses(docs) == {}
    assert ("NetworkPolicy", "profiteer-webserver") not in names(docs)
    assert "ingress" not in find(docs, "NetworkPolicy", "profiteer-app")["spec"]
    assert reachers(docs, "app", 8501) == set()
    assert reachers(docs, "webserver", 3000) == set()


def test_read_only_webserver_when_chosen(chart, default_docs):
    (c,) = containers(find(default_docs, "Deployment", "profiteer-webserver"))
    assert "--read-only" not in c["command"]
    docs = render(chart, {"dagster": {"webserver": {"readOnly": True, "pathPrefix": "/d"}}})
    (c,) = containers(find(docs, "Deployment", "profiteer-webserver"))
    assert c["command"][0] == "dagster-webserver"
    assert c["command"][-3:] == ["--path-prefix", "/d", "--read-only"]
    with pytest.raises(helm.HelmValuesError, match="got string, want boolean"):
        render(chart, {"dagster": {"webserver": {"readOnly": "yes"}}})


# --- NetworkPolicies ----------------------------------------------------------------------

# Peers outside the release: (namespace labels, pod labels), pod labels None for an address
# outside the cluster (the Kubernetes API, the internet).
OUR_NAMESPACE = {"kubernetes.io/metadata.name": NAMESPACE}
OTHERS = {
    "kube-dns": ({"kubernetes.io/metadata.name": "kube-system"}, {"k8s-app": "kube-dns"}),
    "ingress-controller": (
        {"kubernetes.io/metadata.name": "ingress-nginx"},
        {"app.kubernetes.io/name": "ingress-nginx"},
    ),
    "airbyte": ({"kubernetes.io/metadata.name": "airbyte"}, {"app.kubernetes.io/name": "worker"}),
    "other-namespace": ({"kubernetes.io/metadata.name": "default"}, {"app": "curl"}),
    "internet": (None, None),
}


def pod_labels(docs: list[dict]) -> dict[str, dict[str, str]]:
    """Labels of every pod of the release, by component; run pods as dagster-k8s makes them."""
    pods = {}
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            labels = doc["spec"]["template"]["metadata"]["labels"]
            pods[labels["app.kubernetes.io/component"]] = labels
    # dagster_k8s.job.construct_dagster_k8s_job (0.29.x): the pod's labels are
    # merge_dicts(common labels + component + dagster/* labels, the launcher's `labels`, tags'),
    # so the chart's labels win over dagster's name/instance/component.
    config = instance_yaml(docs)["run_launcher"]["config"]
    pods["run"] = {
        "app.kubernetes.io/name": "dagster",
        "app.kubernetes.io/instance": "dagster",
        "app.kubernetes.io/part-of": "dagster",
        "app.kubernetes.io/component": "run_worker",
        "dagster/job": "hourly_sales_job",
        "dagster/run-id": "0123",
        **config["labels"],
    }
    return pods


def selects(selector: dict, labels: dict[str, str] | None) -> bool:
    if labels is None:
        return False
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        value, op = labels.get(e["key"]), e["operator"]
        ok = {
            "In": value in e.get("values", []),
            "NotIn": value not in e.get("values", []),
            "Exists": value is not None,
            "DoesNotExist": value is None,
        }[op]
        if not ok:
            return False
    return True


def where(other: str, pods: dict) -> tuple[dict | None, dict | None]:
    return (OUR_NAMESPACE, pods[other]) if other in pods else OTHERS[other]


def peer_matches(peer: dict, other: str, pods: dict) -> bool:
    """Does a NetworkPolicyPeer of a policy in the release's namespace match `other`?"""
    namespace, labels = where(other, pods)
    if "ipBlock" in peer:
        return labels is None  # only addresses outside the cluster in these tests
    if "namespaceSelector" in peer:
        return selects(peer["namespaceSelector"], namespace) and selects(
            peer.get("podSelector", {}), labels
        )
    return namespace == OUR_NAMESPACE and selects(peer["podSelector"], labels)


def rules_allow(rules: list[dict], other: str, port: int, pods: dict, side: str) -> bool:
    for rule in rules:
        peers = rule.get(side)
        ports = rule.get("ports")
        if peers is not None and not any(peer_matches(p, other, pods) for p in peers):
            continue
        if ports is not None and not any(p.get("port") == port for p in ports):
            continue
        return True
    return False


def allowed(docs: list[dict], source: str, dest: str, port: int) -> bool:
    """Kubernetes' semantics: a pod selected by a policy of a direction is isolated in that
    direction, and a flow passes when some policy selecting it allows it, at both ends (peers
    outside the release have no policies here)."""
    pods = pod_labels(docs)
    policies = [d["spec"] for d in docs if d["kind"] == "NetworkPolicy"]

    def side_allows(pod: str, other: str, kind: str, key: str, side: str) -> bool:
        if pod not in pods:
            return True
        mine = [
            p for p in policies if kind in p["policyTypes"] and selects(p["podSelector"], pods[pod])
        ]
        return not mine or any(rules_allow(p.get(key, []), other, port, pods, side) for p in mine)

    return side_allows(source, dest, "Egress", "egress", "to") and side_allows(
        dest, source, "Ingress", "ingress", "from"
    )


def reachers(docs: list[dict], dest: str, port: int) -> set[str]:
    candidates = [*pod_labels(docs), *OTHERS]
    return {s for s in candidates if s != dest and allowed(docs, s, dest, port)}


def test_every_pod_is_isolated_and_may_resolve_dns(default_docs):
    pods = pod_labels(default_docs)
    assert set(pods) == {
        "webserver", "daemon", "code-location", "run", "shop-api", "app", "mindsdb", "postgresql"
    }  # fmt: skip
    deny = find(default_docs, "NetworkPolicy", "profiteer-default-deny")["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny
    (dns,) = deny["egress"]
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    for name, labels in pods.items():
        assert selects(deny["podSelector"], labels), name
        assert allowed(default_docs, name, "kube-dns", 53), name
        if name not in DAGSTER_PODS:  # those may send anywhere (test_who_may_send_where)
            assert not allowed(default_docs, name, "internet", 53), name
    assert not allowed(default_docs, "app", "internet", 443)


def test_who_may_reach_each_service(default_docs):
    assert reachers(default_docs, "postgresql", 5432) == DAGSTER_PODS | {
        "shop-api",
        "mindsdb",
        "app",
    }
    assert reachers(default_docs, "mindsdb", 47334) == DAGSTER_PODS | {"app"}
    assert reachers(default_docs, "shop-api", 8765) == DAGSTER_PODS
    assert reachers(default_docs, "code-location", 4000) == {"webserver", "daemon"}
    assert reachers(default_docs, "app", 8501) == {"ingress-controller"}
    for closed in ("webserver", "daemon", "run"):
        assert reachers(default_docs, closed, 3000) == set(), closed
    # Right peer, wrong port: refused.
    assert not allowed(default_docs, "app", "postgresql", 5433)
    assert not allowed(default_docs, "app", "mindsdb", 5432)


def test_who_may_send_where(default_docs):
    """Egress: the app, the shop API, MindsDB and PostgreSQL send only to what they use."""
    targets = {"postgresql": 5432, "mindsdb": 47334, "shop-api": 8765, "code-location": 4000}
    sends = {
        src: {
            dst
            for dst, port in targets.items()
            if dst != src and allowed(default_docs, src, dst, port)
        }
        for src in ("app", "shop-api", "mindsdb", "postgresql")
    }
    assert sends == {
        "app": {"postgresql", "mindsdb"},
        "shop-api": {"postgresql"},
        "mindsdb": {"postgresql"},
        "postgresql": set(),
    }
    for pod in ("app", "shop-api", "mindsdb", "postgresql"):
        assert not allowed(default_docs, pod, "internet", 443), pod  # e.g. the Kubernetes API
    for pod in DAGSTER_PODS:  # the Kubernetes API, external servers
        assert allowed(default_docs, pod, "internet", 443), pod


def test_policies_name_the_pods_and_ports(default_docs):
    """The same, read off the objects: selectors and ports as rendered."""
    dagster_selector = {
        "matchLabels": {
            "app.kubernetes.io/instance": "profiteer",
            "app.kubernetes.io/name": "profiteer",
        },
        "matchExpressions": [
            {
                "key": "app.kubernetes.io/component",
                "operator": "In",
                "values": ["webserver", "daemon", "code-location", "run"],
            }
        ],
    }

    def component(name: str) -> dict:
        return {
            "matchLabels": {
                "app.kubernetes.io/name": "profiteer",
                "app.kubernetes.io/instance": "profiteer",
                "app.kubernetes.io/component": name,
            }
        }

    pg = find(default_docs, "NetworkPolicy", "profiteer-postgresql")["spec"]
    assert pg["podSelector"] == component("postgresql")
    (rule,) = pg["ingress"]
    assert rule["from"] == [
        {"podSelector": dagster_selector},
        {"podSelector": component("shop-api")},
        {"podSelector": component("mindsdb")},
        {"podSelector": component("app")},
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]

    mindsdb = find(default_docs, "NetworkPolicy", "profiteer-mindsdb")["spec"]
    (rule,) = mindsdb["ingress"]
    assert rule["from"] == [{"podSelector": dagster_selector}, {"podSelector": component("app")}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 47334}]

    shop = find(default_docs, "NetworkPolicy", "profiteer-shop-api")["spec"]
    (rule,) = shop["ingress"]
    assert rule["from"] == [{"podSelector": dagster_selector}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8765}]

    egress = find(default_docs, "NetworkPolicy", "profiteer-dagster-egress")["spec"]
    assert egress["podSelector"] == dagster_selector and egress["egress"] == [{}]
    # The run pods the K8sRunLauncher creates are in that selector.
    assert selects(dagster_selector, pod_labels(default_docs)["run"])


def test_network_policies_follow_external_servers_and_airbyte(override_docs):
    """External PostgreSQL (port 5433) and Airbyte server mode (its namespace reads the API)."""
    assert ("NetworkPolicy", "profiteer-postgresql") not in names(override_docs)
    app = find(override_docs, "NetworkPolicy", "profiteer-app")["spec"]
    assert {"ports": [{"protocol": "TCP", "port": 5433}]} in app["egress"]
    assert "ingress" not in app  # ingress.enabled is false there: nobody reaches the app
    shop = find(override_docs, "NetworkPolicy", "profiteer-shop-api")["spec"]
    (rule,) = shop["ingress"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "airbyte"}}
    } in rule["from"]
    assert reachers(override_docs, "shop-api", 8765) == DAGSTER_PODS | {"airbyte"}


def test_network_policy_peers_are_replaced_and_never_empty(chart):
    """A list in values replaces the default (a map would merge with it); an empty list, which
    in a NetworkPolicy would mean every peer, is refused."""
    values = {
        "networkPolicy": {
            "ingressControllerFrom": [{"namespaceSelector": {}}],
            "dnsTo": [{"ipBlock": {"cidr": "169.254.20.10/32"}}],
        }
    }
    docs = render(chart, values)
    # Every namespace, this one included (where only Dagster's pods may send to the app).
    assert reachers(docs, "app", 8501) == DAGSTER_PODS | {
        "kube-dns",
        "ingress-controller",
        "airbyte",
        "other-namespace",
    }
    deny = find(docs, "NetworkPolicy", "profiteer-default-deny")["spec"]
    assert deny["egress"][0]["to"] == [{"ipBlock": {"cidr": "169.254.20.10/32"}}]
    for key in ("ingressControllerFrom", "dnsTo", "airbyteFrom"):
        with pytest.raises(helm.HelmValuesError, match=f"at '/networkPolicy/{key}': minItems"):
            render(chart, {"networkPolicy": {key: []}})


def test_network_policies_can_be_switched_off(chart):
    docs = render(chart, {"networkPolicy": {"enabled": False}})
    assert [d for d in docs if d["kind"] == "NetworkPolicy"] == []
    with pytest.raises(helm.HelmValuesError, match="additional properties 'enable' not allowed"):
        render(chart, {"networkPolicy": {"enable": False}})


# --- pod hardening ------------------------------------------------------------------------


def writable_paths(doc: dict, container: dict) -> set[str]:
    """Mount paths of the container backed by an emptyDir or a PVC."""
    spec = doc["spec"]["template"]["spec"]
    writable = {
        v["name"]
        for v in spec.get("volumes", [])
        if "emptyDir" in v or "persistentVolumeClaim" in v
    }
    writable |= {t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
    return {
        m["mountPath"]
        for m in container.get("volumeMounts", [])
        if m["name"] in writable and not m.get("readOnly")
    }


def test_every_container_has_a_read_only_root_with_writable_scratch(case):
    values, docs = case
    env = find(docs, "ConfigMap", "profiteer-env")["data"]
    seen = set()
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        for c in containers(doc):
            container = f"{doc['metadata']['name']}/{c['name']}"
            seen.add(container)
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, container
            writable = writable_paths(doc, c)
            assert "/tmp" in writable, container
            home = env_value(c, "HOME") or (env["HOME"] if c.get("envFrom") else None)
            if home:
                assert home in writable, container
    external_pg = not values.get("postgresql", {}).get("enabled", True)
    assert seen | ({"profiteer-postgresql/postgresql"} if external_pg else set()) == {
        "profiteer-webserver/webserver",
        "profiteer-daemon/daemon",
        "profiteer-code-location/code-location",
        "profiteer-shop-api/shop-api",
        "profiteer-app/app",
        "profiteer-mindsdb/mindsdb",
        "profiteer-postgresql/postgresql",
    }


def test_writable_places_each_component_needs(default_docs):
    env = find(default_docs, "ConfigMap", "profiteer-env")["data"]
    app = find(default_docs, "Deployment", "profiteer-app")
    (c,) = containers(app)
    # Streamlit writes ~/.streamlit; HOME is the state emptyDir (envFrom the env ConfigMap).
    assert {e["configMapRef"]["name"] for e in c["envFrom"]} == {"profiteer-env"}
    assert env["HOME"] in writable_paths(app, c)
    for name in ("profiteer-webserver", "profiteer-daemon", "profiteer-code-location"):
        doc = find(default_docs, "Deployment", name)
        (c,) = containers(doc)
        assert {env["DAGSTER_HOME"], env["PROFITEER_STATE_DIR"], "/tmp"} <= writable_paths(doc, c)
    mindsdb = find(default_docs, "Deployment", "profiteer-mindsdb")
    (c,) = containers(mindsdb)
    assert writable_paths(mindsdb, c) == {"/tmp", "/home/mindsdb", "/var/lib/mindsdb"}
    assert env_value(c, "HOME") == "/home/mindsdb"
    assert env_value(c, "MINDSDB_STORAGE_DIR") == "/var/lib/mindsdb"  # the PVC
    pg = find(default_docs, "StatefulSet", "profiteer-postgresql")
    (c,) = containers(pg)
    assert {"/tmp", "/var/run/postgresql", "/var/lib/postgresql/data"} <= writable_paths(pg, c)
    # Run pods: the same read-only root and scratch folders, set through the run launcher.
    config = instance_yaml(default_docs)["run_launcher"]["config"]
    assert config["security_context"]["read_only_root_filesystem"] is True
    assert {m["mount_path"] for m in config["volume_mounts"]} == {
        "/tmp",
        env["PROFITEER_STATE_DIR"],
        env["DAGSTER_HOME"],
    }


def test_only_the_daemon_and_webserver_get_an_api_token(default_docs):
    tokens, accounts = {}, {}
    for doc in default_docs:
        if doc["kind"] in WORKLOADS:
            spec = doc["spec"]["template"]["spec"]
            name = doc["metadata"]["name"].removeprefix("profiteer-")
            tokens[name] = spec["automountServiceAccountToken"]  # always explicit
            accounts[name] = spec["serviceAccountName"]
    assert tokens == {
        "webserver": True,
        "daemon": True,
        "code-location": False,
        "shop-api": False,
        "app": False,
        "mindsdb": False,
        "postgresql": False,
    }
    assert {n for n, sa in accounts.items() if sa == "profiteer"} == {"webserver", "daemon"}
    assert {sa for n, sa in accounts.items() if not tokens[n]} == {"profiteer-workload"}
    workload = find(default_docs, "ServiceAccount", "profiteer-workload")
    assert workload["automountServiceAccountToken"] is False
    # The run launcher's Role is bound to the daemon's and webserver's account only.
    binding = find(default_docs, "RoleBinding", "profiteer-run-launcher")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "profiteer", "namespace": NAMESPACE}
    ]
    assert [d for d in default_docs if d["kind"] in {"RoleBinding", "ClusterRoleBinding"}] == [
        binding
    ]
    # Run pods (in-process executor, no k8s_job_executor): the workload account, no token.
    config = instance_yaml(default_docs)["run_launcher"]["config"]
    assert config["service_account_name"] == "profiteer-workload"
    assert config["run_k8s_config"]["pod_spec_config"]["automount_service_account_token"] is False


def test_jobs_run_in_process_so_run_pods_need_no_api(default_docs):
    """Why run pods get no token: every job of the code location the chart serves runs its steps
    with the in-process executor, so no job (dagster-k8s' k8s_job_executor or any other) starts
    step pods through the Kubernetes API."""
    import importlib

    import dagster as dg

    (c,) = containers(find(default_docs, "Deployment", "profiteer-code-location"))
    command = c["command"]
    module = command[command.index("--module-name") + 1]  # the definitions the pods load
    assert module == "profiteer_pipeline.definitions"
    repo = importlib.import_module(module).defs.get_repository_def()
    jobs = {job.name: job for job in repo.get_all_jobs()}
    # the named jobs and the implicit asset job(s) the sensors and schedules launch
    assert {"hourly_sales_job", "import_job", "train_model_job"} <= set(jobs), sorted(jobs)
    not_in_process = {
        name: job.executor_def.name
        for name, job in jobs.items()
        if job.executor_def is not dg.in_process_executor
    }
    assert not_in_process == {}, "jobs not on the in-process executor the run pods are set up for"
