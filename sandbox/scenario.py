"""Scenario files: read, check (JSON Schema + references between records), and list the
shipped ones. Loading them into the models is sandbox.app.Sandbox.load's job.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema

from bot.errors import QbsyncError

SCENARIO_DIR = Path(__file__).parent / "scenarios"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "scenario.schema.json"


class ScenarioError(QbsyncError, ValueError):
    """The scenario file is not valid; the message lists every problem found."""


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def shipped() -> dict[str, Path]:
    """Name -> path of the scenarios that come with qbsync."""
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.json"))}


def resolve(name_or_path: str | Path) -> Path:
    """A shipped scenario's name ("mixed") or a file path."""
    path = Path(name_or_path)
    if path.exists():
        return path
    found = shipped().get(str(name_or_path))
    if found is None:
        raise ScenarioError(
            f"no scenario file {str(name_or_path)!r}; shipped scenarios: {', '.join(shipped())}")
    return found


def read(name_or_path: str | Path) -> dict:
    """The scenario's data; every way a file can be unusable is a ScenarioError (one line for
    the command line, never a traceback)."""
    path = resolve(name_or_path)
    if path.is_dir():
        raise ScenarioError(f"{path}: is a directory, not a scenario file")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                            f"{exc.start}); save the file as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not valid JSON: {exc}") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    validate(data, source=str(path))
    return data


def validate(data: dict, *, source: str = "scenario") -> None:
    # The format checker makes "format": "date" / "date-time" real checks, so an impossible
    # date (2026-02-30) is reported here instead of failing later, deep in a model's load.
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    problems = [
        f"{'/'.join(str(p) for p in err.absolute_path) or '(top)'}: {err.message}"
        for err in sorted(validator.iter_errors(data), key=str)
    ]
    if not problems:
        problems = _reference_problems(data)
    if problems:
        raise ScenarioError(f"{source}: " + "; ".join(problems))


def _reference_problems(data: dict) -> list[str]:
    """Ids that point at nothing, and ids used twice: the schema can't see those."""
    problems: list[str] = []
    hs, qbo, integ = data.get("hubspot", {}), data.get("qbo", {}), data.get("integration", {})

    def ids(records, key="id", label=""):
        seen: set[str] = set()
        for r in records:
            if r[key] in seen:
                problems.append(f"{label}: id {r[key]} is used twice")
            seen.add(r[key])
        return seen

    companies = ids(hs.get("companies", []), label="hubspot.companies")
    contacts = ids(hs.get("contacts", []), label="hubspot.contacts")
    line_items = ids(hs.get("line_items", []), label="hubspot.line_items")
    invoices = ids(hs.get("invoices", []), label="hubspot.invoices")
    customers = ids(qbo.get("customers", []), "Id", "qbo.customers")
    ids(qbo.get("vendors", []), "Id", "qbo.vendors")
    ids(qbo.get("employees", []), "Id", "qbo.employees")
    items = ids(qbo.get("items", []), "Id", "qbo.items")
    qbo_invoices = ids(qbo.get("invoices", []), "Id", "qbo.invoices")
    ids(qbo.get("credit_memos", []), "Id", "qbo.credit_memos")

    for c in hs.get("contacts", []):
        if c.get("company") and c["company"] not in companies:
            problems.append(f"contact {c['id']}: company {c['company']} does not exist")
    for inv in hs.get("invoices", []):
        contact_ids = inv.get("contact", [])
        for cid in [contact_ids] if isinstance(contact_ids, str) else contact_ids:
            if cid not in contacts:
                problems.append(f"invoice {inv['id']}: contact {cid} does not exist")
        if inv.get("company") and inv["company"] not in companies:
            problems.append(f"invoice {inv['id']}: company {inv['company']} does not exist")
        for li in inv.get("line_items", []):
            if li not in line_items:
                problems.append(f"invoice {inv['id']}: line item {li} does not exist")
    for txn_kind in ("invoices", "credit_memos"):
        for txn in qbo.get(txn_kind, []):
            if txn["CustomerRef"]["value"] not in customers:
                problems.append(f"qbo.{txn_kind} {txn['Id']}: customer {txn['CustomerRef']['value']} does not exist")
    if integ.get("default_item") and integ["default_item"] not in items:
        problems.append(f"integration.default_item {integ['default_item']} is not a QBO item")
    for s in integ.get("synced", []):
        if s["hubspot_invoice"] not in invoices:
            problems.append(f"integration.synced: HubSpot invoice {s['hubspot_invoice']} does not exist")
        if s["qbo_invoice"] not in qbo_invoices:
            problems.append(f"integration.synced: QBO invoice {s['qbo_invoice']} does not exist")
    for cid in integ.get("contact_sync_exclude", []):
        if cid not in contacts:
            problems.append(f"integration.contact_sync_exclude: contact {cid} does not exist")
    return problems
