{{/* Names and labels (the usual helm create conventions). */}}
{{- define "vsr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vsr.fullname" -}}
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

{{- define "vsr.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vsr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vsr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vsr.labels" -}}
helm.sh/chart: {{ include "vsr.chart" . }}
{{ include "vsr.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vsr
{{- end }}

{{/* The daemon's pods. */}}
{{- define "vsr.daemonSelectorLabels" -}}
{{ include "vsr.selectorLabels" . }}
app.kubernetes.io/component: daemon
{{- end }}

{{/* The simulator's pods. */}}
{{- define "vsr.vcsimName" -}}
{{- printf "%s-vcsim" (include "vsr.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vsr.vcsimSelectorLabels" -}}
{{ include "vsr.selectorLabels" . }}
app.kubernetes.io/component: vcsim
{{- end }}

{{- define "vsr.vcsimSecretName" -}}
{{- default (include "vsr.vcsimName" .) .Values.vcsim.credentials.existingSecret }}
{{- end }}

{{- define "vsr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vsr.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* An image reference from {repository, tag, digest}; the second argument is the default tag. */}}
{{- define "vsr.imageRef" -}}
{{- $image := index . 0 -}}
{{- $defaultTag := index . 1 -}}
{{- if $image.digest -}}
{{ $image.repository }}@{{ $image.digest }}
{{- else -}}
{{ $image.repository }}:{{ default $defaultTag $image.tag }}
{{- end -}}
{{- end }}

{{- define "vsr.image" -}}
{{ include "vsr.imageRef" (list .Values.image .Chart.AppVersion) }}
{{- end }}

{{/* The spec path the daemon watches: the git-sync link (a symlink under the root), optionally a directory in it. */}}
{{- define "vsr.specPath" -}}
{{- $path := printf "%s/%s" (trimSuffix "/" .Values.gitSync.root) .Values.gitSync.link -}}
{{- if .Values.specs.subPath -}}
{{- $path = printf "%s/%s" $path (trimAll "/" .Values.specs.subPath) -}}
{{- end -}}
{{ $path }}
{{- end }}

{{/* Is the daemon given one chart-level connection (vcenter.server or the release's simulator)? */}}
{{- define "vsr.chartConnection" -}}
{{- if or .Values.vcenter.server .Values.vcsim.enabled }}true{{ end }}
{{- end }}

{{/* Checks of value combinations that the schema cannot express well. */}}
{{- define "vsr.validate" -}}
{{- if not .Values.gitSync.repo }}
{{- fail "gitSync.repo is required: the git repository holding the specs" }}
{{- end }}
{{- if and (ne .Values.gitSync.auth.type "none") (not .Values.gitSync.auth.existingSecret) }}
{{- fail (printf "gitSync.auth.type=%s needs gitSync.auth.existingSecret" .Values.gitSync.auth.type) }}
{{- end }}
{{- if gt (int .Values.shards) 1 }}
{{- if include "vsr.chartConnection" . }}
{{- fail "shards > 1 needs VCenter documents in the spec repository: vcenter.server and vcsim.enabled give one vCenter, which one shard would reconcile" }}
{{- end }}
{{- if .Values.persistence.existingClaim }}
{{- fail "persistence.existingClaim cannot be shared by several shards: leave it empty (one claim per shard is created)" }}
{{- end }}
{{- if semverCompare "<1.28-0" .Capabilities.KubeVersion.Version }}
{{- fail "shards > 1 needs Kubernetes >= 1.28 (the StatefulSet pod-index label gives each pod its shard)" }}
{{- end }}
{{- end }}
{{- if and .Values.vcenter.server (not .Values.vcenter.existingSecret) }}
{{- fail "vcenter.server needs vcenter.existingSecret (the user name and password)" }}
{{- end }}
{{- if and .Values.vcenter.ca.secretName .Values.vcenter.ca.configMapName }}
{{- fail "vcenter.ca: give secretName or configMapName, not both" }}
{{- end }}
{{- end }}
