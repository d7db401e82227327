{{/* Names, labels and the checks every template relies on. */}}

{{- define "tickets-mcp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tickets-mcp.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tickets-mcp.redisName" -}}
{{- printf "%s-redis" (include "tickets-mcp.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tickets-mcp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "tickets-mcp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The server's pods; the bundled Redis and the test pod carry other components. */}}
{{- define "tickets-mcp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tickets-mcp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "tickets-mcp.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "tickets-mcp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{/* The label that lets a pod of the namespace through the NetworkPolicy (networkPolicy.ingress). */}}
{{- define "tickets-mcp.clientLabel" -}}
{{- printf "%s-client" (include "tickets-mcp.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tickets-mcp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tickets-mcp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tickets-mcp.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* More than one server pod can run at once. */}}
{{- define "tickets-mcp.replicated" -}}
{{- if or (gt (int .Values.replicaCount) 1) (and .Values.autoscaling.enabled (gt (int .Values.autoscaling.maxReplicas) 1)) }}true{{ end }}
{{- end }}

{{- define "tickets-mcp.externalRedis" -}}
{{- if or .Values.redis.existingSecret .Values.redis.url }}true{{ end }}
{{- end }}

{{- define "tickets-mcp.anyRedis" -}}
{{- if or (include "tickets-mcp.externalRedis" .) .Values.redis.bundled.enabled }}true{{ end }}
{{- end }}

{{/* The OAuth audience: the value, or the public URL of the MCP endpoint on the first ingress host. */}}
{{- define "tickets-mcp.audience" -}}
{{- if .Values.gate.oauth.audience }}
{{- .Values.gate.oauth.audience }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- printf "https://%s/mcp" (index .Values.ingress.hosts 0).host }}
{{- end }}
{{- end }}

{{/* config.<key> → the server setting it sets (server/tickets_mcp/settings.py; tests/chart checks both ways). */}}
{{- define "tickets-mcp.settingNames" -}}
ticketsUrl: SELECTEL_TICKETS_URL
identityUrl: SELECTEL_IDENTITY_URL
readOnly: TICKETS_MCP_READ_ONLY
toolsets: TICKETS_MCP_TOOLSETS
tools: TICKETS_MCP_TOOLS
excludeTools: TICKETS_MCP_EXCLUDE_TOOLS
language: TICKETS_MCP_LANGUAGE
requireConsent: TICKETS_MCP_REQUIRE_CONSENT
stateless: TICKETS_MCP_STATELESS
jsonResponse: TICKETS_MCP_JSON_RESPONSE
allowedOrigins: TICKETS_MCP_ALLOWED_ORIGINS
allowedHosts: TICKETS_MCP_ALLOWED_HOSTS
tokenBudget: TICKETS_MCP_TOKEN_BUDGET
callsPerMinute: TICKETS_MCP_CALLS_PER_MINUTE
createsPerMinute: TICKETS_MCP_CREATES_PER_MINUTE
commentsPerMinute: TICKETS_MCP_COMMENTS_PER_MINUTE
rateWindow: TICKETS_MCP_RATE_WINDOW
retryBudget: TICKETS_MCP_RETRY_BUDGET
dedupWindow: TICKETS_MCP_DEDUP_WINDOW
pollInterval: TICKETS_MCP_POLL_INTERVAL
catalogTtl: TICKETS_MCP_CATALOG_TTL
connectTimeout: TICKETS_MCP_CONNECT_TIMEOUT
readTimeout: TICKETS_MCP_READ_TIMEOUT
sessionsPerCaller: TICKETS_MCP_SESSIONS_PER_CALLER
subscriptionsPerSession: TICKETS_MCP_SUBSCRIPTIONS_PER_SESSION
subscriptionsPerCaller: TICKETS_MCP_SUBSCRIPTIONS_PER_CALLER
logLevel: TICKETS_MCP_LOG_LEVEL
logFormat: TICKETS_MCP_LOG_FORMAT
{{- end }}

{{/* The Host values the server accepts: the ingress hosts, the Service's in-cluster names, config.allowedHosts. */}}
{{- define "tickets-mcp.allowedHosts" -}}
{{- $svc := include "tickets-mcp.fullname" . }}
{{- $hosts := list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) }}
{{- if .Values.ingress.enabled }}
{{- range .Values.ingress.hosts }}
{{- $hosts = append $hosts .host }}
{{- end }}
{{- end }}
{{- $all := list }}
{{- range $hosts }}
{{- $all = append (append $all .) (printf "%s:*" .) }}
{{- end }}
{{- join "," (concat $all (.Values.config.allowedHosts | default list)) }}
{{- end }}

{{/*
Refuse a release that could not work, saying what to set. A replicated server without Redis would pace
and deduplicate per pod; without a shared state key, a consent answer reaching another replica would be
refused. The server refuses to start exposed without a gate: so does the chart, before anything runs.
*/}}
{{- define "tickets-mcp.validate" -}}
{{- $v := .Values }}
{{- if include "tickets-mcp.replicated" . }}
{{- if not (include "tickets-mcp.anyRedis" .) }}
{{- fail "tickets-mcp: more than one replica (replicaCount > 1 or autoscaling.maxReplicas > 1) needs Redis: the replicas share pacing, create dedup and call limits through it. Set redis.existingSecret (a Secret holding the URL), redis.url, or, for a trial only, redis.bundled.enabled=true." }}
{{- end }}
{{- if not $v.stateKey.existingSecret }}
{{- fail "tickets-mcp: more than one replica (replicaCount > 1 or autoscaling.maxReplicas > 1) needs a shared state key, or consent answers fail across replicas: set stateKey.existingSecret to a Secret holding TICKETS_MCP_STATE_KEY (make one with: python -c \"import secrets; print(secrets.token_hex(32))\")." }}
{{- end }}
{{- end }}
{{- if and (include "tickets-mcp.externalRedis" .) $v.redis.bundled.enabled }}
{{- fail "tickets-mcp: redis.bundled.enabled and an existing Redis (redis.existingSecret or redis.url) are two Redis: choose one." }}
{{- end }}
{{- if and $v.redis.existingSecret $v.redis.url }}
{{- fail "tickets-mcp: set redis.existingSecret or redis.url, not both." }}
{{- end }}
{{- if and $v.redis.url (not (regexMatch "^(redis|rediss|unix)://" $v.redis.url)) }}
{{- fail "tickets-mcp: redis.url must start with redis://, rediss:// (TLS) or unix://." }}
{{- end }}
{{- if and $v.redis.url (contains "@" $v.redis.url) }}
{{- fail "tickets-mcp: redis.url carries credentials, and values are not secret: put the URL in a Secret and set redis.existingSecret." }}
{{- end }}
{{- if eq $v.gate.mode "oauth" }}
{{- if not (and $v.gate.oauth.issuer $v.gate.oauth.jwksUrl) }}
{{- fail "tickets-mcp: gate.mode=oauth needs gate.oauth.issuer and gate.oauth.jwksUrl (and an audience: gate.oauth.audience, or an ingress host); or choose gate.mode=token with gate.token.existingSecret." }}
{{- end }}
{{- if not (include "tickets-mcp.audience" .) }}
{{- fail "tickets-mcp: gate.mode=oauth needs an audience, this server's public MCP URL: set gate.oauth.audience, or enable the ingress with a host." }}
{{- end }}
{{- if not (hasPrefix "https://" $v.gate.oauth.jwksUrl) }}
{{- fail "tickets-mcp: gate.oauth.jwksUrl must be an https URL: keys fetched over plain HTTP could be swapped on the way." }}
{{- end }}
{{- else if eq $v.gate.mode "token" }}
{{- if not $v.gate.token.existingSecret }}
{{- fail "tickets-mcp: gate.mode=token needs gate.token.existingSecret, a Secret holding the bearer token clients send." }}
{{- end }}
{{- end }}
{{- if and (eq $v.credentials.mode "server") (not $v.credentials.existingSecret) }}
{{- fail "tickets-mcp: credentials.mode=server needs credentials.existingSecret, a Secret holding the Selectel credential (or choose credentials.mode=per-request, recommended for a team)." }}
{{- end }}
{{- if and $v.ingress.enabled (not $v.ingress.hosts) }}
{{- fail "tickets-mcp: ingress.enabled needs at least one entry in ingress.hosts." }}
{{- end }}
{{- if $v.networkPolicy.enabled }}
{{- if and (include "tickets-mcp.externalRedis" .) (not $v.networkPolicy.egress.redis) }}
{{- fail "tickets-mcp: with an existing Redis and networkPolicy.enabled, set networkPolicy.egress.redis to its peers (e.g. a namespaceSelector), or the pods cannot reach it." }}
{{- end }}
{{- if and $v.telemetry.otlpEndpoint (not $v.networkPolicy.egress.otlp) }}
{{- fail "tickets-mcp: with telemetry.otlpEndpoint and networkPolicy.enabled, set networkPolicy.egress.otlp to the collector's peers, or the pods cannot reach it." }}
{{- end }}
{{- end }}
{{- $names := include "tickets-mcp.settingNames" . | fromYaml }}
{{- range $key, $_ := $v.config }}
{{- if not (hasKey $names $key) }}
{{- fail (printf "tickets-mcp: config.%s is no setting the chart knows" $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/* preStop + the server's grace period + 5 s for closing and the telemetry flush. */}}
{{- define "tickets-mcp.terminationGrace" -}}
{{- add (int .Values.shutdown.preStopSeconds) (int (ceil .Values.shutdown.graceSeconds)) 5 }}
{{- end }}

{{/* With credentials.mode=server: environment variable → its key in credentials.existingSecret. */}}
{{- define "tickets-mcp.credentialEnv" -}}
{{- $k := .Values.credentials.keys }}
{{- if eq .Values.credentials.kind "token" }}
SELECTEL_TOKEN: {{ $k.token }}
{{- else if eq .Values.credentials.kind "iamToken" }}
SELECTEL_IAM_TOKEN: {{ $k.iamToken }}
{{- else if eq .Values.credentials.kind "serviceUser" }}
SELECTEL_USERNAME: {{ $k.username }}
SELECTEL_PASSWORD: {{ $k.password }}
SELECTEL_ACCOUNT_ID: {{ $k.accountId }}
{{- end }}
{{- end }}

{{/* The server container's env: the secret references, then extraEnv. */}}
{{- define "tickets-mcp.env" -}}
{{- $v := .Values }}
{{- if eq $v.gate.mode "token" }}
- name: TICKETS_MCP_HTTP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $v.gate.token.existingSecret }}
      key: {{ $v.gate.token.key }}
{{- end }}
{{- if eq $v.credentials.mode "server" }}
{{- range $name, $key := (include "tickets-mcp.credentialEnv" $ | fromYaml) }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.credentials.existingSecret }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- if $v.stateKey.existingSecret }}
- name: TICKETS_MCP_STATE_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.stateKey.existingSecret }}
      key: {{ $v.stateKey.key }}
{{- end }}
{{- if $v.redis.existingSecret }}
- name: TICKETS_MCP_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $v.redis.existingSecret }}
      key: {{ $v.redis.key }}
{{- end }}
{{- if $v.telemetry.otlpEndpoint }}
{{- if $v.telemetry.headersSecret }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ $v.telemetry.headersSecret }}
      key: {{ $v.telemetry.headersKey }}
{{- end }}
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: OTEL_RESOURCE_ATTRIBUTES
  value: "service.instance.id=$(K8S_POD_NAME),k8s.pod.name=$(K8S_POD_NAME)"
{{- end }}
{{- with $v.extraEnv }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}
