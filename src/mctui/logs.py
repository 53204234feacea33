"""Where mctui writes its log: a file under the user log directory unless told otherwise.

The terminal belongs to the TUI (or to headless mode's JSON events), so log records never go to
stderr there; a failing command says in one line where the details are.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
    root.addHandler(handler)
    if stderr:
        console = logging.StreamHandler()
        console.setLevel(logging.WARNING)
        console.setFormatter(logging.Formatter("mctui: %(levelname)s: %(message)s"))
        console.addFilter(lambda record: record.name != "mctui.cli")  # it prints its own line
        root.addHandler(console)
    logging.captureWarnings(True)  # library warnings to the log, not over the TUI
    # aiortc and aioice are chatty at INFO about every ICE check
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
    return path
