"""Every rule module in the `rules` package, found with pkgutil: a module that defines a
module-level `RULE` (a rules.base.Rule instance) is a rule. Adding a rule = adding a module."""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

import rules as _package

from .base import Rule


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    """Rules in fix order (Rule.order, then id)."""
    found: dict[str, Rule] = {}
    for info in pkgutil.iter_modules(_package.__path__):
        module = importlib.import_module(f"{_package.__name__}.{info.name}")
        rule = getattr(module, "RULE", None)
        if isinstance(rule, Rule):
            if rule.id in found:
                raise RuntimeError(f"two rule modules define the rule id {rule.id!r}")
            found[rule.id] = rule
    return tuple(sorted(found.values(), key=lambda r: (r.order, r.id)))


def get(rule_id: str) -> Rule:
    for rule in all_rules():
        if rule.id == rule_id:
            return rule
    raise KeyError(f"no rule {rule_id!r}")


def ids() -> list[str]:
    return [r.id for r in all_rules()]
