"""Versioned schema migrations for qbsync's SQLite store.

Each migration is SQL that runs once, in order, inside one transaction together with the
row that records it in `schema_migrations`, so a crash mid-migration leaves the old version
intact. Add a migration by appending to MIGRATIONS; never edit one that has shipped.
"""
from __future__ import annotations

Migration = tuple[int, str, str]

_V1_INITIAL = """
        -- One row per (HubSpot invoice, rule): the key that keeps alerts from duplicating.
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,              -- '<hubspot invoice id>:<rule id>' or a group key
            invoice_id TEXT,                       -- HubSpot invoice id (NULL for grouped alerts)
            invoice_number TEXT,
            rule TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open','acknowledged','fixing','resolved','snoozed')),
            channel TEXT,                          -- Slack channel of the parent message
            ts TEXT,                               -- Slack ts of the parent message (thread root)
            summary TEXT NOT NULL DEFAULT '',
            evidence TEXT NOT NULL DEFAULT '{}',   -- JSON
            fingerprint TEXT NOT NULL DEFAULT '',  -- hash of the evidence: edit the parent only when it changes
            acknowledged_by TEXT,
            snoozed_until REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            last_seen_at REAL NOT NULL,
            resolved_at REAL,
            resolution TEXT,
            version INTEGER NOT NULL DEFAULT 1     -- optimistic concurrency for state changes
        );
        CREATE INDEX alerts_state ON alerts(state);
        CREATE INDEX alerts_invoice ON alerts(invoice_id);
        CREATE INDEX alerts_rule ON alerts(rule);

        -- Every action a person or the bot takes, with its outcome. Append-only.
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            actor TEXT NOT NULL,                   -- Slack user id, or 'system'
            action TEXT NOT NULL,                  -- e.g. 'fix:create-customer', 'snooze', 'poll'
            target TEXT NOT NULL DEFAULT '',       -- alert key, invoice, rule
            outcome TEXT NOT NULL
                CHECK (outcome IN ('ok','failed','refused','noop','started')),
            detail TEXT NOT NULL DEFAULT '{}'      -- JSON
        );
        CREATE INDEX audit_target ON audit_log(target);

        -- Claimed idempotency keys: a double click or a retried delivery runs an action once.
        CREATE TABLE action_claims (
            key TEXT PRIMARY KEY,
            claimed_at REAL NOT NULL,
            actor TEXT NOT NULL,
            result TEXT                            -- JSON, filled when the action finishes
        );

        -- Where each poll left off (e.g. HubSpot hs_lastmodifieddate, QBO CDC changedSince).
        CREATE TABLE poll_cursors (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        );

        -- QBO OAuth token chain per company. The refresh token rotates: the new one is saved
        -- (durably) before the access token that came with it is used.
        CREATE TABLE qbo_tokens (
            realm_id TEXT PRIMARY KEY,
            access_token TEXT,
            access_expires_at REAL,
            refresh_token TEXT NOT NULL,
            refresh_expires_at REAL,
            seed_hash TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL
        );

        -- `/qbsync mute <rule>`: no new alerts for that rule until `until`.
        CREATE TABLE mutes (
            rule TEXT PRIMARY KEY,
            until REAL NOT NULL,
            muted_by TEXT NOT NULL,
            at REAL NOT NULL
        );

        -- `/qbsync snooze <invoice>`: that invoice's alerts stay quiet until `until`.
        CREATE TABLE snoozes (
            invoice TEXT PRIMARY KEY,              -- HubSpot invoice id
            until REAL NOT NULL,
            snoozed_by TEXT NOT NULL,
            at REAL NOT NULL
        );
"""

