"""The chart's embedded PostgreSQL gets the same logins and grants as the local stack.

The init script the chart renders (helm/profiteer/templates/_roles.tpl) mirrors
profiteer_pipeline/stack/roles.py statement by statement. Here both run on the session's real
server, each on its own databases and roles (the chart's script through psql, twice: it must be
idempotent; roles.py in the order stack/databases.py runs it), and the catalogs they leave are
compared: role attributes and memberships, database owners and ACLs, schema and relation owners
and ACLs, default privileges. Each login then connects with the password from its Secret.

The tables the grants name are made with the pipeline's own DDL, which the chart carries as
files: they are compared with the Python constants too.
"""

# ruff: noqa: S608 - the statements name this module's own generated databases and roles

from __future__ import annotations

import base64
import os
import subprocess

import psycopg2
import pytest
import test_helm
import yaml
from test_helm import CHART, find, render

from profiteer_pipeline.settings import PgUrl
from profiteer_pipeline.shop.store import STORE_DDL
from profiteer_pipeline.stack import roles
from profiteer_pipeline.stack.postgres import _bin_path, ensure_databases
from profiteer_pipeline.warehouse.products import PRODUCTS_DDL
from profiteer_pipeline.warehouse.schema import SALES_DDL, SALES_FEATURES_DDL

# test_helm's fixtures, shared rather than redefined
chart = test_helm.chart
default_docs = test_helm.default_docs

DDL_FILES = {
    "products.sql": PRODUCTS_DDL,
    "sales.sql": SALES_DDL,
    "sales_features.sql": SALES_FEATURES_DDL,
    "shop_sales.sql": STORE_DDL,
}
LOGINS = ("writer", "reader", "model", "shop_api")
DATABASES = ("warehouse", "shop", "dagster")


def test_ddl_files_are_the_pipelines_own():
    for name, ddl in DDL_FILES.items():
        text = (CHART / "files" / "ddl" / name).read_text()
        body = "\n".join(line for line in text.splitlines() if not line.startswith("-- "))
        assert body.strip() == ddl.strip(), f"files/ddl/{name} differs from the pipeline's DDL"


def test_script_uses_roles_py_constants(default_docs):
    script = init_script(default_docs)
    for schema in roles.READER_SCHEMAS:
        assert f'ALTER DEFAULT PRIVILEGES FOR ROLE :"writer" IN SCHEMA "{schema}"' in script
    for table in roles.READER_TABLES:
        assert f'GRANT SELECT ON {quoted(table)} TO :"reader";' in script
    for table in roles.MODEL_TABLES:
        assert f'GRANT SELECT ON {quoted(table)} TO :"model";' in script
    broad = ", ".join(f"'{r}'" for r in roles.BROAD_ROLES)
    assert script.count(f"ANY(ARRAY[{broad}])") == len(LOGINS)


def quoted(table: str) -> str:
    return ".".join(f'"{p}"' for p in table.split("."))


def init_script(docs: list[dict]) -> str:
    return find(docs, "ConfigMap", "profiteer-postgresql-initdb")["data"]["10-profiteer.sh"]


def decoded(doc: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}


# --- on a real server ---------------------------------------------------------------------


def admin_conn(admin: PgUrl, database: str = "postgres"):
    conn = psycopg2.connect(admin.with_database(database).dsn())
    conn.autocommit = True
    return conn


