"""Generate large scenario worlds (10,000+ invoices) for benchmarks and scale tests.

`generate(n_invoices, failure_rate=0.02)` returns a scenario dict (docs/scenarios.md) in
which about `failure_rate` of the invoices fail, spread over the four per-invoice failures
(Revenue Recognition is a company-wide switch, so it has its own small scenario instead):

- missing-customer: the contact is left out of contact sync and no QBO customer has its
  email; a QBO customer with the same name but another email exists (the likely match);
- duplicate-display-name: a company's later contact, in contact sync, with no customer of
  its own: the integration tries to create one named after the company, which is taken;
- duplicate-doc-number: a QBO credit memo already carries the invoice's number;
- native-invoice-modified: the invoice was pushed earlier and its QBO copy was edited.

Everything else syncs. `expect` lists the failing invoices. Deterministic for a seed.

    python -m sandbox.generate --invoices 50000 --out /tmp/world.json
"""
from __future__ import annotations

import argparse
import json
import random
import sys

FAILURE_KINDS = ("missing-customer", "duplicate-display-name", "duplicate-doc-number", "native-invoice-modified")
FIRST = ["Ann", "Bob", "Carla", "Dirk", "Eva", "Femke", "Gus", "Hana", "Iker", "José", "Kees", "Lotte",
         "Marta", "Noor", "Óscar", "Pim", "Quinn", "Ruud", "Sofía", "Tess", "Ugo", "Vera", "Wim", "Zoë"]
LAST = ["Jansen", "de Vries", "Smit", "Gómez", "O'Brien", "Bakker", "Visser", "Muñoz", "Peters", "Núñez",
        "Mulder", "de Boer", "Ruiz", "Dekker", "Brouwer", "Álvarez"]
TRADE = ["Consulting", "Training", "Travel", "Services"]


