"""SQLite's write-ahead log checkpointed beside the writer, from a connection of its own in a thread of its own.

Left to SQLite, the commit that takes the log past 1,000 pages copies them into the database file and syncs it
(65-170 ms under load) while the process's one connection, and so every other request of the process, waits for it
(bench/README.md "Slow chunks, traced"). A PASSIVE checkpoint from another connection runs beside a writer: it copies
what is committed, never waits for a lock and makes no writer wait; the next write transaction starts the log over
once it is all copied. So the service's connection checkpoints only past `WAL_BOUND_PAGES` (a backstop: the log
stays bounded if this thread falls behind or fails), and a `Checkpointer` runs a PASSIVE checkpoint every
`CHECKPOINT_EVERY` seconds while the database is open. When the last connection closes (a command, a test, the
demo), SQLite checkpoints the rest itself.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger("backorder.store")

# seconds between two checkpoints: a 100k staged receipt writes about 1,000 pages in half a second under load
CHECKPOINT_EVERY = 0.5
# pages of log from which the service's own connection checkpoints in the commit that passes them (SQLite's default
# is 1,000): 64 MiB of 4 KiB pages, as much as `db.WAL_KEPT` keeps, reached only if the checkpointer falls behind
WAL_BOUND_PAGES = 16_384


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL (None for another store or an in-memory database)."""
    if not url.startswith("sqlite://"):
        return None
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    return None if not path or path == ":memory:" else path


class Checkpointer:
    """A PASSIVE checkpoint of `path`'s write-ahead log every `every` seconds (CHECKPOINT_EVERY), in a daemon thread
    with its own connection, from `start()` to `stop()` (which waits for a checkpoint under way)."""

    def __init__(self, path: str, every: float | None = None) -> None:
        self.path = path
        self.every = CHECKPOINT_EVERY if every is None else every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"checkpoint {Path(path).name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.every):
                try:
                    if conn is None:  # mode=rw: a file removed meanwhile is not created again
                        conn = sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True, timeout=0,
                                               isolation_level=None)
                    self.checkpoint(conn)
                except sqlite3.Error as error:  # the backstop checkpoints meanwhile; try again next time
                    log.debug("checkpoint of %s failed: %s", self.path, error)
                    if conn is not None:
                        conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (1 if it could not run, pages in the log, pages copied into the database)."""
        busy, pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(pages), int(copied)
