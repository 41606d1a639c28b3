"""How fast rules.classify.classify is: `python -m bench.classify [N]` classifies N (default
10,000) realistic error texts (HubSpot headings in en/nl/es with and without prefixes, QBO
fault JSON in both letter cases, Detail strings, other-language faults, near-misses) and
prints texts per second. A benchmark line, not a timed test."""
from __future__ import annotations

import json
import sys
import time

from rules.classify import classify

HEADINGS = [
    "An invoice should have an associated customer. Make sure the associated customer is present in both HubSpot & "
    "QuickBooks Online to sync this invoice",
    "Een factuur moet een gekoppelde klant hebben. Zorg ervoor dat de gekoppelde klant aanwezig is in zowel HubSpot "
    "als QuickBooks Online om deze factuur te synchroniseren.",
    "Una factura debe tener un cliente asociado. Asegúrate de que el cliente asociado está presente tanto en HubSpot "
    "como en QuickBooks Online para sincronizar esta factura",
    "The display name is a duplicate", "De weergavenaam is een duplicaat", "El nombre del remitente es un duplicado",
    "Business Validation Error: Enter a service date for the revenue recognition line item",
    "Fout bij bedrijfsvalidatie: Voer een servicedatum in voor de regel voor opbrengsterkenning",
    "Error de validación comercial: Introduce una fecha de servicio para el elemento de pedido de reconocimiento de "
    "ingresos",
    "Line Item or Invoice Amount modifications on HubSpot native invoices cannot be made via external applications. "
    "Please make any necessary changes directly in HubSpot",
    "Duplicate Document Number Error : Je moet een ander nummer opgeven. Dit nummer is al gebruikt",
    "Error de número de documento duplicado : Debe especificar un número diferente. Este número ya ha sido utilizado",
]


def corpus(n: int) -> list[str]:
    base = list(HEADINGS)
    base += [f"Validation Exception was thrown. Details: {h}" for h in HEADINGS]
    for i in range(20):
        base.append(json.dumps({"Fault": {"Error": [{
            "Message": "Duplicate Document Number Error",
            "Detail": f"Duplicate Document Number Error : You must specify a different number. This number has "
                      f"already been used. DocNumber=INV-{1000 + i} is assigned to TxnType=Invoice with TxnId={140 + i}",
            "code": "6140", "element": ""}], "type": "ValidationFault"}, "time": "2026-11-22T10:00:00.000-08:00"}))
        base.append(f"QB Exception 6240: Duplicate Name Exists Error : The name supplied already exists. : Id={50 + i}")
    base.append('{"fault":{"error":[{"message":"message=AuthenticationFailed; errorCode=003200; statusCode=401",'
                '"code":"3200"}],"type":"AUTHENTICATION"}}')
    base.append('{"Fault":{"Error":[{"Message":"Erreur de numéro de document en double","Detail":"x","code":"6140"}]}}')
    base += ["The display name is fine", "Account Period Closed, Cannot update transactions in a closed period",
             "Invalid Reference Id : Line.SalesItemLineDetail.ItemRef", "ThrottleExceeded"]
    return [base[i % len(base)] + ("" if i < len(base) else f" #{i}") for i in range(n)]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 10_000
    texts = corpus(n)
    classify(texts[0])  # build the index outside the timing
    start = time.perf_counter()
    rules = [classify(t).rule for t in texts]
    elapsed = time.perf_counter() - start
    print(f"classified {n} texts in {elapsed * 1000:.0f} ms: {n / elapsed:,.0f} texts/s "
          f"({len(set(rules))} distinct rules)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
