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
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
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
{{ $image.repository }}:{{ default $defaultTag (include "vsr.tagString" $image.tag) }}
{{- end -}}
{{- end }}

{{/* A tag as text: helm reads numbers in values as float64, so 20260101 must not become 2.0260101e+07. */}}
{{- define "vsr.tagString" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{ int64 . }}
{{- else -}}
{{ toString . }}
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
{{- include "vsr.validateUpgrade" . }}
{{- if and .Values.vcenter.server (not .Values.vcenter.existingSecret) }}
{{- fail "vcenter.server needs vcenter.existingSecret (the user name and password)" }}
{{- end }}
{{- if and .Values.vcenter.ca.secretName .Values.vcenter.ca.configMapName }}
{{- fail "vcenter.ca: give secretName or configMapName, not both" }}
{{- end }}
{{- end }}

{{/*
Upgrade guards, from the objects in the cluster (`lookup`; nothing to compare under `helm template`).
A StatefulSet's volumeClaimTemplates are immutable: toggling persistence with shards > 1 would fail half-way.
*/}}
{{- define "vsr.validateUpgrade" -}}
{{- if gt (int .Values.shards) 1 }}
{{- include "vsr.checkStatefulSetChange" (dict "root" . "existing" (lookup "apps/v1" "StatefulSet" .Release.Namespace (include "vsr.fullname" .))) }}
{{- end }}
{{- end }}

{{/* Fails when the StatefulSet in the cluster ("existing", may be empty) cannot be changed into the new one. */}}
{{- define "vsr.checkStatefulSetChange" -}}
{{- $ := .root -}}
{{- with .existing }}
{{- $had := gt (len (.spec.volumeClaimTemplates | default list)) 0 }}
{{- if ne $had $.Values.persistence.enabled }}
{{- $name := include "vsr.fullname" $ }}
{{- fail (printf "persistence.enabled=%v would change the volumeClaimTemplates of StatefulSet %s, which Kubernetes does not allow: first run `kubectl -n %s delete statefulset %s --cascade=orphan` (its pods keep running until the upgrade replaces them; see docs/deploy.md, Upgrades)" $.Values.persistence.enabled $name $.Release.Namespace $name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The password of the generated vcsim Secret: the one in the cluster if there is one (kept across upgrades), else
random when `lookup` works (helm install/upgrade, Flux), else - `helm template`, Argo CD, or a first install
into a namespace that does not exist yet - derived from the release, so every render gives the same Secret.
`lookup` works when it finds the namespace's "default" ServiceAccount (every namespace has one).
*/}}
{{- define "vsr.vcsimPassword" -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "vsr.vcsimSecretName" .) }}
{{- if and $existing $existing.data (hasKey $existing.data "password") }}
{{- index $existing.data "password" | b64dec }}
{{- else if lookup "v1" "ServiceAccount" .Release.Namespace "default" }}
{{- randAlphaNum 24 }}
{{- else }}
{{- printf "vsr-vcsim/%s/%s" .Release.Namespace .Release.Name | sha256sum | trunc 24 }}
{{- end }}
{{- end }}

{{/*
The generated vcsim Secret's data (username, password). Computed once per render and memoised on the root
context's Values, so the Secret and the pods' checksum annotations (other template files) see the same password.
*/}}
{{- define "vsr.vcsimSecretData" -}}
{{- $memo := .Values.vcsim.credentials -}}
{{- if not (hasKey $memo "_generatedData") -}}
{{- $data := printf "username: %s\npassword: %s" (.Values.vcsim.credentials.username | b64enc | quote) (include "vsr.vcsimPassword" . | b64enc | quote) -}}
{{- $_ := set $memo "_generatedData" $data -}}
{{- end -}}
{{ get $memo "_generatedData" }}
{{- end }}

{{/* Does the chart itself create the vcsim Secret? */}}
{{- define "vsr.vcsimGeneratedSecret" -}}
{{- if and .Values.vcsim.enabled (not .Values.vcsim.credentials.existingSecret) }}true{{ end }}
{{- end }}