_V2_SLACK_PREFS = """
        -- `/qbsync lang en|nl|es`: the language a person chose for qbsync's answers to them
        -- (overrides their Slack locale).
        CREATE TABLE user_prefs (
            user_id TEXT PRIMARY KEY,              -- Slack user id
            lang TEXT CHECK (lang IN ('en','nl','es')),
            updated_at REAL NOT NULL
        );

        -- Alerts a person resolved (a fix whose re-check passed, or Resolve): the next scan that
        -- finds the invoice in QuickBooks says so in the thread, once.
        CREATE TABLE sync_watch (
            key TEXT PRIMARY KEY,                  -- alert key
            invoice_id TEXT NOT NULL,
            version INTEGER NOT NULL,              -- the alert's version when it was resolved
            by TEXT NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX sync_watch_invoice ON sync_watch(invoice_id);
"""

_V3_POLLER = """
        -- Local QBO mirror (bot/mirror.py): only what diagnosis reads. Keys are computed in
        -- Python (lower-cased email, case-folded name) because SQLite's lower() is ASCII-only.
        CREATE TABLE qbo_names (
            entity TEXT NOT NULL,                  -- Customer | Vendor | Employee
            id TEXT NOT NULL,
            display_name TEXT NOT NULL DEFAULT '',
            name_key TEXT NOT NULL DEFAULT '',     -- casefold(DisplayName)
            email TEXT NOT NULL DEFAULT '',
            email_key TEXT NOT NULL DEFAULT '',    -- lower(PrimaryEmailAddr.Address)
            email_domain TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            company_name TEXT NOT NULL DEFAULT '',
            company_key TEXT NOT NULL DEFAULT '',
            given_name TEXT NOT NULL DEFAULT '',
            family_name TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (entity, id)
        );
        CREATE INDEX qbo_names_email ON qbo_names(email_key);
        CREATE INDEX qbo_names_name ON qbo_names(name_key);
        CREATE INDEX qbo_names_company ON qbo_names(company_key);
        CREATE INDEX qbo_names_domain ON qbo_names(email_domain);

        CREATE TABLE qbo_docs (
            entity TEXT NOT NULL,                  -- Invoice | CreditMemo
            id TEXT NOT NULL,
            doc_number TEXT NOT NULL DEFAULT '',
            customer_ref TEXT NOT NULL DEFAULT '',
            txn_date TEXT NOT NULL DEFAULT '',
            total_amt TEXT NOT NULL DEFAULT '0',
            total_tax TEXT NOT NULL DEFAULT '0',
            lines TEXT NOT NULL DEFAULT '[]',      -- JSON: the sales lines the line comparison reads
            sync_token TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (entity, id)
        );
        CREATE INDEX qbo_docs_number ON qbo_docs(doc_number);
        CREATE INDEX qbo_docs_customer ON qbo_docs(customer_ref);

        CREATE TABLE qbo_prefs (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            body TEXT NOT NULL                     -- the Preferences object (JSON)
        );

        -- Hydrated HubSpot invoices (bot/poller.py), so unchanged ones are diagnosed again
        -- without reading HubSpot.
        CREATE TABLE hs_invoices (
            id TEXT PRIMARY KEY,
            body TEXT NOT NULL,                    -- JSON of bot.models.Invoice
            number TEXT NOT NULL DEFAULT '',
            email_key TEXT NOT NULL DEFAULT '',    -- the contact's email, lower-cased
            status TEXT NOT NULL DEFAULT '',
            native INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            modified_ms INTEGER NOT NULL,          -- hs_lastmodifieddate, epoch ms
            due INTEGER NOT NULL DEFAULT 0         -- 1: to diagnose in the next cycle that completes
        );
        CREATE INDEX hs_invoices_due ON hs_invoices(due);
        CREATE INDEX hs_invoices_number ON hs_invoices(number);
        CREATE INDEX hs_invoices_email ON hs_invoices(email_key);
        CREATE INDEX hs_invoices_created ON hs_invoices(created_at);
        -- Names an invoice's diagnosis looks up in QBO (integration name, contact, company).
        CREATE TABLE hs_invoice_names (
            invoice_id TEXT NOT NULL,
            name_key TEXT NOT NULL,
            PRIMARY KEY (invoice_id, name_key)
        );
        CREATE INDEX hs_invoice_names_key ON hs_invoice_names(name_key);

        -- HubSpot contacts found by email (diagnosis asks about a few emails per failing
        -- invoice); remembered so a steady cycle does not search again.
        CREATE TABLE hs_contact_lookups (
            email_key TEXT PRIMARY KEY,
            contacts TEXT NOT NULL,                -- JSON list of bot.models.Contact
            checked_at REAL NOT NULL
        );
"""

