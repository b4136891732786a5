"""Events: the model (Kubernetes event semantics) and the durable SQLite journal."""

from reconciler.events.journal import SCHEMA_VERSION, Intent, Journal, JournalError, JournalMissing
from reconciler.events.model import (DRIFT_DETECTED, DRIFT_FLAPPING, DRIFT_REMEDIATED, NORMAL, REMEDIATION_BLOCKED,
                                     REMEDIATION_FAILED, REMEDIATION_STARTED,
                                     REMEDIATION_UNVERIFIED, SPEC_INVALID, TARGET_NOT_FOUND, UNSUPPORTED, WAIVED,
                                     WAIVER_EXPIRED, WARNING, Event, ObjectRef, StoredEvent)
from reconciler.events.timeutil import format_duration, parse_duration, parse_since

__all__ = [
    "Event", "ObjectRef", "StoredEvent", "Intent", "Journal", "JournalError", "JournalMissing", "SCHEMA_VERSION",
    "NORMAL", "WARNING", "DRIFT_DETECTED", "DRIFT_REMEDIATED", "REMEDIATION_FAILED", "REMEDIATION_BLOCKED",
    "REMEDIATION_STARTED", "REMEDIATION_UNVERIFIED",
    "WAIVED", "WAIVER_EXPIRED", "SPEC_INVALID", "DRIFT_FLAPPING", "TARGET_NOT_FOUND", "UNSUPPORTED",
    "parse_duration", "parse_since", "format_duration",
]
