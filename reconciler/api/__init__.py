"""Spec API (`vsr.dev/v1alpha1`): models, YAML loading with positions, semantic checks, JSON Schema, last known
good. Never talks to vSphere. See docs/specs.md and docs/architecture.md."""

from .document import Document
from .fields import FieldPath, field_matches, managed_fields, render_field_path
from .issues import SourceRef, SpecIssue
from .lkg import last_known_good
from .loader import LoadResult, load_specs, load_text, load_texts
from .models import (
    API_VERSION,
    KINDS,
    Attestation,
    AttestationSpec,
    TLS,
    Credentials,
    DevicesSpec,
    EncryptionSpec,
    FirewallRulesetSpec,
    HostSecurityPolicy,
    HostSecurityPolicySpec,
    HostSelector,
    LockdownSpec,
    Metadata,
    NetworkSecuritySpec,
    ServiceSpec,
    SpecModel,
    VCenter,
    VCenterSpec,
    VMSecurityPolicy,
    VMSecurityPolicySpec,
    VMSelector,
    Waiver,
    WaiverSelector,
    WaiverSpec,
)
from .semantic import same_objects

__all__ = [
    "API_VERSION", "KINDS", "Attestation", "AttestationSpec", "TLS", "Credentials", "DevicesSpec", "Document", "EncryptionSpec", "FieldPath",
    "FirewallRulesetSpec", "HostSecurityPolicy", "HostSecurityPolicySpec", "HostSelector", "LoadResult",
    "LockdownSpec", "Metadata", "NetworkSecuritySpec", "ServiceSpec", "SourceRef", "SpecIssue", "SpecModel",
    "VCenter", "VCenterSpec", "VMSecurityPolicy", "VMSecurityPolicySpec", "VMSelector", "Waiver",
    "WaiverSelector", "WaiverSpec", "field_matches", "last_known_good", "load_specs", "same_objects",
    "load_text", "load_texts", "managed_fields", "render_field_path",
]