def snapshot(admin: PgUrl, names: dict[str, str]) -> dict:
    """The catalog state of one setup, with its role and database names replaced by their keys
    (names: key -> actual name), so two setups compare equal when they grant alike."""

    def norm(value):
        if isinstance(value, str):
            for key, actual in sorted(names.items(), key=lambda kv: -len(kv[1])):
                value = value.replace(actual, "{" + key + "}")
            return value
        if isinstance(value, list | tuple):
            return sorted((norm(v) for v in value), key=repr)
        return value

    out: dict = {}
    conn = admin_conn(admin)
    try:
        with conn.cursor() as cur:
            for key in LOGINS:
                cur.execute(
                    "SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,"
                    " rolreplication, rolbypassrls,"
                    " ARRAY(SELECT g.rolname::text FROM pg_auth_members m"
                    "       JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid)"
                    " FROM pg_roles r WHERE rolname = %s",
                    (names[key],),
                )
                *attributes, memberships = cur.fetchone()
                out[f"role {key}"] = [*attributes, norm(memberships)]
            for key in DATABASES:
                cur.execute(
                    "SELECT pg_get_userbyid(datdba)::text, datacl::text[] FROM pg_database"
                    " WHERE datname = %s",
                    (names[key],),
                )
                owner, acl = cur.fetchone()
                out[f"database {key}"] = [norm(owner), norm(acl or [])]
    finally:
        conn.close()
    for key in DATABASES:
        conn = admin_conn(admin, names[key])
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT nspname::text, pg_get_userbyid(nspowner)::text, nspacl::text[]"
                    " FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%'"
                    " AND nspname <> 'information_schema' ORDER BY 1"
                )
                out[f"{key} schemas"] = [(n, norm(o), norm(a or [])) for n, o, a in cur.fetchall()]
                cur.execute(
                    "SELECT n.nspname || '.' || c.relname, c.relkind::text,"
                    " pg_get_userbyid(c.relowner)::text, c.relacl::text[]"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'"
                    " ORDER BY 1"
                )
                out[f"{key} relations"] = [
                    (r, k, norm(o), norm(a or [])) for r, k, o, a in cur.fetchall()
                ]
                cur.execute(
                    "SELECT pg_get_userbyid(d.defaclrole)::text, coalesce(n.nspname, ''),"
                    " d.defaclobjtype::text, d.defaclacl::text[]"
                    " FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace"
                )
                out[f"{key} default privileges"] = norm(
                    [(norm(r), s, t, tuple(norm(a))) for r, s, t, a in cur.fetchall()]
                )
        finally:
            conn.close()
    return out


def drop(admin: PgUrl, names: dict[str, str]) -> None:
    conn = admin_conn(admin)
    try:
        with conn.cursor() as cur:
            for key in DATABASES:
                cur.execute(f'DROP DATABASE IF EXISTS "{names[key]}" WITH (FORCE)')
            for key in LOGINS:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (names[key],))
                if cur.fetchone():
                    cur.execute(f'DROP OWNED BY "{names[key]}"')
                    cur.execute(f'DROP ROLE "{names[key]}"')
    finally:
        conn.close()


