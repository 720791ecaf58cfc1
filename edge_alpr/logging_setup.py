"""Logging to stderr, readable in a terminal and in the journal.

Under systemd (``$JOURNAL_STREAM`` is set) lines carry no timestamp, since journald adds its
own, and start with a ``<N>`` syslog priority, so ``journalctl -p warning`` works.
"""
from __future__ import annotations

import logging
import os
import sys

_HANDLER_NAME = "edge-alpr-stderr"

# syslog priorities journald reads from a "<N>" line prefix.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        # Every line of a multi-line message (a traceback) gets the prefix, or journald
        # files the continuation lines as plain info.
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def under_journald() -> bool:
    return "JOURNAL_STREAM" in os.environ


def setup_logging(level: str = "INFO") -> None:
    """Send every log record at ``level`` or above to stderr (calling it again replaces the handler)."""
    handler = logging.StreamHandler(sys.stderr)
    if under_journald():
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)  # ours from an earlier call; handlers of others (pytest) stay
    root.addHandler(handler)
    root.setLevel(level.upper())
    # paho and PIL are chatty at DEBUG; their details rarely help with a plate problem.
    for noisy in ("PIL", "paho"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
