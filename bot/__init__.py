"""qbsync: finds HubSpot invoices that failed to sync to QuickBooks Online and helps fix them from Slack."""
__version__ = "0.1.0"
