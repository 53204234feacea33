"""What the coordinator counts as it serves: messages by type, error replies by code, and the
reconnect story (connections lost, resumed, calls rejoined).

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
    connections_opened: int = 0
    #: Connections that went silent or broke (no goodbye): their places kept for the grace.
    connections_lost: int = 0
    #: Connections that took over a lost one's calls (a resume: nobody saw a leave).
    resumes: int = 0
    #: Calls joined again by a client after a drop without a resume (the grace ran out, or
    #: the server restarted): the others saw it leave and come back.
    rejoins: int = 0
