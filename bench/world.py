"""The benchmark's world, in a process of its own: `python -m bench.world --invoices N`.

It builds the whole sandbox (HubSpot, QBO and Slack stand-ins with their REAL rate limits,
the simulated integration), loads `sandbox.generate.generate(N, failure_rate=...)`, and then
answers a control channel: one JSON command per line on stdin, one JSON answer per line on
stdout ({"ok": true, ...} or {"ok": false, "error": ...}). Why a separate process: a
50,000-invoice sandbox holds ~700 MB, and the benchmark's peak RSS must be the bot's own.

Commands (`{"cmd": NAME, ...args}`), see `World.cmd_*`:
    env              settings (env var -> value) that point qbsync at the stand-ins
    log_reset        zero the request log;  log_snapshot: {service: {endpoint: count}} + statuses
    age              move QBO's change log (and nothing else) `seconds` into the past
    bound_inputs     distinct record counts the lower bound is computed from (bench/bounds.py)
    change_pct       update `pct` % of the open/paid invoices in HubSpot (due date moves)
    new_failures     K new HubSpot-native open invoices that fail as missing-customer, then
                     one integration pass (so they have failed before the bot looks)
    slack_stats      posts / parents / 1-second windows / 429s of the Slack stand-in
    find_numbers     which invoice numbers appear anywhere in a channel (parents and threads)
    first_post_with  when the first message naming an invoice number was posted
    alerts_ts        parent messages in the alert channel that carry a given button
    click            a person clicks a button over signed HTTP (bench/bulk_fix.py); the ack time,
                     and optionally the time until an ephemeral message with buttons reaches them
    edits            a message's chat.update history (count, times) and what it shows now
    customers_with   how many QBO customers hold each of these emails
    add_users        Slack users for the ack load, members of the alert channel
    ack_load         signed HTTP slash commands / button clicks from U concurrent users
    quit
Everything else (stdout prints of libraries) goes to stderr: stdout carries only answers.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sandbox.app import Sandbox
from sandbox.hubspot import pushed_by_integration, source_value
from sandbox.generate import generate
from sandbox.slack_workspace import ALERT_CHANNEL

SYNCABLE = ("open", "paid")


def _parent(m) -> bool:
    return m.thread_ts is None or m.thread_ts == m.ts


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most events in any half-open window [t, t + window) (a window starting at an event
    is enough: moving it right until it touches the next event only loses events)."""
    times = sorted(times)
    best, end = 0, 0
    for i, t in enumerate(times):
        end = max(end, i)
        while end < len(times) and times[end] < t + window:
            end += 1
        best = max(best, end - i)
    return best


def bound_inputs(portal, qbo, ids=None) -> dict:
    """The lower bound's inputs (bench/bounds.py) for one company (a HubSpot portal and its QBO
    company): distinct counts over its open/paid invoices, or over `ids`."""
    with portal.lock:
        invoices = portal.peek("invoices")
        if ids is None:
            ids = [i for i, r in invoices.items()
                   if r["properties"].get("hs_invoice_status") in SYNCABLE and not r.get("archived")]
        contacts, companies, lines = set(), set(), set()
        for i in ids:
            contacts.update(portal.associated("invoices", i, "contacts"))
            companies.update(portal.associated("invoices", i, "companies"))
            lines.update(portal.associated("invoices", i, "line_items"))
        native = sum(1 for i in ids if pushed_by_integration(invoices[i]["properties"]))
        links = sum(len(portal.associated("invoices", i, "line_items")) for i in ids)
    with qbo.lock:
        q = {e: len(qbo.entities.get(e, {})) for e in ("Invoice", "CreditMemo", "Customer", "Vendor", "Employee")}
    return {"invoices": len(ids), "native": native, "contacts": len(contacts), "companies": len(companies),
            "line_items": len(lines), "line_item_links": links, "qbo": q}


