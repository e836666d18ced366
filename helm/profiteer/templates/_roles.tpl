{{/*
The embedded server's logins and grants, as psql input run by the admin login: the statements of
profiteer_pipeline/stack/roles.py, in the order stack/databases.py runs them, so the chart's
server and `profiteer up`'s have the same roles with the same rights. tests/test_helm_roles.py
runs both on one server and compares the catalogs (owners, ACLs, default ACLs, memberships).

psql variables (-v): warehouse, shop, dagster (database names); writer, reader, model, shop_api
(role names) and <role>_password. Idempotent: running it again (kubectl exec, see the README)
brings an existing server to these grants, sets the passwords from the Secrets, and hands what
the admin owns in the three databases to the writer, as roles.py does for an older local stack.
*/}}

{{/* roles.py's constants. */}}
{{- define "profiteer.roles.constants" -}}
readerSchemas: [analytics, shop_model]
readerTables: [public.products]
modelTables: [public.sales_features]
broadRoles: [pg_read_all_data, pg_write_all_data, pg_monitor, pg_read_server_files]
{{- end }}

{{/* "public.products" -> "public"."products" (sql.Identifier(*name.split("."))). */}}
{{- define "profiteer.roles.table" -}}
{{- $parts := list }}
{{- range splitList "." . }}{{ $parts = append $parts (printf "%q" .) }}{{ end }}
{{- join "." $parts }}
{{- end }}

{{/* ensure_login(user, password): the psql variable naming the role, e.g. "reader". */}}
{{- define "profiteer.roles.ensureLogin" -}}
{{- $c := include "profiteer.roles.constants" . | fromYaml }}
-- ensure_login: {{ .var }}
SELECT format('CREATE ROLE %I', :'{{ .var }}') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'{{ .var }}') \gexec
ALTER ROLE :"{{ .var }}" LOGIN PASSWORD :'{{ .var }}_password';
SELECT format('REVOKE %I FROM %I', g.rolname, u.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :'{{ .var }}' AND g.rolname = ANY(ARRAY[{{ range $i, $r := $c.broadRoles }}{{ if $i }}, {{ end }}{{ squote $r }}{{ end }}]) \gexec
{{- end }}

{{/* GRANT CONNECT on the role's database and the statement every grant_* starts with. */}}
{{- define "profiteer.roles.connect" -}}
\connect :{{ .db }}
GRANT CONNECT ON DATABASE :"{{ .db }}" TO :"{{ .var }}";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
{{- end }}

{{- define "profiteer.rolesSql" -}}
{{- $c := include "profiteer.roles.constants" . | fromYaml }}
{{- $dbs := list "warehouse" "shop" "dagster" -}}
-- ensure_databases
SELECT format('CREATE DATABASE %I', d) FROM unnest(ARRAY[:'warehouse', :'shop', :'dagster']) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
-- restrict_connect: only roles granted CONNECT reach the databases; the admin keeps its access
{{- range $dbs }}
GRANT CONNECT, TEMPORARY ON DATABASE :"{{ . }}" TO CURRENT_USER;
REVOKE ALL ON DATABASE :"{{ . }}" FROM PUBLIC;
{{- end }}
{{ include "profiteer.roles.ensureLogin" (dict "var" "writer") }}
{{ include "profiteer.roles.ensureLogin" (dict "var" "reader") }}
-- grant_reader: analytics and shop_model (now and later, by the admin or the writer) and public.products
{{ include "profiteer.roles.connect" (dict "db" "warehouse" "var" "reader") }}
{{ .Files.Get "files/ddl/products.sql" | trim }}
{{- range $c.readerSchemas }}
CREATE SCHEMA IF NOT EXISTS {{ printf "%q" . }};
GRANT USAGE ON SCHEMA {{ printf "%q" . }} TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA {{ printf "%q" . }} TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA {{ printf "%q" . }} GRANT SELECT ON TABLES TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"writer" IN SCHEMA {{ printf "%q" . }} GRANT SELECT ON TABLES TO :"reader";
{{- end }}
{{- range $c.readerTables }}
GRANT SELECT ON {{ include "profiteer.roles.table" . }} TO :"reader";
{{- end }}
\connect postgres
{{ include "profiteer.roles.ensureLogin" (dict "var" "model") }}
-- grant_model: the training view only (created if missing, never replaced)
{{ include "profiteer.roles.connect" (dict "db" "warehouse" "var" "model") }}
SELECT to_regclass('public.sales_features') IS NULL AS sales_features_missing \gset
\if :sales_features_missing
{{ .Files.Get "files/ddl/sales.sql" | trim }}
{{ .Files.Get "files/ddl/sales_features.sql" | trim }}
\endif
{{- range $c.modelTables }}
GRANT SELECT ON {{ include "profiteer.roles.table" . }} TO :"model";
{{- end }}
\connect postgres
{{ include "profiteer.roles.ensureLogin" (dict "var" "shop_api") }}
-- grant_shop_api: the store's table only
{{ include "profiteer.roles.connect" (dict "db" "shop" "var" "shop_api") }}
{{ .Files.Get "files/ddl/shop_sales.sql" | trim }}
GRANT SELECT ON "public"."shop_sales" TO :"shop_api";
-- hand_over: the writer owns the databases and what the admin made in them
\connect postgres
{{- range $dbs }}
ALTER DATABASE :"{{ . }}" OWNER TO :"writer";
{{- end }}
{{- range $dbs }}
\connect :{{ . }}
SELECT format('ALTER SCHEMA %I OWNER TO %I', nspname, :'writer') FROM pg_namespace
 WHERE nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
   AND nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%' \gexec
SELECT format('ALTER %s %I.%I OWNER TO %I', CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, n.nspname, c.relname, :'writer')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
   AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT (c.relkind = 'S' AND EXISTS (
       SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
         AND d.deptype IN ('a', 'i')))
 ORDER BY c.relkind = 'S', n.nspname, c.relname \gexec
{{- end }}
{{- end }}

{{/* The init script: psql as the admin, with the names from values and the passwords from env. */}}
{{- define "profiteer.postgresqlInitdb" -}}
{{- $pg := .Values.postgresql -}}
#!/bin/sh
set -eu
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
  -v warehouse={{ $pg.databases.warehouse | squote }} -v shop={{ $pg.databases.shop | squote }} -v dagster={{ $pg.databases.dagster | squote }} \
  -v writer={{ $pg.auth.username | squote }} -v writer_password="$PROFITEER_PIPELINE_PASSWORD" \
  -v reader={{ $pg.auth.readerUsername | squote }} -v reader_password="$PROFITEER_READER_PASSWORD" \
  -v model={{ $pg.auth.modelUsername | squote }} -v model_password="$PROFITEER_MODEL_PASSWORD" \
  -v shop_api={{ $pg.auth.shopApiUsername | squote }} -v shop_api_password="$PROFITEER_SHOP_API_PASSWORD" \
  <<'SQL'
{{ include "profiteer.rolesSql" . }}
SQL
{{- end }}
