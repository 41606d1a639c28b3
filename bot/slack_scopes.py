"""The permissions qbsync asks for, in one place.

manifest.yml must list exactly BOT_SCOPES (a test checks it) and `qbsync doctor` compares
them with what the installed tokens were granted. Add a scope only together with the
code that needs it, and say why next to it.
"""
from __future__ import annotations

# Slack bot token scopes.
BOT_SCOPES: tuple[str, ...] = (
    "chat:write",       # post alerts, update them in place (chat.update), ephemeral replies
    "commands",         # the /qbsync slash command
    "users:read",       # users.info: the clicking user's locale picks the alert language
    "usergroups:read",  # usergroups.users.list: fix permission granted to a user group (S...)
    # conversations.history of the alert channel, read only after a crash that may have
    # come between Slack accepting an alert and qbsync saving its ts (bot/alerts.py): the
    # parent is found there instead of being posted twice. channels:history covers a public
    # alert channel, groups:history a private one.
    "channels:history",
    "groups:history",
    # /qbsync export: the CSV is shared only with the person who asked, as a file in their DM
    # with the bot (conversations.open, then files_upload_v2: files.getUploadURLExternal and
    # files.completeUploadExternal, both files:write).
    "im:write",
    "files:write",
)
# Not needed: views.publish (App Home tab) and views.open (modals) take no scope, and
# app_home_opened needs none. Posting needs the bot to be a member of the alert channel
# (invite it) rather than chat:write.public.

# HubSpot private-app scopes (names as in HubSpot's OpenAPI specs, ../shared/specs/hubspot).
HUBSPOT_SCOPES: tuple[str, ...] = (
    "crm.objects.invoices.read",    # list/search/batch-read invoices and their associations
    "crm.objects.invoices.write",   # fix: point an invoice at another contact (associations v4)
    "crm.objects.contacts.read",    # the invoice's contact: email and name
    "crm.objects.companies.read",   # the contact's company: the name the integration uses
    "crm.objects.line_items.read",  # line items: amounts to compare with QBO
)
# HubSpot's spec also accepts the older "e-commerce" scope for line items.
HUBSPOT_SCOPE_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "crm.objects.line_items.read": ("e-commerce",),
}

# QuickBooks Online OAuth scope (intuit-oauth's Scopes.ACCOUNTING).
QBO_SCOPES: tuple[str, ...] = ("com.intuit.quickbooks.accounting",)


def missing_scopes(required: tuple[str, ...], granted: set[str] | frozenset[str],
                   alternatives: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """Required scopes not covered by `granted` (an alternative scope counts as cover)."""
    alternatives = alternatives or {}
    return [s for s in required
            if s not in granted and not any(a in granted for a in alternatives.get(s, ()))]
