{{/* The chart name, or nameOverride. */}}
{{- define "valet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The object name prefix: fullnameOverride, or release-chart (the release alone when it holds the chart name). */}}
{{- define "valet.fullname" -}}
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

{{- define "valet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "valet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "valet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "valet.selectorLabels" . }}
app.kubernetes.io/version: {{ include "valet.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "valet.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "valet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "valet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The port of a host:port listen address (":8080" -> 8080), or a clear failure naming the key. */}}
{{- define "valet.port" -}}
{{- $addr := index . 0 }}{{- $key := index . 1 }}
{{- if not (regexMatch "^[^:]*:[0-9]+$" (toString $addr)) }}
{{- fail (printf "%s: %q is not host:port with a numeric port" $key (toString $addr)) }}
{{- end }}
{{- regexReplaceAll "^.*:" (toString $addr) "" }}
{{- end }}

{{/* The config (a YAML string in values), parsed and checked, as YAML: include "valet.config" . | fromYaml */}}
{{- define "valet.config" -}}
{{- $c := fromYaml (toString .Values.config) }}
{{- if hasKey $c "Error" }}
{{- fail (printf "config: not a YAML map: %s" (get $c "Error")) }}
{{- end }}
{{- toYaml $c }}
{{- end }}

{{- define "valet.apiPort" -}}
{{- $c := include "valet.config" . | fromYaml }}
{{- include "valet.port" (list (dig "server" "listen" ":8080" $c) "config.server.listen") }}
{{- end }}

{{- define "valet.adminListen" -}}
{{- $c := include "valet.config" . | fromYaml }}
{{- dig "server" "admin_listen" "" $c }}
{{- end }}

{{/* The local stores, as a list of {name, port} in store-name order. */}}
{{- define "valet.localStores" -}}
{{- $out := list }}
{{- $c := include "valet.config" . | fromYaml }}
{{- range $name, $s := (get $c "stores" | default dict) }}
{{- if eq (toString $s.provider) "local" }}
{{- $port := include "valet.port" (list (dig "config" "listen" "" $s) (printf "config.stores.%s.config.listen" $name)) }}
{{- $out = append $out (dict "name" $name "port" ($port | int)) }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
Refuses a config that holds a secret inline: every secret of Valet's config
has a *_file form (mount it with secretMounts) and a VALET_ environment form
(set it with secretEnv). It walks the whole config, so a key of a secret's
name is refused at any depth (a store's or a plugin's config, hooks, lists):
secret, secrets, *_secret, *_secrets and the providers' credential keys
(config/ and each provider's config.go).
*/}}
{{- define "valet.checkNoInlineSecrets" -}}
{{- $c := include "valet.config" . | fromYaml }}
{{- include "valet.noInlineSecrets" (list "" $c) }}
{{- end }}

{{/* valet.noInlineSecrets (list PATH VALUE) fails on the first secret key under VALUE, naming its path. */}}
{{- define "valet.noInlineSecrets" -}}
{{- $path := index . 0 }}{{- $v := index . 1 }}
{{- if kindIs "map" $v }}
{{- range $k, $vv := $v }}
{{- $p := ternary $k (printf "%s.%s" $path $k) (eq $path "") }}
{{- if and (regexMatch "(?i)^(secrets?|.*_secrets?|secret_access_key|access_key_id|session_token|account_key|credentials|private_key|password)$" $k) (not (empty $vv)) }}
{{- if contains "[" $p }}
{{- fail (printf "config.%s: secrets never go in values; use a *_file key with secretMounts, or a VALET_ variable with secretEnv" $p) }}
{{- end }}
{{- $one := regexReplaceAll "(?i)secrets$" $p "secret" }}
{{- $env := printf "VALET_%s" (replace "." "__" $one | upper) }}
{{- if ne $one $p }}
{{- fail (printf "config.%s: secrets never go in values; use %s_file (one secret per line) with secretMounts, or %s with secretEnv" $p $one $env) }}
{{- end }}
{{- fail (printf "config.%s: secrets never go in values; use %s_file with secretMounts, or %s with secretEnv" $p $p $env) }}
{{- end }}
{{- include "valet.noInlineSecrets" (list $p $vv) }}
{{- end }}
{{- else if kindIs "slice" $v }}
{{- range $i, $vv := $v }}
{{- include "valet.noInlineSecrets" (list (printf "%s[%d]" $path $i) $vv) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Refuses a grace period that does not cover the preStop pause plus server.shutdown_timeout (when written in s or m). */}}
{{- define "valet.checkGrace" -}}
{{- $c := include "valet.config" . | fromYaml }}
{{- $t := toString (dig "server" "shutdown_timeout" "30s" $c) }}
{{- $secs := -1 }}
{{- if regexMatch "^[0-9]+s$" $t }}{{ $secs = trimSuffix "s" $t | int }}{{ end }}
{{- if regexMatch "^[0-9]+m$" $t }}{{ $secs = mul (trimSuffix "m" $t | int) 60 }}{{ end }}
{{- if and (ge $secs 0) (le (int .Values.terminationGracePeriodSeconds) (add $secs (int .Values.preStopSleepSeconds))) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than preStopSleepSeconds (%d) plus server.shutdown_timeout (%s), or in-flight requests are killed" (int .Values.terminationGracePeriodSeconds) (int .Values.preStopSleepSeconds) $t) }}
{{- end }}
{{- end }}

{{/* Refuses several pods on one local store whose data is not shared. */}}
{{- define "valet.checkLocalReplicas" -}}
{{- $many := or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}
{{- if and $many (ne (include "valet.localStores" .) "[]") (hasKey .Values.dataVolume "emptyDir") }}
{{- fail "a local store with more than one replica needs a shared dataVolume (a ReadWriteMany persistentVolumeClaim): with an emptyDir each pod would hold different objects" }}
{{- end }}
{{- end }}
