"""bot/invoice_source.py: native = "not from a sync source", compared ignoring case, spaces,
underscores and hyphens; never equality with one guessed value."""
from __future__ import annotations

import pytest

from bot.invoice_source import DEFAULT_SYNC_SOURCES, EMPTY_LABEL, SourceRule, normalise, split


@pytest.mark.parametrize("value", ["data_sync", "Data Sync", "DATA-SYNC", "datasync", " data _ sync ",
                                   "Legacy Quickbooks integration", "legacy_quickbooks_integration",
                                   "LEGACY-QUICKBOOKS-INTEGRATION", "QUICKBOOKS"])
def test_sync_values_in_any_spelling_are_not_native(value):
    assert not SourceRule().is_native(value)


@pytest.mark.parametrize("value", ["HubSpot", "hubspot", "HUBSPOT", "hs_invoice", "manual", "", None, "   "])
def test_every_other_value_and_none_is_native(value):
    assert SourceRule().is_native(value)


def test_configured_sources_replace_the_defaults():
    rule = SourceRule(("My Sync", "hubspot"))
    assert not rule.is_native("my_sync") and not rule.is_native("HubSpot")
    assert rule.is_native("data_sync")      # no longer listed
    assert normalise("A b_C-d") == "abcd"
    assert set(DEFAULT_SYNC_SOURCES) >= {"data_sync", "legacy_quickbooks_integration"}


def test_split_groups_spellings_and_counts_empty_values():
    s = split(["hubspot", "data_sync", "Data Sync", None, "", "HubSpot", "data_sync"], SourceRule())
    assert s.native == {"hubspot": 2, EMPTY_LABEL: 2} and s.synced == {"data_sync": 3}
    assert (s.total, s.native_count, s.all_empty) == (7, 4, False)
    assert split([None, ""], SourceRule()).all_empty
    assert not split([], SourceRule()).all_empty
