"""What the coordinator counts as it serves: messages by type, error replies by code, resumes.

Plain counters, bumped on the request path (a dictionary add, no metrics library there);
``server.metrics`` reads them, with the coordinator's state, when Prometheus scrapes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    messages: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    resumes: int = 0
    connections_opened: int = 0