class World:
    def __init__(self, args):
        kw = {}
        if args.hubspot_limit_per_10s:
            kw["hubspot_limit_per_10s"] = args.hubspot_limit_per_10s
        if args.hubspot_searches_per_s:
            kw["hubspot_searches_per_s"] = args.hubspot_searches_per_s
        if args.qbo_per_second:
            kw["qbo_per_second"] = args.qbo_per_second
        if args.qbo_per_minute:
            kw["qbo_per_minute"] = args.qbo_per_minute
        self.sb = Sandbox(slack_post_rate_per_s=args.slack_rate, slack_post_burst=args.slack_burst, **kw).start()
        t0 = time.monotonic()
        self.data = generate(args.invoices, failure_rate=args.failure_rate, seed=args.seed)
        self.sb.load(self.data, validate=False)
        self.load_s = time.monotonic() - t0
        self.data = None  # the models hold it now; the dict copy is ~half the memory
        self._serial = 0

    # -- plumbing -----------------------------------------------------------------------------
    def cmd_env(self, a):
        return {"env": self.sb.bot_environment(), "load_s": round(self.load_s, 2)}

    def cmd_log_reset(self, a):
        self.sb.log.reset()
        return {}

    def cmd_log_snapshot(self, a):
        log = self.sb.log
        statuses = {s: {str(code): log.count_status(s, code) for code in (200, 400, 401, 429, 500)}
                    for s in ("hubspot", "qbo", "slack")}
        return {"snapshot": log.snapshot(), "statuses": statuses}

    def cmd_age(self, a):
        """A world that has been around: its QBO records last changed `seconds` ago, not inside
        the CDC overlap of the first steady cycle (as tests/poller's fixture does)."""
        seconds = float(a.get("seconds", 600))
        qbo = self.sb.qbo
        with qbo.lock:
            qbo.change_log = [(e, i, t - seconds, d) for e, i, t, d in qbo.change_log]
        return {}

    # -- the lower bound's inputs ------------------------------------------------------------
    def cmd_bound_inputs(self, a):
        """Distinct counts over the open/paid invoices (all of them, or `ids`)."""
        return bound_inputs(self.sb.portal, self.sb.qbo, a.get("ids"))

    # -- changes ------------------------------------------------------------------------------
    def cmd_change_pct(self, a):
        """`pct` % of the open/paid invoices get a new due date (nothing about the sync): every
        (100/pct)-th invoice by id, as tests/poller does."""
        pct = float(a.get("pct", 1.0))
        portal = self.sb.portal
        with portal.lock:
            ids = sorted(i for i, r in portal.peek("invoices").items()
                         if r["properties"].get("hs_invoice_status") in SYNCABLE)
        step = max(1, round(100 / pct))
        changed = ids[::step]
        for i in changed:
            portal.update("invoices", i, {"hs_due_date": "2026-12-15"})
        return {"ids": changed}

    def cmd_new_failures(self, a):
        """K invoices that fail deterministically as missing-customer: each has a new contact
        (left out of contact sync, so the integration cannot create a QBO customer) of a new
        company on a new domain (so no QBO customer holds the name and none is a likely match:
        the rules ask HubSpot nothing more). Created `age_minutes` ago (past the bot's grace
        period) but modified now (so the bot's incremental search sees them). Then one
        integration pass: they have failed in HubSpot before this answers. `no_email`: their
        contacts have no email (the rule offers no fix for those: a person must add one)."""
        k = int(a["count"])
        no_email = bool(a.get("no_email"))
        age = float(a.get("age_minutes", 30))
        portal, integ, clock = self.sb.portal, self.sb.integration, self.sb.clock
        created = clock.now() - timedelta(minutes=age)
        numbers, ids, emails = [], [], []
        with integ._lock, portal.lock:
            for _ in range(k):
                self._serial += 1
                s = self._serial
                tag = f"{os.getpid() % 1000:03d}{s:06d}"
                company = portal.create("companies", {"name": f"Storm Trading {tag} BV", "domain": f"storm{tag}.example"})
                email = "" if no_email else f"buyer{tag}@storm{tag}.example"
                contact = portal.create("contacts", {"email": email, "firstname": "Storm",
                                                     "lastname": f"Buyer {tag}", "company": company["properties"]["name"],
                                                     "associatedcompanyid": company["id"]})
                portal.associate("contacts", contact["id"], "companies", company["id"])
                line = portal.create("line_items", {"name": "Consulting", "quantity": "2", "price": "150",
                                                    "amount": "300"})
                number = f"STORM-{tag}"
                inv = portal.create("invoices", {
                    "hs_number": number, "hs_invoice_status": "open", "hs_currency": "USD",
                    "hs_amount_billed": "300", "hs_balance_due": "300", "hs_invoice_source": source_value("native"),
                    "hs_invoice_date": "2026-11-02", "hs_due_date": "2026-12-02"},
                    created_at=created, modified_at=clock.now())
                portal.associate("invoices", inv["id"], "contacts", contact["id"])
                portal.associate("invoices", inv["id"], "companies", company["id"])
                portal.associate("invoices", inv["id"], "line_items", line["id"])
                integ.contact_sync_exclude.add(contact["id"])
                numbers.append(number)
                ids.append(inv["id"])
                emails.append(email)
        report = integ.run_once()
        failed = set(report.failed)
        causes = {integ.failures[i].cause for i in ids if i in integ.failures}
        return {"numbers": numbers, "ids": ids, "emails": emails, "failed": sum(1 for i in ids if i in failed),
                "causes": sorted(causes), "failed_at": time.time()}

    # -- Slack --------------------------------------------------------------------------------
    def _messages(self, channel):
        ws = self.sb.slack.workspace
        with ws.lock:
            return [m for m in ws.messages.get(channel, []) if not m.deleted]

    def cmd_slack_stats(self, a):
        """Posts the bot made with chat.postMessage, per channel, from the stand-in's own
        records (posted_at: the stand-in's clock when it accepted the post); `since` limits
        the counts to posts accepted at or after that time."""
        since = float(a.get("since") or 0)
        ws = self.sb.slack.workspace
        out = {}
        with ws.lock:
            channels = list(ws.messages)
        for ch in channels:
            msgs = [m for m in self._messages(ch) if m.via == "chat.postMessage" and m.posted_at >= since]
            if not msgs:
                continue
            times = [m.posted_at for m in msgs]
            gaps = [b - x for x, b in zip(sorted(times), sorted(times)[1:])]
            out[ch] = {"posts": len(msgs), "parents": sum(1 for m in msgs if _parent(m)),
                       "max_posts_in_1s": max_in_window(times, 1.0),
                       "max_posts_in_10s": max_in_window(times, 10.0),
                       "min_gap_s": round(min(gaps), 4) if gaps else None,
                       "first_at": min(times), "last_at": max(times)}
        service = self.sb.slack.service
        return {"channels": out, "rate_limited": service.rate_limited,
                "post_calls": sum(1 for m, _ in list(service.calls) if m == "chat.postMessage")}

    def cmd_find_numbers(self, a):
        channel = a.get("channel", ALERT_CHANNEL)
        wanted = set(a["numbers"])
        found = set()
        for m in self._messages(channel):
            text = m.visible_text() + "\n" + (m.text or "")
            for n in wanted - found:
                if n in text:
                    found.add(n)
        return {"found": sorted(found), "missing": sorted(wanted - found)}

    def cmd_first_post_with(self, a):
        channel = a.get("channel", ALERT_CHANNEL)
        hits = [m.posted_at for m in self._messages(channel)
                if _parent(m) and (a["number"] in (m.text or "") or a["number"] in m.visible_text())]
        return {"at": min(hits) if hits else None}

    def cmd_alerts_ts(self, a):
        channel = a.get("channel", ALERT_CHANNEL)
        from sandbox.slack_blocks import iter_elements
        out = []
        for m in self._messages(channel):
            if _parent(m) and any(el.get("action_id") == a["action_id"] for _, el in iter_elements(m.blocks or [])):
                out.append(m.ts)
        return {"ts": out}

    def cmd_add_users(self, a):
        ws = self.sb.slack.workspace
        ids = []
        for i in range(int(a["count"])):
            uid = f"U0BENCH{i:03d}"
            ws.add_user(uid, f"bench{i}", real_name=f"Bench User {i}", email=f"bench{i}@example.com")
            ws.join(ALERT_CHANNEL, uid)
            ids.append(uid)
        return {"users": ids}

    def cmd_ack_load(self, a):
        """`users` people at once, each sending `per_user` deliveries in turn over signed HTTP
        to `url`: slash commands (/qbsync status, list, help) and button clicks (acknowledge,
        else snooze, else re-check, on the alert parents `ts`). Times are the driver's: from
        sending the request to the HTTP answer (the ack), on this process's clock."""
        from bot.slack.messages import ACTION_ACK, ACTION_RECHECK, ACTION_SNOOZE

        driver = self.sb.slack.driver
        driver.use_http(a["url"])
        users, per_user, parents = a["users"], int(a["per_user"]), list(a.get("ts") or [])
        commands = ["status", "list", "help"]
        lock = threading.Lock()
        samples: list[dict] = []
        start = threading.Barrier(len(users))

        def person(n: int, uid: str):
            start.wait()
            for k in range(per_user):
                kind = "slash" if (k + n) % 2 == 0 or not parents else "click"
                d = None
                try:
                    if kind == "slash":
                        what = commands[(k + n) % len(commands)]
                        d = driver.slash(uid, "/qbsync", what)
                    else:
                        ts = parents[(n * per_user + k) % len(parents)]
                        for action in (ACTION_ACK, ACTION_SNOOZE, ACTION_RECHECK):
                            try:
                                d = driver.click(uid, ALERT_CHANNEL, ts, action)
                                what = action.rsplit(":", 1)[-1]
                                break
                            except LookupError:
                                continue
                        if d is None:
                            kind, what = "slash", "help"
                            d = driver.slash(uid, "/qbsync", what)
                    rec = {"kind": kind, "what": what, "ms": d.elapsed_s * 1000, "status": d.status}
                except Exception as exc:  # a broken delivery is a data point, not a crash
                    rec = {"kind": kind, "what": "error", "ms": None, "status": None, "error": repr(exc)}
                with lock:
                    samples.append(rec)

        with ThreadPoolExecutor(max_workers=len(users)) as pool:
            for f in [pool.submit(person, n, u) for n, u in enumerate(users)]:
                f.result()
        return {"samples": samples}

    def cmd_click(self, a):
        """`user` clicks `action_id` on message `ts` (a channel message or one of their ephemeral
        messages) over signed HTTP to `url`. `ack_ms`: sending the request to the HTTP answer.
        With `wait_buttons`, also waits (up to that many seconds) for a NEW ephemeral message
        with buttons to reach the person: `buttons_ms` from sending the click, and its `ts`."""
        driver = self.sb.slack.driver
        driver.use_http(a["url"])
        channel, user = a.get("channel", ALERT_CHANNEL), a["user"]
        before = {e.ts for e in driver.ephemerals(user)}
        t0 = time.monotonic()
        d = driver.click(user, channel, a["ts"], a["action_id"])
        out = {"ack_ms": round(d.elapsed_s * 1000, 1), "status": d.status, "acked": d.acked}
        wait = float(a.get("wait_buttons") or 0)
        if wait:
            def fresh():
                return next((e for e in driver.ephemerals(user) if e.ts not in before
                             and any(b.get("type") == "actions" for b in (e.blocks or []))), None)
            try:
                shown = driver.wait_for(fresh, timeout=wait, interval=0.01)
            except Exception:
                shown = None
            out["buttons_ms"] = round((time.monotonic() - t0) * 1000, 1) if shown else None
            out["ts"] = shown.ts if shown else None
            out["text"] = "\n".join(b["text"]["text"] for b in (shown.blocks or [])
                                    if b.get("type") == "section" and "text" in b) if shown else None
        return out

    def cmd_edits(self, a):
        """Message `ts`: how often chat.update changed it, when (the stand-in's clock), and the
        text it shows now."""
        channel = a.get("channel", ALERT_CHANNEL)
        m = self.sb.slack.workspace.find_message(channel, a["ts"])
        if m is None:
            return {"found": False}
        service = self.sb.slack.service
        updates = sum(1 for meth, args in list(service.calls) if meth == "chat.update" and args.get("ts") == a["ts"])
        return {"found": True, "updates": updates, "edit_at": [e.at for e in m.edits if e.by == "chat.update"],
                "posted_at": m.posted_at, "text": m.visible_text()}

    def cmd_customers_with(self, a):
        qbo = self.sb.qbo
        with qbo.lock:
            held: dict[str, int] = {}
            for c in qbo.entities.get("Customer", {}).values():
                address = ((c.get("PrimaryEmailAddr") or {}).get("Address") or "").lower()
                held[address] = held.get(address, 0) + 1
        return {"counts": {e: held.get(e.lower(), 0) for e in a["emails"]}}

    def cmd_quit(self, a):
        return {}


