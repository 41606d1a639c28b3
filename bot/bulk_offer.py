"""Which members of a storm group one "Fix all N like this" click could fix (issue 12, part 4).

A member qualifies when it is open (or acknowledged) and its rule's recommended fix (the
first, least destructive one) is the fix the group offers; every other member needs a person,
and says why. The group offers the recommended fix most of its members share. Pure: reads
only the stored alerts (no API call), so the parent can show the count on every edit.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rules import registry
from rules.base import Fix

from .alerts import finding_from_alert

FIXABLE_STATES = ("open", "acknowledged")  # snoozed: someone quieted it; fixing: a fix runs


@dataclass(frozen=True)
class Verdict:
    alert: dict
    fix: Fix | None      # the recommended fix, if one is offered
    why: str | None      # None: fixable; else a reason key (bulk_why_* in handlers/texts.py)


def judge(alert: dict, lang: str) -> Verdict:
    """The recommended fix of one member, or why a person must look at it."""
    if alert["state"] not in FIXABLE_STATES:
        return Verdict(alert, None, f"bulk_why_{alert['state']}")
    finding = finding_from_alert(alert)
    fixes = registry.get(alert["rule"]).fixes(finding, lang) if finding is not None else []
    if not fixes:
        return Verdict(alert, None, "bulk_why_no_fix")
    return Verdict(alert, fixes[0], None)


def offered_fix_id(verdicts: list[Verdict]) -> str | None:
    """The recommended fix most fixable members share (ties: the first seen), or None."""
    counts = Counter(v.fix.id for v in verdicts if v.fix is not None)
    return counts.most_common(1)[0][0] if counts else None


def offer(members: list[dict], lang: str) -> tuple[str, int] | None:
    """(fix id, how many members share it) for the group's button, or None."""
    verdicts = [judge(m, lang) for m in members]
    fix_id = offered_fix_id(verdicts)
    if fix_id is None:
        return None
    return fix_id, sum(1 for v in verdicts if v.fix is not None and v.fix.id == fix_id)