_V4_STORM_AND_SCHEDULER = """
        -- Storm grouping (bot/alerts.py): when many failures appear at once, one parent per
        -- rule lists them in its thread instead of one parent each. A member alert points at
        -- its group's alert key; `listed` = its invoice was named in the group's thread.
        ALTER TABLE alerts ADD COLUMN group_key TEXT;
        ALTER TABLE alerts ADD COLUMN listed INTEGER NOT NULL DEFAULT 0;
        -- When the post of the parent began (set before chat.postMessage, cleared by the ts).
        -- A row with this set and no ts may have reached Slack before a crash: the channel's
        -- history is searched for it (message metadata carries the alert key) before posting.
        ALTER TABLE alerts ADD COLUMN post_started_at REAL;
        CREATE INDEX alerts_group ON alerts(group_key);

        -- APScheduler's job state (bot/jobstore.py): one row per job, the pickled job state and
        -- its next run time, so a restart keeps the schedule instead of starting it afresh.
        CREATE TABLE scheduler_jobs (
            id TEXT PRIMARY KEY,
            next_run_time REAL,                    -- epoch seconds; NULL: paused
            job_state BLOB NOT NULL
        );
        CREATE INDEX scheduler_jobs_next ON scheduler_jobs(next_run_time);
"""

_V5_HTTP_REPLAYS_NO_PICKLED_JOBS = """
        -- Signed HTTP requests from Slack already taken (bot/replay_ledger.py): a replay of one
        -- inside Slack's 5-minute signature window, or Slack's retry of it, runs once, across
        -- restarts too. Rows are pruned once their window has closed.
        CREATE TABLE slack_requests_seen (
            key TEXT PRIMARY KEY,                  -- sha256 of the raw body
            expires_at REAL NOT NULL               -- epoch seconds: the window closes
        );
        CREATE INDEX slack_requests_seen_expires ON slack_requests_seen(expires_at);

        -- The scheduler keeps its job in memory now (bot/runner.py); its first run comes from
        -- the cursor scan.last_finished_at. Pickled job rows are never read again.
        DROP TABLE IF EXISTS scheduler_jobs;
"""

_V6_PAIRS_AND_FIX_RUNS = """
        -- Each HubSpot invoice's QBO counterpart, remembered the first time it is seen synced
        -- (rules/facts.py): an invoice QBO numbered itself and that was then changed in QBO is
        -- still paired, so it is found as native-invoice-modified, not as missing.
        CREATE TABLE invoice_pairs (
            hubspot_id TEXT PRIMARY KEY,
            qbo_id TEXT NOT NULL,
            how TEXT NOT NULL,                     -- doc-number | customer-date-lines
            paired_at REAL NOT NULL
        );

        -- The latest fix run per alert (bot/fix_guard.py): a scan does not judge an invoice
        -- from data read while a fix on it was running or before it finished, and a run left
        -- unfinished by a crash is found and settled by a re-check.
        CREATE TABLE fix_runs (
            key TEXT PRIMARY KEY,                  -- alert key
            invoice_id TEXT NOT NULL,
            fix_id TEXT NOT NULL,
            by TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL                       -- NULL while running (or interrupted)
        );
        CREATE INDEX fix_runs_invoice ON fix_runs(invoice_id);
"""

_V7_CUSTOMER_CURRENCY = """
        -- A customer's currency (CurrencyRef) for currency-mismatch (rules/currency_mismatch.py).
        ALTER TABLE qbo_names ADD COLUMN currency TEXT NOT NULL DEFAULT '';
        -- Rows mirrored before this column have no currency: forget the CDC cursor, so the next
        -- poll reloads the mirror in full (upserts; nothing else is lost).
        DELETE FROM poll_cursors WHERE name = 'qbo.cdc_since';
"""