def serve(world: World, inp, out) -> None:
    out.write(json.dumps({"ok": True, "ready": True, "load_s": round(world.load_s, 2)}) + "\n")
    out.flush()
    for line in inp:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            fn = getattr(world, "cmd_" + req["cmd"])
            answer = {"ok": True, **fn(req)}
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer, default=str) + "\n")
        out.flush()
        if line and json.loads(line).get("cmd") == "quit":
            break


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.world", description=__doc__.split("\n\n")[0])
    ap.add_argument("--invoices", type=int, required=True)
    ap.add_argument("--failure-rate", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--slack-rate", type=float, default=1.0, help="Slack posts per second per channel")
    ap.add_argument("--slack-burst", type=int, default=4)
    ap.add_argument("--hubspot-limit-per-10s", type=int, default=0, help="0: the sandbox's default")
    ap.add_argument("--hubspot-searches-per-s", type=int, default=0, help="0: the sandbox's default")
    ap.add_argument("--qbo-per-second", type=int, default=0, help="0: the sandbox's default (10)")
    ap.add_argument("--qbo-per-minute", type=int, default=0, help="0: the sandbox's default (500)")
    args = ap.parse_args(argv)
    # The control channel is the real stdout; anything else printing goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    world = World(args)
    try:
        serve(world, sys.stdin, out)
    finally:
        world.sb.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
