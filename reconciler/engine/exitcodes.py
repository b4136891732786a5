"""The exit code of a one-shot run: 0 compliant or converged, 1 error, 2 drift remains.

Unsupported fields, fields waiting for a power-off or a cold start, and waived fields are shown but do not make
exit 2 unless `strict` (`--strict`): nothing vsr can do now would change them."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.controllers.contract import Skip
from reconciler.engine.types import Change, Outcome

OK, ERROR, DRIFT = 0, 1, 2
LENIENT = frozenset({Skip.WAIVED, Skip.UNSUPPORTED, Skip.NEEDS_POWER_OFF, Skip.PENDING_POWER_CYCLE,
                     Skip.NEEDS_REBOOT, Skip.PENDING_REBOOT})


def is_drift(change: Change, strict: bool = False) -> bool:
    """Whether `change` keeps the run from exit 0."""
    if change.outcome is Outcome.APPLIED:
        return False
    return strict or change.reason not in LENIENT


def exit_code(errors: bool, changes: Iterable[Change], strict: bool = False) -> int:
    if errors:
        return ERROR
    return DRIFT if any(is_drift(c, strict) for c in changes) else OK