def generate(n_invoices: int, *, failure_rate: float = 0.02, seed: int = 7,
             contacts_per_company: int = 5, invoices_per_contact: int = 2) -> dict:
    rng = random.Random(seed)
    n_contacts = max(1, n_invoices // invoices_per_contact)
    n_companies = max(1, n_contacts // contacts_per_company)

    companies = [{"id": str(200000 + i), "name": f"Company {i:05d} {rng.choice(LAST)} BV",
                  "domain": f"c{i}.example"} for i in range(n_companies)]
    contacts = []
    for i in range(n_contacts):
        company = companies[i % n_companies]
        contacts.append({"id": str(100000 + i), "email": f"person{i}@{company['domain']}",
                         "firstname": rng.choice(FIRST), "lastname": rng.choice(LAST), "company": company["id"]})

    # Choose the failing invoices first, then build everything around them.
    n_fail = round(n_invoices * failure_rate)
    failing = rng.sample(range(n_invoices), n_fail)
    kind_of = {idx: FAILURE_KINDS[k % len(FAILURE_KINDS)] for k, idx in enumerate(failing)}

    # Each failing invoice gets a contact of its own, so one failure never drags others along.
    dedicated: dict[int, dict] = {}
    for idx, kind in kind_of.items():
        if kind in ("missing-customer", "duplicate-display-name"):
            company = companies[idx % n_companies]
            c = {"id": str(900000 + idx), "email": f"new{idx}@{company['domain']}",
                 "firstname": rng.choice(FIRST), "lastname": rng.choice(LAST), "company": company["id"]}
            contacts.append(c)
            dedicated[idx] = c

    customers, cust_by_contact = [], {}
    next_id = iter(range(1000, 10_000_000))
    for i, c in enumerate(contacts[:n_contacts]):
        company = companies[i % n_companies]
        # The company's first contact holds the company's name, later ones a name of their own.
        name = company["name"] if i < n_companies else f"{company['name']} ({c['firstname']} {c['lastname']} {i})"
        cid = str(next(next_id))
        customers.append({"Id": cid, "DisplayName": name, "PrimaryEmailAddr": {"Address": c["email"]},
                          "GivenName": c["firstname"], "FamilyName": c["lastname"], "CompanyName": company["name"]})
        cust_by_contact[c["id"]] = cid

    line_items, invoices, qbo_invoices, credit_memos, synced = [], [], [], [], []
    exclude, expect = [], {}
    li_id = iter(range(400000, 100_000_000))
    for idx in range(n_invoices):
        kind = kind_of.get(idx)
        contact = dedicated.get(idx) or contacts[idx % n_contacts]
        lis = []
        for _ in range(2):
            q, p = rng.randint(1, 20), round(rng.uniform(20, 400), 2)
            lis.append({"id": str(next(li_id)), "name": rng.choice(TRADE), "quantity": q, "price": p})
        line_items.extend(lis)
        number = f"INV-{100000 + idx}"
        invoices.append({"id": str(300000 + idx), "number": number, "status": "paid" if idx % 5 == 0 else "open",
                         "currency": "USD", "invoice_date": "2026-11-02", "due_date": "2026-12-02", "source": "native",
                         "contact": contact["id"], "company": contact["company"],
                         "line_items": [x["id"] for x in lis], "age_minutes": 60 + idx % 600})
        if kind is None:
            continue
        expect[str(300000 + idx)] = [kind]
        if kind == "missing-customer":
            exclude.append(contact["id"])
            customers.append({"Id": str(next(next_id)), "DisplayName": f"{contact['firstname']} {contact['lastname']} #{idx}",
                              "PrimaryEmailAddr": {"Address": f"billing{idx}@old-{contact['email'].split('@')[1]}"}})
        elif kind == "duplicate-doc-number":
            other = customers[rng.randrange(len(customers))]["Id"]
            credit_memos.append({"Id": str(next(next_id)), "DocNumber": number, "CustomerRef": {"value": other},
                                 "Line": [_line("Refund", 1, 25.0)]})
        elif kind == "native-invoice-modified":
            qid = str(next(next_id))
            edited = [_line(x["name"], x["quantity"] + 1, x["price"]) for x in lis]
            qbo_invoices.append({"Id": qid, "DocNumber": number, "CustomerRef": {"value": cust_by_contact[contact["id"]]},
                                 "TxnDate": "2026-11-02", "Line": edited})
            synced.append({"hubspot_invoice": str(300000 + idx), "qbo_invoice": qid})

    return {
        "name": f"generated-{n_invoices}",
        "description": f"{n_invoices} invoices, {n_fail} failing ({failure_rate:.1%}), seed {seed}.",
        "expect": expect,
        "hubspot": {"portal_id": 24681357, "language": "en", "tier": "professional", "companies": companies,
                    "contacts": contacts, "line_items": line_items, "invoices": invoices},
        "qbo": {"realm_id": "9341453189012345", "company_name": "Generated Books",
                "preferences": {"custom_txn_numbers": True, "revenue_recognition": False},
                "customers": customers, "vendors": [], "employees": [],
                "items": [{"Id": str(i + 1), "Name": n, "Type": "Service"} for i, n in enumerate(TRADE)],
                "invoices": qbo_invoices, "credit_memos": credit_memos},
        "integration": {"contact_sync": "all", "contact_sync_exclude": exclude, "default_item": "4",
                        "synced": synced},
    }


def _line(name: str, qty: float, price: float) -> dict:
    item = str(TRADE.index(name) + 1) if name in TRADE else "4"
    return {"DetailType": "SalesItemLineDetail", "Amount": round(qty * price, 2), "Description": name,
            "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": price}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sandbox.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--invoices", type=int, required=True)
    ap.add_argument("--failure-rate", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="-", help="file to write (default: stdout)")
    args = ap.parse_args(argv)
    data = generate(args.invoices, failure_rate=args.failure_rate, seed=args.seed)
    text = json.dumps(data, ensure_ascii=False)
    if args.out == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
