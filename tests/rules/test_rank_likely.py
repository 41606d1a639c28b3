"""rules/facts.py rank_likely over a SimilarCustomers index: the same ranking as scoring every
candidate, with each candidate normalised once per batch (not once per lost invoice)."""
import random
import unicodedata
from types import SimpleNamespace

from rules import facts
from rules.facts import SimilarCustomers, rank_likely
from rules.view import PUBLIC_DOMAINS, email_of


def _plain_ref(text):
    decomposed = unicodedata.normalize("NFKD", str(text))
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split()).casefold()


def _domain_ref(email):
    return email.rsplit("@", 1)[1].lower() if "@" in email else ""


def rank_reference(f, similar):
    """The comparison of every candidate (rank_likely before the index), kept as the oracle."""
    name = _plain_ref(f.contact.name)
    company = _plain_ref(f.invoice.company.name) if f.invoice.company and f.invoice.company.name else ""
    domain = _domain_ref(f.email)
    ranked = []
    for c in similar:
        if not c.get("Active", True):
            continue
        why, score = [], 0
        display = _plain_ref(str(c.get("DisplayName") or ""))
        given_family = _plain_ref(" ".join(p for p in (c.get("GivenName"), c.get("FamilyName")) if p))
        if name and name in (display, given_family):
            why.append("same name")
            score += 4
        if company and company in (display, _plain_ref(str(c.get("CompanyName") or ""))):
            why.append("same company")
            score += 2
        if domain and domain not in PUBLIC_DOMAINS and _domain_ref(email_of(c)) == domain:
            why.append("same email domain")
            score += 1
        if score:
            ranked.append((-score, str(c["Id"]).zfill(12), {
                "id": str(c["Id"]), "name": c.get("DisplayName", ""), "email": email_of(c), "why": why}))
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [r[2] for r in ranked[:5]]


NAMES = ["Café Noël", "CAFE  NOEL", "Ann Lee", "ann lee", "Bob Stone", "", "Zoë Ade", "Acme Ltd", "ACME LTD"]
DOMAINS = ["acme.test", "ACME.test", "gmail.com", "noel.test", ""]


def _facts(rng):
    company = rng.choice(NAMES)
    domain = rng.choice(DOMAINS)
    return SimpleNamespace(contact=SimpleNamespace(name=rng.choice(NAMES)),
                           invoice=SimpleNamespace(company=SimpleNamespace(name=company) if company else None),
                           email=f"x@{domain}" if domain else "")


def _customer(rng, i):
    given, family = rng.choice([(None, None), ("Ann", "Lee"), ("Zoe", "Ade"), ("Café", "Noël")])
    domain = rng.choice(DOMAINS)
    return {"Id": str(rng.randint(1, 60)) if i % 7 == 0 else str(i), "DisplayName": rng.choice(NAMES),
            "GivenName": given, "FamilyName": family, "CompanyName": rng.choice(NAMES),
            "Active": rng.random() > 0.2,
            **({"PrimaryEmailAddr": {"Address": f"y@{domain}"}} if domain else {})}


def test_the_index_ranks_as_the_full_comparison():
    rng = random.Random(12)
    for _ in range(40):
        similar = [_customer(rng, i) for i in range(rng.randint(0, 40))]
        index = SimilarCustomers(similar)
        for _ in range(25):
            f = _facts(rng)
            assert rank_likely(f, index) == rank_reference(f, similar)
            assert rank_likely(f, similar) == rank_reference(f, similar)  # plain records still work


def test_each_candidate_is_normalised_once_per_batch(monkeypatch):
    calls = []
    real = facts._plain
    monkeypatch.setattr(facts, "_plain", lambda text: calls.append(1) or real(text))
    rng = random.Random(5)
    similar = [_customer(rng, i) for i in range(400)]
    lost = [_facts(rng) for _ in range(400)]
    index = SimilarCustomers(similar)
    for f in lost:
        rank_likely(f, index)
    # 3 per candidate (display, given+family, company) + 2 per invoice (name, company);
    # comparing each invoice with each candidate took 2-3 per pair (over 300,000 here).
    assert len(calls) <= 3 * len(similar) + 2 * len(lost)
