"""The dialect seam under the store: one small `Database` over either a sqlite3 connection
(the embedded default, a file at QBSYNC_DB_PATH) or a psycopg 3 connection to PostgreSQL
(QBSYNC_DATABASE_URL=postgresql://...). Not an ORM: our SQL is written once, in the subset
both databases speak, with `?` placeholders; this module only

- translates `?` to psycopg's `%s` (outside string literals and quoted names, and doubling
  a literal `%`, which psycopg would otherwise read as a placeholder),
- runs `transaction()` with the same all-or-nothing, one-writer-at-a-time meaning on both,
- raises one `IntegrityError` for a broken UNIQUE/PRIMARY KEY/CHECK on both,
- returns rows as dicts (`rows`), while `execute` keeps the driver's cursor (tuples,
  `rowcount`, `fetchone`) for the callers that read it.

Every statement holds `lock`, so a statement sent outside `transaction()` by another thread
never lands inside somebody else's transaction on the shared connection.
"""
from __future__ import annotations

import functools
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import sqlite_utils

SQLITE = "sqlite"
POSTGRESQL = "postgresql"

# Key of the transaction-level advisory lock every PostgreSQL write transaction takes (see
# Database.transaction). Any constant works; this one reads "qbsync" in ASCII.
_WRITE_LOCK_KEY = 0x71627379_6E63


# A connection's own store on PostgreSQL is a schema of this prefix + its id (bot/connections.py
# checks ids are [a-z0-9-]); the main store (the env-configured company, the connections list,
# Slack installations, Procrastinate's jobs) stays in the default search_path (`public`).
SCHEMA_PREFIX = "qbsync_c_"


def connection_schema(connection: str) -> str:
    """The PostgreSQL schema of a connection's store. Only [a-z0-9_] reach SQL: the id is
    checked here too, because it is spliced into DDL (identifiers cannot be parameters)."""
    name = SCHEMA_PREFIX + connection.replace("-", "_")
    if not connection or not all(c.isascii() and (c.isalnum() and not c.isupper() or c == "_") for c in name):
        raise ValueError(f"not a connection id: {connection!r}")
    return name


def connection_sqlite_path(main_path: str | Path, connection: str) -> str:
    """The SQLite file of a connection's store: beside the main file, in connections/."""
    connection_schema(connection)  # the same check: the id becomes a file name
    main = str(main_path)
    if main in (":memory:", ""):
        return ":memory:"
    return str(Path(main).parent / "connections" / f"{connection}.db")


def _write_lock_key(schema: str | None) -> int:
    """Writers of one store serialise on one advisory lock; each connection's schema has its
    own key, so scans of different companies never wait for each other's transactions."""
    if schema is None:
        return _WRITE_LOCK_KEY
    import hashlib

    return int.from_bytes(hashlib.sha256(schema.encode()).digest()[:7], "big")


class IntegrityError(Exception):
    """A constraint refused a write (duplicate key, CHECK), on SQLite and on PostgreSQL alike."""


class LockBusy(Exception):
    """Database.exclusive could not take its lock in time: another process holds it."""