def run_chart_script(script: str, admin: PgUrl, env: dict[str, str]) -> None:
    result = subprocess.run(
        ["sh", "-c", script],
        env={
            "PATH": f"{_bin_path()}{os.pathsep}{os.environ.get('PATH', '')}",
            "PGHOST": admin.host,
            "PGPORT": str(admin.port),
            "PGPASSWORD": admin.password,
            "POSTGRES_USER": admin.user,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_chart_script_grants_what_roles_py_grants(chart, settings):
    admin = settings.warehouse.with_database("postgres")
    tag = os.urandom(3).hex()
    mine = {k: f"h{tag}_{k}" for k in (*LOGINS, *DATABASES)}  # the chart's setup
    theirs = {k: f"p{tag}_{k}" for k in (*LOGINS, *DATABASES)}  # roles.py's
    passwords = {k: f"{k}-{os.urandom(6).hex()}" for k in LOGINS}
    values = {
        "postgresql": {
            "databases": {k: mine[k] for k in DATABASES},
            "auth": {
                "adminUsername": admin.user,
                "username": mine["writer"],
                "password": passwords["writer"],
                "readerUsername": mine["reader"],
                "readerPassword": passwords["reader"],
                "modelUsername": mine["model"],
                "modelPassword": passwords["model"],
                "shopApiUsername": mine["shop_api"],
                "shopApiPassword": passwords["shop_api"],
            },
        }
    }
    docs = render(chart, values)
    script = init_script(docs)
    # the StatefulSet's environment, read from its Secrets as the kubelet would
    (pg,) = find(docs, "StatefulSet", "profiteer-postgresql")["spec"]["template"]["spec"][
        "containers"
    ]
    env = {}
    for e in pg["env"]:
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref and e["name"].startswith("PROFITEER_"):
            env[e["name"]] = decoded(find(docs, "Secret", ref["name"]))[ref["key"]]
    assert set(env) == {
        "PROFITEER_PIPELINE_PASSWORD",
        "PROFITEER_READER_PASSWORD",
        "PROFITEER_MODEL_PASSWORD",
        "PROFITEER_SHOP_API_PASSWORD",
    }
    dsn = admin.dsn()
    dbs = [theirs[k] for k in DATABASES]

    def roles_py() -> None:  # as stack/databases.py runs it on the embedded server
        ensure_databases(dsn, dbs)
        roles.restrict_connect(dsn, dbs)
        roles.ensure_login(dsn, theirs["writer"], "x-writer")
        roles.ensure_reader_role(
            dsn, theirs["reader"], "x-reader", theirs["warehouse"], [theirs["writer"]]
        )
        roles.ensure_model_role(dsn, theirs["model"], "x-model", theirs["warehouse"])
        roles.ensure_shop_api_role(dsn, theirs["shop_api"], "x-shop", theirs["shop"])
        roles.hand_over(dsn, theirs["writer"], dbs)

    try:
        # a new server, then the same again (`profiteer up` on every start; the script by hand
        # on an upgraded release): the same state after each
        for _ in range(2):
            run_chart_script(script, admin, env)
            roles_py()
            chart_state, expected = snapshot(admin, mine), snapshot(admin, theirs)
            assert chart_state == expected

        # the parts that matter, spelled out (an empty snapshot cannot pass)
        owner, acl = chart_state["database warehouse"]
        assert owner == "{writer}"
        assert not [a for a in acl if a.startswith("=")]  # PUBLIC: no CONNECT, no TEMPORARY
        assert {"{reader}=c/{writer}", "{model}=c/{writer}"} <= set(acl)
        assert "{shop_api}=c/{writer}" in chart_state["database shop"][1]
        assert not [a for a in chart_state["database dagster"][1] if a.startswith("=")]
        for key in LOGINS:  # LOGIN, no superuser/createrole/createdb/replication/bypassrls
            assert chart_state[f"role {key}"] == [False, True, False, False, True, False, False, []]
        relations = {r: (o, a) for r, _, o, a in chart_state["warehouse relations"]}
        assert "{reader}=r/{writer}" in relations["public.products"][1]
        assert "{model}=r/{writer}" in relations["public.sales_features"][1]
        assert relations["public.sales"] == ("{writer}", [])  # nobody else reads it
        shop = {r: (o, a) for r, _, o, a in chart_state["shop relations"]}
        assert "{shop_api}=r/{writer}" in shop["public.shop_sales"][1]
        # tables the writer creates in analytics later: the reader may SELECT them (rows sorted)
        assert ["analytics", "r", "{writer}", ["{reader}=r/{writer}"]] in chart_state[
            "warehouse default privileges"
        ]

        # each login connects to its own database with its Secret's password, and only there
        host = PgUrl(admin.user, "", admin.host, admin.port, "postgres")
        for key, database in (
            ("writer", "dagster"),
            ("reader", "warehouse"),
            ("model", "warehouse"),
            ("shop_api", "shop"),
        ):
            login = PgUrl(mine[key], passwords[key], host.host, host.port, mine[database])
            psycopg2.connect(login.dsn()).close()
        refused = PgUrl(mine["reader"], passwords["reader"], host.host, host.port, mine["shop"])
        with pytest.raises(psycopg2.OperationalError, match="permission denied"):
            psycopg2.connect(refused.dsn())
    finally:
        drop(admin, mine)
        drop(admin, theirs)


def test_only_the_postgresql_pod_sees_the_admins_secret(default_docs):
    """The admin's Secret is referenced by the StatefulSet alone (its POSTGRES_PASSWORD)."""
    for doc in default_docs:
        if doc["kind"] not in {"Deployment", "StatefulSet"}:
            continue
        text = yaml.safe_dump(doc["spec"]["template"])
        mentions = "name: profiteer-postgresql\n" in text
        assert mentions == (doc["kind"] == "StatefulSet"), doc["metadata"]["name"]
    config = test_helm.instance_yaml(default_docs)["run_launcher"]["config"]
    assert "profiteer-postgresql" not in config["env_secrets"]
