{{/*
The daemon's pod template, shared by the Deployment (one shard) and the StatefulSet (shards > 1).
Containers: vsr (the daemon) and git-sync (the spec repository); an optional git-sync init container syncs once
before the daemon starts. Volumes: "git" (the shared checkout), "journal", a /tmp for each container, secrets.
*/}}

{{/* A git-sync v4 container; argument: dict "root" . "oneTime" bool. */}}
{{- define "vsr.gitSyncContainer" -}}
{{- $ := .root -}}
{{- $g := $.Values.gitSync -}}
- name: {{ if .oneTime }}git-sync-init{{ else }}git-sync{{ end }}
  image: {{ include "vsr.imageRef" (list $g.image "") | quote }}
  imagePullPolicy: {{ $g.image.pullPolicy }}
  args:
    - --repo={{ $g.repo }}
    - --ref={{ $g.ref }}
    - --root={{ $g.root }}
    - --link={{ $g.link }}
    - --depth={{ $g.depth }}
    # git-sync v4 counts the first sync too: the init container fails on the first error (the kubelet retries it
    # with backoff, visibly); the sidecar keeps retrying (-1: forever) and the daemon keeps the last synced commit.
    - --max-failures={{ if .oneTime }}{{ $g.initMaxFailures }}{{ else }}{{ $g.maxFailures }}{{ end }}
    {{- if .oneTime }}
    - --one-time
    {{- else }}
    - --period={{ $g.period }}
    {{- end }}
    {{- if eq $g.auth.type "https" }}
    - --password-file=/etc/git-secret/{{ $g.auth.passwordKey }}
    {{- else if eq $g.auth.type "ssh" }}
    - --ssh-key-file=/etc/git-secret/{{ $g.auth.sshKeyKey }}
    - --ssh-known-hosts=true
    - --ssh-known-hosts-file=/etc/git-secret/{{ $g.auth.knownHostsKey }}
    {{- end }}
    {{- range $g.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    - name: HOME
      value: /tmp
    {{- if eq $g.auth.type "https" }}
    - name: GITSYNC_USERNAME
      valueFrom:
        secretKeyRef:
          name: {{ $g.auth.existingSecret }}
          key: {{ $g.auth.usernameKey }}
    {{- end }}
    {{- with $g.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  securityContext:
    {{- toYaml $.Values.securityContext | nindent 4 }}
    # git-sync's image runs as 65533:65533; the pod's fsGroup makes the shared volumes writable for it.
    runAsUser: 65533
    runAsGroup: 65533
  resources:
    {{- toYaml $g.resources | nindent 4 }}
  volumeMounts:
    - name: git
      mountPath: {{ $g.root }}
    - name: git-sync-tmp
      mountPath: /tmp
    {{- if ne $g.auth.type "none" }}
    - name: git-secret
      mountPath: /etc/git-secret
      readOnly: true
    {{- end }}
    {{- with $g.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{- define "vsr.podTemplate" -}}
{{- $sharded := gt (int .Values.shards) 1 -}}
{{- $vcsimConnection := and .Values.vcsim.enabled (not .Values.vcenter.server) -}}
metadata:
  labels:
    {{- include "vsr.labels" . | nindent 4 }}
    app.kubernetes.io/component: daemon
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if or .Values.podAnnotations (and $vcsimConnection (include "vsr.vcsimGeneratedSecret" .)) }}
  annotations:
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- if and $vcsimConnection (include "vsr.vcsimGeneratedSecret" .) }}
    # Restart when the generated simulator credentials change (the simulator restarts too).
    checksum/vcsim-credentials: {{ include "vsr.vcsimSecretData" . | sha256sum }}
    {{- end }}
  {{- end }}
spec:
  serviceAccountName: {{ include "vsr.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
  enableServiceLinks: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- if .Values.gitSync.initialSync }}
  initContainers:
    {{- include "vsr.gitSyncContainer" (dict "root" . "oneTime" true) | nindent 4 }}
  {{- end }}
  containers:
    - name: vsr
      image: {{ include "vsr.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - run
        # The git-sync link: the daemon watches the directory holding it and re-resolves it on every swap.
        - {{ include "vsr.specPath" . }}
        {{- range .Values.specs.extraPaths }}
        - {{ . }}
        {{- end }}
        # All IPv6 and IPv4 addresses (IPv4 only where the node has no IPv6).
        - --listen=[::]:{{ .Values.daemon.port }}
        - --journal=/var/lib/vsr/journal.db
        - --resync={{ .Values.daemon.resync }}
        - --concurrency={{ .Values.daemon.concurrency }}
        - --qps={{ .Values.daemon.qps }}
        - --burst={{ .Values.daemon.burst }}
        - --flap-threshold={{ .Values.daemon.flapThreshold }}
        - --flap-window={{ .Values.daemon.flapWindow }}
        - --log-format={{ .Values.daemon.logFormat }}
        - --log-level={{ .Values.daemon.logLevel }}
        {{- if $sharded }}
        # Kubernetes expands $(VSR_SHARD_INDEX) (the pod's StatefulSet ordinal, below): no shell involved.
        - --shard=$(VSR_SHARD_INDEX)/{{ .Values.shards }}
        {{- end }}
        {{- if .Values.vcenter.server }}
        - --server={{ .Values.vcenter.server }}
        - --password-file=/etc/vsr/credentials/{{ .Values.vcenter.passwordKey }}
        {{- if .Values.vcenter.insecure }}
        - --insecure
        {{- end }}
        {{- else if $vcsimConnection }}
        - --server={{ include "vsr.vcsimName" . }}:443
        - --password-file=/etc/vsr/vcsim-credentials/password
        {{- if not .Values.vcsim.tls.existingSecret }}
        # The simulator's self-signed certificate does not name its Service: trials only.
        - --insecure
        {{- end }}
        {{- end }}
        {{- range .Values.daemon.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      env:
        - name: HOME
          value: /tmp
        # Credential and CA files named by VCenter documents or flags must be under here (the chart's mounts).
        - name: VSR_CREDENTIALS_DIR
          value: /etc/vsr
        {{- if $sharded }}
        - name: VSR_SHARD_INDEX
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        {{- end }}
        {{- if .Values.vcenter.server }}
        - name: VSR_USERNAME
          valueFrom:
            secretKeyRef:
              name: {{ .Values.vcenter.existingSecret }}
              key: {{ .Values.vcenter.usernameKey }}
        {{- if or .Values.vcenter.ca.secretName .Values.vcenter.ca.configMapName }}
        # The ad-hoc connection trusts the system store; OpenSSL reads it from SSL_CERT_FILE.
        - name: SSL_CERT_FILE
          value: /etc/vsr/ca/{{ .Values.vcenter.ca.key }}
        {{- end }}
        {{- else if $vcsimConnection }}
        - name: VSR_USERNAME
          valueFrom:
            secretKeyRef:
              name: {{ include "vsr.vcsimSecretName" . }}
              key: username
        {{- if .Values.vcsim.tls.existingSecret }}
        - name: SSL_CERT_FILE
          value: /etc/vsr/ca/ca.crt
        {{- end }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.daemon.port }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml .Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        {{- toYaml .Values.probes.readiness | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - name: git
          mountPath: {{ .Values.gitSync.root }}
          readOnly: true
        - name: journal
          mountPath: /var/lib/vsr
        - name: tmp
          mountPath: /tmp
        {{- if .Values.vcenter.server }}
        - name: credentials
          mountPath: /etc/vsr/credentials
          readOnly: true
        {{- else if $vcsimConnection }}
        - name: vcsim-credentials
          mountPath: /etc/vsr/vcsim-credentials
          readOnly: true
        {{- end }}
        {{- if or (and .Values.vcenter.server (or .Values.vcenter.ca.secretName .Values.vcenter.ca.configMapName)) (and $vcsimConnection .Values.vcsim.tls.existingSecret) }}
        - name: ca
          mountPath: /etc/vsr/ca
          readOnly: true
        {{- end }}
        {{- range $i, $name := .Values.vcenter.secretMounts }}
        - name: secret-{{ $i }}
          mountPath: /etc/vsr/secrets/{{ $name }}
          readOnly: true
        {{- end }}
        {{- range $i, $name := .Values.vcenter.configMapMounts }}
        - name: configmap-{{ $i }}
          mountPath: /etc/vsr/configmaps/{{ $name }}
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- include "vsr.gitSyncContainer" (dict "root" . "oneTime" false) | nindent 4 }}
  volumes:
    - name: git
      emptyDir: {}
    - name: tmp
      emptyDir: {}
    - name: git-sync-tmp
      emptyDir: {}
    {{- if not $sharded }}
    - name: journal
      {{- if .Values.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ default (printf "%s-journal" (include "vsr.fullname" .)) .Values.persistence.existingClaim }}
      {{- else }}
      emptyDir: {}
      {{- end }}
    {{- else if not .Values.persistence.enabled }}
    - name: journal
      emptyDir: {}
    {{- end }}
    {{- if ne .Values.gitSync.auth.type "none" }}
    - name: git-secret
      secret:
        secretName: {{ .Values.gitSync.auth.existingSecret }}
        defaultMode: 0440
    {{- end }}
    {{- if .Values.vcenter.server }}
    - name: credentials
      secret:
        secretName: {{ .Values.vcenter.existingSecret }}
        defaultMode: 0440
    {{- with .Values.vcenter.ca }}
    {{- if .secretName }}
    - name: ca
      secret:
        secretName: {{ .secretName }}
        items: [{key: {{ .key }}, path: {{ .key }}}]
    {{- else if .configMapName }}
    - name: ca
      configMap:
        name: {{ .configMapName }}
        items: [{key: {{ .key }}, path: {{ .key }}}]
    {{- end }}
    {{- end }}
    {{- else if $vcsimConnection }}
    - name: vcsim-credentials
      secret:
        secretName: {{ include "vsr.vcsimSecretName" . }}
        defaultMode: 0440
    {{- if .Values.vcsim.tls.existingSecret }}
    - name: ca
      secret:
        secretName: {{ .Values.vcsim.tls.existingSecret }}
        items: [{key: ca.crt, path: ca.crt}]
    {{- end }}
    {{- end }}
    {{- range $i, $name := .Values.vcenter.secretMounts }}
    - name: secret-{{ $i }}
      secret:
        secretName: {{ $name }}
        defaultMode: 0440
    {{- end }}
    {{- range $i, $name := .Values.vcenter.configMapMounts }}
    - name: configmap-{{ $i }}
      configMap:
        name: {{ $name }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range . }}
    {{- $c := deepCopy . }}
    {{- if not (hasKey $c "labelSelector") }}
    {{- $_ := set $c "labelSelector" (dict "matchLabels" (include "vsr.daemonSelectorLabels" $ | fromYaml)) }}
    {{- end }}
    - {{- toYaml $c | nindent 6 }}
    {{- end }}
  {{- end }}
{{- end }}
