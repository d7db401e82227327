"""SQLite persistence (stdlib ``sqlite3``): the catalog, tickets and comments.

Rows hold a JSON document next to the few columns used for ordering. One connection is shared by
the server thread and the test-side helpers, guarded by a re-entrant lock; callers group several
writes with :meth:`Store.transaction` so a request stores all of its changes or none.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS catalog (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS tickets (
    number INTEGER PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_number INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_by_ticket ON comments (ticket_number, id);
CREATE TABLE IF NOT EXISTS files (
    uuid TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    data TEXT NOT NULL,
    content BLOB NOT NULL
);
"""

FIRST_TICKET_NUMBER = 2401001
FIRST_COMMENT_ID = 9100001


class Store:
    """Tickets, comments and catalog entries as JSON documents in SQLite."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ":memory:"
        self.lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._depth = 0

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All writes inside the block commit together, or roll back on an exception."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    # -- catalog -----------------------------------------------------------------------------

    def is_empty(self) -> bool:
        with self.lock:
            row = self._db.execute(
                "SELECT (SELECT COUNT(*) FROM catalog) + (SELECT COUNT(*) FROM tickets)"
            ).fetchone()
            return int(row[0]) == 0

    def put_catalog(self, kind: str, items: list[dict[str, Any]]) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO catalog (kind, key, position, data) VALUES (?, ?, ?, ?)",
                [(kind, item["key"], pos, json.dumps(item)) for pos, item in enumerate(items)],
            )

    def catalog(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT data FROM catalog WHERE kind = ? ORDER BY position", (kind,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    # -- tickets -----------------------------------------------------------------------------

    def next_ticket_number(self) -> int:
        with self.lock:
            row = self._db.execute("SELECT MAX(number) FROM tickets").fetchone()
        return FIRST_TICKET_NUMBER if row[0] is None else int(row[0]) + 1

    def insert_ticket(self, ticket: dict[str, Any]) -> int:
        with self.transaction():
            if ticket.get("number") is None:
                ticket["number"] = self.next_ticket_number()
            self._db.execute(
                "INSERT INTO tickets (number, data) VALUES (?, ?)", (ticket["number"], json.dumps(ticket))
            )
        return int(ticket["number"])

    def save_ticket(self, ticket: dict[str, Any]) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE tickets SET data = ? WHERE number = ?", (json.dumps(ticket), ticket["number"])
            )

    def get_ticket(self, number: int) -> dict[str, Any] | None:
        with self.lock:
            row = self._db.execute("SELECT data FROM tickets WHERE number = ?", (number,)).fetchone()
        return None if row is None else json.loads(row[0])

    def all_tickets(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute("SELECT data FROM tickets ORDER BY number").fetchall()
        return [json.loads(row[0]) for row in rows]

    def count_tickets(self) -> int:
        with self.lock:
            return int(self._db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])

    # -- comments ----------------------------------------------------------------------------

    def insert_comment(self, comment: dict[str, Any]) -> int:
        with self.transaction():
            row = self._db.execute("SELECT MAX(id) FROM comments").fetchone()
            comment_id = FIRST_COMMENT_ID if row[0] is None else int(row[0]) + 1
            comment["id"] = comment_id
            self._db.execute(
                "INSERT INTO comments (id, ticket_number, data) VALUES (?, ?, ?)",
                (comment_id, comment["ticket_number"], json.dumps(comment)),
            )
        return comment_id

    def save_comment(self, comment: dict[str, Any]) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE comments SET data = ? WHERE id = ?", (json.dumps(comment), comment["id"])
            )

    def get_comment(self, comment_id: int) -> dict[str, Any] | None:
        with self.lock:
            row = self._db.execute("SELECT data FROM comments WHERE id = ?", (comment_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def comments_of(self, number: int) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT data FROM comments WHERE ticket_number = ? ORDER BY id", (number,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def comments_by_ticket(self) -> dict[int, list[dict[str, Any]]]:
        with self.lock:
            rows = self._db.execute("SELECT ticket_number, data FROM comments ORDER BY id").fetchall()
        out: dict[int, list[dict[str, Any]]] = {}
        for number, data in rows:
            out.setdefault(int(number), []).append(json.loads(data))
        return out

    # -- files (the Attachments API) -----------------------------------------------------------

    def insert_file(self, meta: dict[str, Any], content: bytes) -> None:
        """``meta`` has ``uuid`` and ``account`` (the owner) and what a listing shows; never the content."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO files (uuid, account, data, content) VALUES (?, ?, ?, ?)",
                (meta["uuid"], meta["account"], json.dumps(meta), content),
            )

    def get_file(self, uuid: str) -> tuple[dict[str, Any], bytes] | None:
        with self.lock:
            row = self._db.execute("SELECT data, content FROM files WHERE uuid = ?", (uuid,)).fetchone()
        return None if row is None else (json.loads(row[0]), bytes(row[1]))

    def file_accounts(self, uuids: list[str]) -> dict[str, str]:
        """The owner of each of these files that exists."""
        if not uuids:
            return {}
        marks = ",".join("?" * len(uuids))
        with self.lock:
            rows = self._db.execute(
                f"SELECT uuid, account FROM files WHERE uuid IN ({marks})", [u.lower() for u in uuids]
            ).fetchall()
        return {str(uuid): str(account) for uuid, account in rows}

    def all_files(self) -> list[dict[str, Any]]:
        """Every stored file's metadata (no content), oldest first."""
        with self.lock:
            rows = self._db.execute("SELECT data FROM files ORDER BY rowid").fetchall()
        return [json.loads(row[0]) for row in rows]

    def count_comments(self) -> int:
        with self.lock:
            return int(self._db.execute("SELECT COUNT(*) FROM comments").fetchone()[0])
