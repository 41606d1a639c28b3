"""Links to the records an alert is about, in HubSpot and in QuickBooks Online (issue 12).

URL formats (../shared/knowledge/apis.md, with its sources):
- HubSpot: https://{uiDomain}/contacts/{portalId}/record/{objectTypeId}/{id}; invoices are
  0-53, contacts 0-1, companies 0-2. The portal id and the app's domain (EU portals use
  app-eu1.hubspot.com) come from GET /account-info/v3/details, which answers portalId and
  uiDomain (https://developers.hubspot.com/docs/api-reference/latest/account/account-information/guide.md).
- QuickBooks Online: https://app.qbo.intuit.com/app/invoice?txnId={id}, /app/creditmemo?txnId=,
  /app/customerdetail?nameId={id}; sandbox companies live on app.sandbox.qbo.intuit.com.

URLs are built only from ids qbsync read from the APIs, each percent-quoted, never taken from
a record's text. When the portal cannot be read, HubSpot links are left out (and asked for
again later) rather than guessed.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Callable
from urllib.parse import quote

log = logging.getLogger(__name__)

HUBSPOT_TYPES = {"invoice": "0-53", "contact": "0-1", "company": "0-2"}
QBO_PATHS = {"invoice": "invoice?txnId=", "creditmemo": "creditmemo?txnId=", "customer": "customerdetail?nameId="}
QBO_HOSTS = {"production": "app.qbo.intuit.com", "sandbox": "app.sandbox.qbo.intuit.com"}
DEFAULT_UI_DOMAIN = "app.hubspot.com"
RETRY_S = 600.0  # account details unreadable: try again after this long, not on every message
_DOMAIN = re.compile(r"^app(-[a-z0-9]+)?\.hubspot(qa)?\.com$")


def _id(value: object) -> str | None:
    text = str(value or "").strip()
    return quote(text, safe="") if text else None


class RecordLinks:
    """`account`: a callable returning {"portal_id", "ui_domain"} (HubSpotAdapter.account_details),
    called once and remembered. `qbo_environment`: "production", "sandbox", or the URL of a
    discovery document (qbsync's local sandbox): anything but production links the sandbox host."""

    def __init__(self, account: Callable[[], dict] | None, qbo_environment: str, *, clock=time.monotonic):
        self._account = account
        self._qbo_host = QBO_HOSTS["production" if qbo_environment == "production" else "sandbox"]
        self._portal: tuple[str, str] | None = None
        self._failed_at: float | None = None
        self._clock = clock

    def _hubspot_base(self) -> tuple[str, str] | None:
        if self._portal is not None or self._account is None:
            return self._portal
        if self._failed_at is not None and self._clock() - self._failed_at < RETRY_S:
            return None
        try:
            info = self._account() or {}
        except Exception as exc:  # noqa: BLE001 - links are a nicety: a message goes out without them
            log.warning("cannot read the HubSpot account for record links: %s", exc)
            self._failed_at = self._clock()
            return None
        portal = str(info.get("portal_id") or "")
        domain = str(info.get("ui_domain") or DEFAULT_UI_DOMAIN)
        if not portal.isdigit():
            self._failed_at = self._clock()
            return None
        self._portal = (portal, domain if _DOMAIN.match(domain) else DEFAULT_UI_DOMAIN)
        return self._portal

    def hubspot(self, kind: str, record_id: object) -> str | None:
        base, rid = self._hubspot_base(), _id(record_id)
        if base is None or rid is None or kind not in HUBSPOT_TYPES:
            return None
        portal, domain = base
        return f"https://{domain}/contacts/{portal}/record/{HUBSPOT_TYPES[kind]}/{rid}"

    def qbo(self, kind: str, record_id: object) -> str | None:
        rid = _id(record_id)
        if rid is None or kind not in QBO_PATHS:
            return None
        return f"https://{self._qbo_host}/app/{QBO_PATHS[kind]}{rid}"

    def invoice_links(self, alert: dict, lang: str) -> list[tuple[str, str]]:
        """(label, url) for a parent: the invoice, its contact and company in HubSpot."""
        from .slack.texts import t

        inv = alert["evidence"].get("invoice", {})
        out = []
        for kind, rid, name in (("invoice", alert["invoice_id"], alert["invoice_number"] or alert["invoice_id"]),
                                ("contact", inv.get("contact_id"), inv.get("contact_name")),
                                ("company", inv.get("company_id"), inv.get("company_name"))):
            url = self.hubspot(kind, rid)
            if url and name:
                out.append((t(lang, "in_hubspot", name=name), url))
        return out
