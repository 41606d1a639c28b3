"""A gate in front of the QBO stand-in's Customer creates, for tests that must act while a
fix's write is in flight (a second person's Fix all, a process killed mid-run)."""
from __future__ import annotations

import threading


class CustomerWriteGate:
    """Holds the `nth` Customer create the stand-in gets until `release` is set; then commits
    it, or with `drop` raises instead (the bot died before the write reached QBO)."""

    def __init__(self, company, nth: int = 1, *, drop: bool = False):
        self.entered, self.release = threading.Event(), threading.Event()
        self.count = 0
        real = company.create

        def create(entity, body, requestid=None, **kw):
            if entity == "Customer":
                self.count += 1
                if self.count == nth:
                    self.entered.set()
                    self.release.wait(30)
                    if drop:
                        raise ConnectionAbortedError("the bot died before this write reached QBO")
            return real(entity, body, requestid, **kw)

        company.create = create