_V8_REMINDERS = """
        -- Reminders posted in alert threads (bot/alerts.py remind_unacknowledged): one row per
        -- reminder, so a restart neither repeats one before its time nor forgets one is due, and
        -- the daily cap counts the rows of the last 24 hours.
        CREATE TABLE reminders (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            ts TEXT NOT NULL,                      -- the thread (the invoice's parent message)
            alert_key TEXT NOT NULL,               -- the cause that stands for the thread
            at REAL NOT NULL                       -- epoch seconds: posted
        );
        CREATE INDEX reminders_thread ON reminders(channel, ts);
        CREATE INDEX reminders_at ON reminders(at);
"""

_V9_BULK_PLANS = """
        -- "Fix all N like this" on a storm group (handlers/bulk.py): the plan a person was shown
        -- (member alert keys with the version and evidence fingerprint each had), so Confirm
        -- applies exactly that; a plan expires, and only the first Confirm runs it.
        CREATE TABLE bulk_plans (
            id TEXT PRIMARY KEY,                   -- carried by the Confirm button
            group_key TEXT NOT NULL,               -- the storm group's alert key
            fix_id TEXT NOT NULL,                  -- the fix every planned member gets
            by TEXT NOT NULL,                      -- who asked for the plan
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            members TEXT NOT NULL,                 -- JSON [{key, version, fingerprint}]
            needs_person TEXT NOT NULL,            -- JSON [{key, number, why}] shown in the confirm
            confirmed_at REAL,                     -- NULL until the (first) Confirm
            confirmed_by TEXT,
            progress_ts TEXT                       -- the progress message in the group's thread
        );
"""

_V10_SLACK_INSTALLATIONS = """
        -- Slack workspaces installed through "Add to Slack" (bot/slack_oauth_store.py): the latest
        -- bot installation per workspace. enterprise_id is '' outside Enterprise Grid, not NULL,
        -- so the key holds on every database (NULLs never collide in a UNIQUE key).
        CREATE TABLE slack_installations (
            enterprise_id TEXT NOT NULL DEFAULT '',
            team_id TEXT NOT NULL,
            team_name TEXT NOT NULL DEFAULT '',
            app_id TEXT NOT NULL DEFAULT '',
            bot_token TEXT NOT NULL,               -- a secret: never logged, never shown
            bot_id TEXT NOT NULL DEFAULT '',
            bot_user_id TEXT NOT NULL DEFAULT '',
            bot_scopes TEXT NOT NULL DEFAULT '',   -- comma-separated
            installer_user_id TEXT NOT NULL DEFAULT '',
            is_enterprise_install INTEGER NOT NULL DEFAULT 0,
            installed_at REAL NOT NULL,            -- epoch seconds
            PRIMARY KEY (enterprise_id, team_id)
        );

        -- OAuth state values handed out with the install link: each works once, until it expires.
        CREATE TABLE slack_oauth_states (
            state TEXT PRIMARY KEY,
            expires_at REAL NOT NULL               -- epoch seconds
        );
"""

MIGRATIONS: list[Migration] = [
    (1, "initial schema", _V1_INITIAL),
    (2, "slack user language and sync watch", _V2_SLACK_PREFS),
    (3, "qbo mirror and hubspot invoice cache", _V3_POLLER),
    (4, "storm groups, post markers, scheduler jobs", _V4_STORM_AND_SCHEDULER),
    (5, "slack request replay ledger, no pickled scheduler jobs", _V5_HTTP_REPLAYS_NO_PICKLED_JOBS),
    (6, "invoice pairs and fix runs", _V6_PAIRS_AND_FIX_RUNS),
    (7, "customer currency in the qbo mirror", _V7_CUSTOMER_CURRENCY),
    (8, "alert reminders", _V8_REMINDERS),
    (9, "bulk fix plans", _V9_BULK_PLANS),
    (10, "slack installations and oauth states", _V10_SLACK_INSTALLATIONS),
]
