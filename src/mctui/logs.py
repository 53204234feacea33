"""Where mctui writes its log: a file under the user log directory unless told otherwise.

The terminal belongs to the TUI (or to headless mode's JSON events), so log records never go to
stderr there; a failing command says in one line where the details are.
"""

from __future__ import annotations

import logging
import logging.handlers
import time
from collections.abc import Callable
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: ``log.info(..., extra=CONSOLE)``: an info record that a command without a screen (``serve``,
#: ``bot``) also prints, because it closes a warning printed before (lost, then reconnected).
CONSOLE = {"console": True}


class RepeatLimit(logging.Filter):
    """At most ``burst`` warnings or errors of one kind (logger, level and message template)
    per ``window_s``; the rest are dropped and counted, and the first of the kind in the next
    window says how many were. A fault that repeats (``accept() out of system resource`` under
    a connection flood, with a traceback each time) then costs a few lines a minute instead of
    rotating the log's history away."""

    def __init__(
        self, burst: int = 5, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst, self.window_s, self._clock = burst, window_s, clock
        #: kind -> (window start, records let through in it, records dropped in it)
        self._kinds: dict[tuple[str, int, str], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        start, passed, dropped = self._kinds.get(kind, (now, 0, 0))
        if now - start >= self.window_s:
            if dropped:
                record.msg = f"({dropped} more like this were not logged) {record.msg}"
            start, passed, dropped = now, 0, 0
        if passed >= self.burst:
            self._kinds[kind] = (start, passed, dropped + 1)
            return False
        if len(self._kinds) > 1000:  # kinds are few; never let the table itself grow
            self._kinds.clear()
        self._kinds[kind] = (start, passed + 1, dropped)
        return True


def setup_logging(path: Path, level: str = "info", *, stderr: bool = False) -> Path:
    """Send mctui's (and its libraries') log records to ``path`` at ``level``.

    ``stderr``: also print warnings and errors there (for ``serve`` and ``bot``, which own no
    screen). Returns the path. If the file cannot be opened, records go to stderr instead.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.setLevel(level.upper())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=5_000_000, backupCount=2, encoding="utf-8"
        )
    except OSError:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RepeatLimit())
    root.addHandler(handler)
    if stderr:
        console = logging.StreamHandler()
        console.setLevel(logging.INFO)
        # warnings and errors, and the news that ends one (``extra=CONSOLE``: "reconnected")
        console.addFilter(
            lambda record: record.levelno >= logging.WARNING or getattr(record, "console", False)
        )
        console.setFormatter(logging.Formatter("mctui: %(levelname)s: %(message)s"))
        console.addFilter(lambda record: record.name != "mctui.cli")  # it prints its own line
        console.addFilter(RepeatLimit())
        root.addHandler(console)
    logging.captureWarnings(True)  # library warnings to the log, not over the TUI
    # aiortc and aioice are chatty at INFO about every ICE check
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
    return path
