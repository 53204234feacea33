"""Finding a subscription that carries nothing (``engine/receive_watch.py``)."""

from __future__ import annotations

from mctui.engine.receive_watch import ReceiveWatch


def test_someone_talking_with_nothing_arriving_is_found_after_the_delay() -> None:
    now = [0.0]
    watch = ReceiveWatch(after_s=3.0, clock=lambda: now[0])
    received = {"bob": 10, "eve": 5}
    for second in range(6):
        now[0] = float(second)
        received["bob"] += 50  # bob's frames keep coming
        starved = watch.check({"bob", "eve"}, received)
        assert starved == (["eve"] if second >= 3 else []), second
    # someone who stops talking is not starved, and a count that moves clears the wait
    assert watch.check({"bob"}, received) == []
    received["eve"] += 1
    now[0] = 10.0
    assert watch.check({"eve"}, received) == []
    now[0] = 12.0  # still nothing new since 10: the wait starts here
    assert watch.check({"eve"}, received) == []
    now[0] = 14.9
    assert watch.check({"eve"}, received) == []
    now[0] = 15.0
    assert watch.check({"eve"}, received) == ["eve"]


def test_a_participant_with_no_stream_at_all_counts_as_nothing_arriving() -> None:
    now = [0.0]
    watch = ReceiveWatch(after_s=3.0, clock=lambda: now[0])
    assert watch.check({"ann"}, {}) == []
    now[0] = 3.0
    assert watch.check({"ann"}, {}) == ["ann"]
    watch.reset()
    assert watch.check({"ann"}, {}) == []  # counted from the reset
