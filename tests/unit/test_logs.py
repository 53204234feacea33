"""The log file's own protection: a fault that repeats costs a few lines, not the history."""

from __future__ import annotations

import logging

from mctui.logs import RepeatLimit


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_repeating_error_is_logged_a_few_times_a_window_and_then_counted() -> None:
    now = [0.0]
    kept = Kept()
    kept.addFilter(RepeatLimit(burst=5, window_s=60.0, clock=lambda: now[0]))
    log = logging.getLogger("mctui.test.storm")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(kept)
    try:
        for _ in range(10_000):  # an accept() storm: the same error, a traceback each time
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                log.exception("socket.accept() out of system resource")
        log.error("a different error")  # another kind is not held back
        log.info("routine")  # nor is anything below a warning
        assert len(kept.records) == 7
        now[0] = 61.0
        log.exception("socket.accept() out of system resource")
        assert kept.records[-1].getMessage().startswith("(9995 more like this were not logged)")
    finally:
        log.removeHandler(kept)