# In-process locks of Database.exclusive for a ':memory:' SQLite database (one process only).
_MEMORY_LOCKS: dict[str, threading.Lock] = {}
_MEMORY_LOCKS_GUARD = threading.Lock()


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def describe(target: str | Path) -> str:
    """The store's location for people and logs: a PostgreSQL URL without its password."""
    text = str(target)
    if not is_postgres_url(text):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@functools.lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """`?` -> `%s` and `%` -> `%%`, leaving '...' literals' `?` and "..." names alone.

    psycopg 3 parses `%s`/`%%` in the whole query string when parameters are passed (it does
    not know SQL literals), so a `%` inside a literal must be doubled too; a `?` inside a
    literal is text and stays."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None  # a doubled '' closes and reopens: same result
            continue
        if ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    if quote is not None:
        raise ValueError("unterminated quote in SQL: " + sql[:80])
    return "".join(out)


def upsert_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """INSERT ... ON CONFLICT (key) DO UPDATE of every other column: what SQLite's `INSERT OR
    REPLACE` did for our tables (no triggers, no foreign keys), in the form both databases
    accept (SQLite has had upserts since 3.24: https://www.sqlite.org/lang_upsert.html;
    PostgreSQL since 9.5: https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT).
    Names come from our own code, never from data."""
    cols = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    rest = [c for c in columns if c not in key]
    action = ("DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in rest)) if rest else "DO NOTHING"
    return f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({', '.join(key)}) {action}"  # noqa: S608


class Database:
    """One connection (SQLite or PostgreSQL) behind a re-entrant lock."""

    def __init__(self, raw: Any, dialect: str, *, url: str | None = None, schema: str | None = None):
        self.raw = raw
        self.dialect = dialect
        self.lock = threading.RLock()
        self._url = url  # PostgreSQL: to connect again after the server dropped us
        self.schema = schema  # PostgreSQL: a connection's own schema (None: the main store)
        self._lock_key = _write_lock_key(schema)
        self._closed = False
        self._tx_open = False  # inside transaction(): never reconnect half-way
        self.path: str | None = None  # SQLite: the file (Database.exclusive's lock file sits beside it)
        if dialect == POSTGRESQL:
            import psycopg  # only needed when PostgreSQL is selected

            self._integrity_errors: tuple[type[BaseException], ...] = (psycopg.errors.IntegrityError,)
        else:
            self._integrity_errors = (sqlite3.IntegrityError,)

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, target: str | Path, *, synchronous: str = "FULL", schema: str | None = None) -> "Database":
        """A postgresql:// URL opens PostgreSQL; anything else is a SQLite file (or :memory:).
        `synchronous`: SQLite's PRAGMA synchronous for this connection (FULL or NORMAL).
        `schema` (PostgreSQL): every unqualified name resolves in that schema (created if
        absent), so a connection's store sees its own tables only."""
        if isinstance(target, str) and is_postgres_url(target):
            db = cls(_pg_connect(target, schema), POSTGRESQL, url=target, schema=schema)
            if schema is not None:
                # IF NOT EXISTS still races between two first starters (a unique violation in
                # the catalog), so the creation holds a lock of its own.
                with db.transaction():
                    db.raw.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            return db
        if sqlite3.sqlite_version_info < (3, 35):  # RETURNING, DROP COLUMN (see upsert_sql too)
            raise RuntimeError(f"qbsync needs SQLite 3.35 or newer; this Python has {sqlite3.sqlite_version}")
        path = str(target)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        if path != ":memory:":
            # readers don't block the writer; sqlite-utils (the design card's SQLite toolkit)
            # owns the SQLite-only set-up, the SQL itself is shared with PostgreSQL
            sqlite_utils.Database(conn).enable_wal()
        # a lost QBO refresh token means a person must re-connect the books
        conn.execute("PRAGMA synchronous=" + ("NORMAL" if synchronous == "NORMAL" else "FULL"))
        conn.execute("PRAGMA foreign_keys=ON")
        db = cls(conn, SQLITE)
        db.path = path
        return db

    @property
    def is_postgres(self) -> bool:
        return self.dialect == POSTGRESQL

    # -- statements ---------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return to_pyformat(sql) if self.is_postgres else sql

    def _reconnect_if_dropped(self) -> None:
        """PostgreSQL: a connection the server closed (restart, failover, idle timeout) is
        replaced before the next statement outside a transaction; the statement that met the
        drop has raised already (psycopg.OperationalError), so no write is silently lost or
        repeated. Inside a transaction nothing is replaced: that transaction is gone."""
        if self.is_postgres and self._url and not self._closed and not self._tx_open and self.raw.broken:
            self.raw = _pg_connect(self._url, self.schema)

    def execute(self, sql: str, params: Sequence[Any] | Iterable[Any] = ()) -> Any:
        """Run one statement with `?` placeholders; the driver's cursor (tuples) comes back."""
        with self.lock:
            self._reconnect_if_dropped()
            try:
                return self.raw.execute(self._sql(sql), tuple(params))
            except self._integrity_errors as exc:
                raise IntegrityError(str(exc)) from exc

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Any:
        with self.lock:
            try:
                if self.is_postgres:
                    cur = self.raw.cursor()
                    cur.executemany(self._sql(sql), [tuple(p) for p in seq])
                    return cur
                return self.raw.executemany(sql, seq)
            except self._integrity_errors as exc:
                raise IntegrityError(str(exc)) from exc

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.lock:
            cur = self.execute(sql, params)
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def run_script(self, sql: str) -> None:
        """Several `;`-separated statements without parameters (a migration), inside the
        caller's transaction. sqlite3's executescript would COMMIT first, so SQLite runs the
        statements one by one; PostgreSQL takes the script as one simple-protocol query
        (several statements are allowed when no parameters are passed:
        https://www.psycopg.org/psycopg3/docs/basic/from_pg2.html#multiple-statements-in-the-same-query)."""
        with self.lock:
            if self.is_postgres:
                self.raw.execute(sql)
                return
            for statement in split_statements(sql):
                self.raw.execute(statement)

    # -- transactions -------------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        if self.is_postgres:
            from psycopg import pq

            return self.raw.info.transaction_status != pq.TransactionStatus.IDLE
        return bool(self.raw.in_transaction)

    @contextmanager
    def transaction(self) -> Iterator["Database"]:
        """All statements inside commit together or not at all; nested use joins the outer one.

        SQLite: BEGIN IMMEDIATE takes the write lock at the start, so a read-then-write inside
        (record_detection, transition with an expected version) cannot interleave with another
        writer. PostgreSQL has no such BEGIN; we get the same by taking one transaction-level
        advisory lock first (pg_advisory_xact_lock, released by COMMIT or ROLLBACK:
        https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS).
        Chosen over SELECT ... FOR UPDATE (it cannot lock a row that does not exist yet, e.g.
        the first detection of an alert) and over SERIALIZABLE (every caller would need a
        retry loop for serialization failures). It serialises writers across processes as
        SQLite does; reads outside a transaction never wait for it."""
        with self.lock:
            if self._tx_open or (not self.is_postgres and self.in_transaction):
                yield self
                return
            self._reconnect_if_dropped()
            self.raw.execute("BEGIN" if self.is_postgres else "BEGIN IMMEDIATE")
            self._tx_open = True
            try:
                try:
                    if self.is_postgres:
                        self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                    yield self
                except BaseException:
                    self.rollback()
                    raise
                else:
                    self.commit()
            finally:
                self._tx_open = False

    def commit(self) -> None:
        with self.lock:
            if self.is_postgres:
                if self.in_transaction:
                    self.raw.execute("COMMIT")
            else:
                self.raw.commit()

    def rollback(self) -> None:
        with self.lock:
            if self.is_postgres:
                if not self.raw.broken and self.in_transaction:  # a dropped connection has nothing to undo
                    self.raw.execute("ROLLBACK")
            else:
                self.raw.rollback()

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self.raw.close()

    # -- a lock held across work that is not a statement ----------------------------------------
    @contextmanager
    def exclusive(self, name: str, *, timeout_s: float = 60.0, poll_s: float = 0.05) -> Iterator[None]:
        """One holder at a time of `name` among every process using this database, held while
        the caller does something that is not a statement (an HTTP call). transaction() is not
        that: it holds the shared connection (and the store's write lock) for its length.

        PostgreSQL: a session-level advisory lock on a connection of its own, so this store's
        connection stays free and a process that dies mid-way releases the lock with its session
        (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS); tried with
        pg_try_advisory_lock until `timeout_s` (no reliance on lock_timeout covering advisory
        locks). SQLite: flock(2) on a file beside the database (released by the kernel when the
        process dies); ':memory:' exists in one process only, so a thread lock does.
        Raises LockBusy after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        if self.is_postgres:
            import hashlib

            import psycopg

            key = int.from_bytes(hashlib.sha256(f"{self.schema or 'public'}:{name}".encode()).digest()[:7], "big")
            # A server that does not answer fails the caller within the wait, not the TCP timeout.
            with psycopg.connect(self._url or "", autocommit=True,
                                 connect_timeout=max(2, int(min(timeout_s, 10)))) as side:
                while not (side.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() or (False,))[0]:
                    if time.monotonic() >= deadline:
                        raise LockBusy(name)
                    time.sleep(poll_s)
                try:
                    yield
                finally:
                    if not side.broken:
                        side.execute("SELECT pg_advisory_unlock(%s)", (key,))
            return
        if self.path in (None, "", ":memory:"):
            with _MEMORY_LOCKS_GUARD:
                lock = _MEMORY_LOCKS.setdefault(f"{id(self.raw)}:{name}", threading.Lock())
            if not lock.acquire(timeout=timeout_s):
                raise LockBusy(name)
            try:
                yield
            finally:
                lock.release()
            return
        import fcntl

        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        with open(f"{self.path}.{safe}.lock", "a+b") as fh:
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockBusy(name) from None
                    time.sleep(poll_s)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _pg_connect(url: str, schema: str | None):
    import psycopg

    # autocommit: a statement outside transaction() commits on its own (as a lone
    # statement does on SQLite in WAL mode), and transaction() sends BEGIN itself.
    # https://www.psycopg.org/psycopg3/docs/basic/transactions.html#autocommit-transactions
    if schema is None:
        return psycopg.connect(url, autocommit=True)
    # search_path set at connect time (libpq's `options`, a server setting for the session:
    # https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-OPTIONS,
    # https://www.postgresql.org/docs/current/ddl-schemas.html#DDL-SCHEMAS-PATH), so a
    # reconnect after a drop lands in the same schema.
    return psycopg.connect(url, autocommit=True, options=f"-c search_path={schema}")


def split_statements(script: str) -> list[str]:
    """Split a migration script at `;` outside literals and `--` comments (sqlite3.complete_statement
    decides where a statement ends, so a `;` in a comment or a string does not split)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if _strip_comments(current).strip().strip(";").strip():
                out.append(current)
            current = ""
    if _strip_comments(current).strip():
        out.append(current)
    return out


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
