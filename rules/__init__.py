"""qbsync's rules engine (issue #3): one module per sync-failure cause.

- `rules.classify.classify(text)` names the rule behind an error text (QBO fault JSON, a QBO
  Detail string, HubSpot's heading in en/nl/es);
- `rules.diagnose.diagnose(invoices, view, ...)` finds the causes from live data (HubSpot
  invoices + a `rules.view.QboView`), with evidence naming the records involved;
- each rule explains itself in en/nl/es and offers `Fix`es that write through the adapters
  and re-check that the cause is gone.

Adding a rule = adding one module that defines `RULE` (see rules/registry.py).
"""
