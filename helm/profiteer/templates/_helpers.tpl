{{/* Names ------------------------------------------------------------------------------- */}}

{{- define "profiteer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "profiteer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>", e.g. profiteer-webserver (component names stay under 63 chars). */}}
{{- define "profiteer.componentName" -}}
{{- printf "%s-%s" (include "profiteer.fullname" .ctx) .component }}
{{- end }}

{{- define "profiteer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels: call with (dict "ctx" $ "component" "webserver"). */}}
{{- define "profiteer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "profiteer.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "profiteer.labels" -}}
helm.sh/chart: {{ include "profiteer.chart" .ctx }}
{{ include "profiteer.selectorLabels" . }}
app.kubernetes.io/part-of: profiteer
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Images and accounts -------------------------------------------------------------------- */}}

{{/* The project image: code location, run pods, webserver, daemon, shop API, app. */}}
{{- define "profiteer.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "profiteer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "profiteer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The identity of pods that need no Kubernetes API: no Role, no token (serviceaccount.yaml). */}}
{{- define "profiteer.workloadServiceAccountName" -}}
{{- include "profiteer.componentName" (dict "ctx" . "component" "workload") }}
{{- end }}

{{/* Where things are ---------------------------------------------------------------------- */}}

{{- define "profiteer.pgHost" -}}
{{- if .Values.postgresql.enabled }}
{{- printf "%s.%s.svc" (include "profiteer.componentName" (dict "ctx" . "component" "postgresql")) .Release.Namespace }}
{{- else }}
{{- required "postgresql.external.host is required when postgresql.enabled is false" .Values.postgresql.external.host }}
{{- end }}
{{- end }}

{{- define "profiteer.pgPort" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.postgresql.service.port }}{{ else }}{{ .Values.postgresql.external.port }}{{ end }}
{{- end }}

{{- define "profiteer.mindsdbUrl" -}}
{{- if .Values.mindsdb.enabled }}
{{- printf "http://%s.%s.svc:%v" (include "profiteer.componentName" (dict "ctx" . "component" "mindsdb")) .Release.Namespace .Values.mindsdb.port }}
{{- else }}
{{- required "mindsdb.externalUrl is required when mindsdb.enabled is false" .Values.mindsdb.externalUrl }}
{{- end }}
{{- end }}

{{- define "profiteer.shopApiUrl" -}}
{{- printf "http://%s.%s.svc:%v" (include "profiteer.componentName" (dict "ctx" . "component" "shop-api")) .Release.Namespace .Values.shopApi.port }}
{{- end }}

{{- define "profiteer.codeLocationHost" -}}
{{- include "profiteer.componentName" (dict "ctx" . "component" "code-location") }}
{{- end }}

{{/* Secrets: the chart's own, or the one values name ------------------------------------------ */}}

{{/*
PostgreSQL logins, one per consumer (profiteer_pipeline/stack/roles.py). Each has its own Secret,
given in values (existingSecret) or made by the chart (secrets.yaml), so a pod can be given
exactly the logins it uses:
- admin (embedded server only): POSTGRES_PASSWORD; the StatefulSet alone reads it.
- pipeline (the writer, Dagster's pods): PROFITEER_PG_PASSWORD, PROFITEER_DATABASE_URL.
- reader (the app): PROFITEER_READER_PASSWORD.
- model (MindsDB's datasource, handed over by Dagster's runs): PROFITEER_MODEL_PASSWORD.
- shop API: PROFITEER_PG_PASSWORD, PROFITEER_DATABASE_URL (its own login, to the shop database).
*/}}
{{- define "profiteer.adminSecretName" -}}
{{- default (include "profiteer.componentName" (dict "ctx" . "component" "postgresql")) .Values.postgresql.auth.adminExistingSecret }}
{{- end }}

{{- define "profiteer.pgSecretName" -}}
{{- default (include "profiteer.componentName" (dict "ctx" . "component" "pipeline")) .Values.postgresql.auth.existingSecret }}
{{- end }}

{{- define "profiteer.readerSecretName" -}}
{{- default (include "profiteer.componentName" (dict "ctx" . "component" "reader")) .Values.postgresql.auth.readerExistingSecret }}
{{- end }}

{{- define "profiteer.modelSecretName" -}}
{{- default (include "profiteer.componentName" (dict "ctx" . "component" "model")) .Values.postgresql.auth.modelExistingSecret }}
{{- end }}

{{- define "profiteer.shopApiDbSecretName" -}}
{{- default (include "profiteer.componentName" (dict "ctx" . "component" "shop-api-db")) .Values.postgresql.auth.shopApiExistingSecret }}
{{- end }}

{{- define "profiteer.shopApiSecretName" -}}
{{- default (include "profiteer.componentName" (dict "ctx" . "component" "shop-api")) .Values.shopApi.existingSecret }}
{{- end }}

{{- define "profiteer.airbyteSecretName" -}}
{{- default (include "profiteer.componentName" (dict "ctx" . "component" "airbyte")) .Values.airbyte.existingSecret }}
{{- end }}

{{- define "profiteer.mindsdbSecretName" -}}
{{- default (include "profiteer.componentName" (dict "ctx" . "component" "mindsdb")) .Values.mindsdb.auth.existingSecret }}
{{- end }}

{{- define "profiteer.mindsdbAuth" -}}
{{- if and .Values.mindsdb.enabled .Values.mindsdb.auth.enabled }}true{{ end }}
{{- end }}

{{/*
Secrets whose keys are env var names, given with envFrom to Dagster's pods (webserver, daemon,
code location, run pods): the pipeline's writer, the model's login (the pipeline hands it to
MindsDB), the shop API's key; Airbyte's and MindsDB's logins when on. Not the admin's, the
reader's or the shop API's login.
*/}}
{{- define "profiteer.envSecretNames" -}}
{{- $names := list (include "profiteer.pgSecretName" .) (include "profiteer.modelSecretName" .) (include "profiteer.shopApiSecretName" .) }}
{{- if .Values.airbyte.enabled }}
{{- $names = append $names (include "profiteer.airbyteSecretName" .) }}
{{- end }}
{{- if include "profiteer.mindsdbAuth" . }}
{{- $names = append $names (include "profiteer.mindsdbSecretName" .) }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/*
A secret value that survives upgrades: the value given in values, else the one already in the
cluster (lookup), else the one an older chart kept under another Secret/key (optional 6th item:
(list "secret-name" "KEY")), else a new random one.
Call with (list $ "secret-name" "KEY" given length [(list "older-secret" "OLDER_KEY")]).
*/}}
{{- define "profiteer.secretValue" -}}
{{- $ctx := index . 0 }}{{ $name := index . 1 }}{{ $key := index . 2 }}{{ $given := index . 3 }}{{ $length := index . 4 }}
{{- $found := "" }}
{{- if $given }}
{{- $found = $given }}
{{- else }}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace $name }}
{{- if and $existing $existing.data (hasKey $existing.data $key) }}
{{- $found = index $existing.data $key | b64dec }}
{{- else if gt (len .) 5 }}
{{- $older := index . 5 }}
{{- $old := lookup "v1" "Secret" $ctx.Release.Namespace (index $older 0) }}
{{- if and $old $old.data (hasKey $old.data (index $older 1)) }}
{{- $found = index $old.data (index $older 1) | b64dec }}
{{- end }}
{{- end }}
{{- end }}
{{- default (randAlphaNum $length) $found }}
{{- end }}

{{/* Pod building blocks for the project image --------------------------------------------- */}}

{{/* envFrom of Dagster's pods; run pods get the same through the run launcher. */}}
{{- define "profiteer.envFrom" -}}
- configMapRef:
    name: {{ include "profiteer.componentName" (dict "ctx" . "component" "env") }}
- configMapRef:
    name: {{ include "profiteer.componentName" (dict "ctx" . "component" "dagster-env") }}
{{- range (include "profiteer.envSecretNames" . | fromJsonArray) }}
- secretRef:
    name: {{ . }}
{{- end }}
{{- end }}

{{/* Writable places under a read-only root filesystem. */}}
{{- define "profiteer.scratchVolumes" -}}
- name: tmp
  emptyDir: {}
- name: state
  emptyDir: {}
{{- end }}

{{- define "profiteer.scratchMounts" -}}
- name: tmp
  mountPath: /tmp
- name: state
  mountPath: /var/lib/profiteer
{{- end }}

{{/* DAGSTER_HOME: a writable folder with the instance's dagster.yaml in it. */}}
{{- define "profiteer.dagsterHomeVolumes" -}}
- name: dagster-home
  emptyDir: {}
- name: dagster-instance
  configMap:
    name: {{ include "profiteer.componentName" (dict "ctx" . "component" "instance") }}
{{- end }}

{{- define "profiteer.dagsterHomeMounts" -}}
- name: dagster-home
  mountPath: {{ .Values.dagster.home }}
- name: dagster-instance
  mountPath: {{ .Values.dagster.home }}/dagster.yaml
  subPath: dagster.yaml
{{- end }}

{{- define "profiteer.podScheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
A map with its keys in snake_case, recursively (readOnlyRootFilesystem -> read_only_root_filesystem):
dagster-k8s builds run pods from Kubernetes' Python models, which take snake_case keys.
*/}}
{{- define "profiteer.snakeKeys" -}}
{{- $out := dict }}
{{- range $key, $value := . }}
{{- if kindIs "map" $value }}
{{- $_ := set $out (snakecase $key) (include "profiteer.snakeKeys" $value | fromYaml) }}
{{- else if kindIs "slice" $value }}
{{- $items := list }}
{{- range $value }}
{{- if kindIs "map" . }}
{{- $items = append $items (include "profiteer.snakeKeys" . | fromYaml) }}
{{- else }}
{{- $items = append $items . }}
{{- end }}
{{- end }}
{{- $_ := set $out (snakecase $key) $items }}
{{- else }}
{{- $_ := set $out (snakecase $key) $value }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* NetworkPolicies ------------------------------------------------------------------------ */}}

{{/* An egress rule to PostgreSQL: the release's pod, or an external server's port at any address. */}}
{{- define "profiteer.postgresEgress" -}}
{{- if .Values.postgresql.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "profiteer.selectorLabels" (dict "ctx" . "component" "postgresql") | nindent 10 }}
  ports:
    - {protocol: TCP, port: 5432}
{{- else }}
- ports:
    - {protocol: TCP, port: {{ .Values.postgresql.external.port }}}
{{- end }}
{{- end }}

{{/* The TCP port of an http(s) URL: the explicit one, else 80 or 443. */}}
{{- define "profiteer.urlPort" -}}
{{- $url := urlParse . }}
{{- $hostPort := splitList ":" $url.host }}
{{- if gt (len $hostPort) 1 }}{{ last $hostPort }}{{ else if eq $url.scheme "https" }}443{{ else }}80{{ end }}
{{- end }}
