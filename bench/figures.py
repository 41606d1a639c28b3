"""Figures both benchmarks compute the same way (bench/__main__.py, bench/companies.py)."""
from __future__ import annotations

from .bounds import is_overhead


def calls(snapshot: dict) -> dict:
    """HubSpot/QBO requests from a log snapshot: totals, overhead, per endpoint."""
    out: dict = {"hubspot": 0, "qbo": 0, "overhead": 0, "endpoints": {}}
    for service in ("hubspot", "qbo"):
        for endpoint, n in snapshot.get(service, {}).items():
            out[service] += n
            out["endpoints"][f"{service} {endpoint}"] = n
            if is_overhead(service, endpoint):
                out["overhead"] += n
    out["total"] = out["hubspot"] + out["qbo"]
    return out


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))  # nearest rank
    return values[k]
