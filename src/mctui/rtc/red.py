"""RFC 2198 redundant audio (RED) for Opus: each packet also carries the frames before it.

On a path that loses packets at random, a lost frame is almost always in the next packet or the
one after: the receiver plays the real frame instead of concealing it. Opus's in-band FEC does the
same with a low-rate SILK copy, which damages music and tones more than it saves (measured: the 10 %
loss test's SINAD fell from 21.8 to 14 dB); RED repeats the frames as they were encoded.

mctui negotiates RED the standard way, in the SDP (``a=rtpmap:PT red/48000/2`` with ``a=fmtp:PT
OPUS/OPUS``), as browsers do, so a browser that offers RED gets it and one that does not gets plain
Opus. aiortc does not know the codec: ``rtc.peer`` adds it to the SDP it sends and to its senders'
and receivers' parameters, and this module holds the format and the SDP edits.
"""

from __future__ import annotations

import re
import struct
from collections import deque
from dataclasses import dataclass

#: Frames repeated in each packet: a frame is lost only when three packets in a row are.
DISTANCE = 2
#: RED's timestamp offset has 14 bits, a block's length 10.
MAX_OFFSET = (1 << 14) - 1
MAX_BLOCK = (1 << 10) - 1
#: Opus's bitrate under RED. aiortc asks libopus for 96 kbit/s; three copies of that would
#: triple what a call sends, so under RED each copy is asked for 48 kbit/s. On a steady tone
#: libopus overshoots both (217 and 369 bytes a frame, ``test_red``), so a RED packet is about
#: 1.8 times a plain one. Measured in the 10 % loss test: SINAD 32.3 and 39.7 dB at 32 kbit/s
#: (too near the goal of 30), 39.6-41.6 at 48, 44-47 at 96.
OPUS_BITRATE = 48_000
#: The payload type browsers use for RED, taken when free.
PREFERRED_PT = 63
RED_CODEC = "red/48000/2"


@dataclass(frozen=True)
class RedFormat:
    """RED as negotiated on one media section: its payload type and the Opus one it carries."""

    red_pt: int
    opus_pt: int


def pack(primary: bytes, timestamp: int, history: list[tuple[int, bytes]], opus_pt: int) -> bytes:
    """A RED payload: the frames of ``history`` ((timestamp, payload), oldest first) that fit,
    then ``primary`` at ``timestamp``."""
    offsets = [((timestamp - ts) & 0xFFFFFFFF, payload) for ts, payload in history]
    blocks = [
        (offset, payload)
        for offset, payload in offsets
        if 0 < offset <= MAX_OFFSET and 0 < len(payload) <= MAX_BLOCK
    ]
    header = b"".join(
        struct.pack("!BHB", 0x80 | opus_pt, (offset << 2) | (len(data) >> 8), len(data) & 0xFF)
        for offset, data in blocks
    )
    return header + bytes([opus_pt]) + b"".join(data for _, data in blocks) + primary


def unpack(payload: bytes, timestamp: int) -> list[tuple[int, bytes]]:
    """The frames in a RED payload as (timestamp, payload), oldest first, the primary last.

    A malformed payload raises ``ValueError``."""
    headers: list[tuple[int, int]] = []
    at = 0
    while True:
        if at >= len(payload):
            raise ValueError("RED payload ends inside its headers")
        if not payload[at] & 0x80:
            at += 1
            break
        if at + 4 > len(payload):
            raise ValueError("RED payload ends inside a block header")
        _, word, low = struct.unpack_from("!BHB", payload, at)
        headers.append((word >> 2, ((word & 0x3) << 8) | low))
        at += 4
    frames = []
    for offset, length in headers:
        if at + length > len(payload):
            raise ValueError("RED block longer than the payload")
        if length:
            frames.append(((timestamp - offset) & 0xFFFFFFFF, payload[at : at + length]))
        at += length
    frames.append((timestamp, payload[at:]))
    return frames


class RedEncoder:
    """A sender's RED packer: remembers its last ``distance`` frames."""

    def __init__(self, opus_pt: int, distance: int = DISTANCE) -> None:
        self.opus_pt = opus_pt
        self._history: deque[tuple[int, bytes]] = deque(maxlen=distance)

    def wrap(self, payload: bytes, timestamp: int) -> bytes:
        # frames "after" this one (a source that jumped back: an SFU slot switching publishers)
        # are more than RED's offset away, and left out
        red = pack(payload, timestamp, list(self._history), self.opus_pt)
        self._history.append((timestamp, payload))
        return red


class RecentTimestamps:
    """The frames a receiver has already handed on, so RED's repeats are dropped."""

    def __init__(self, size: int = 64) -> None:
        self._order: deque[int] = deque(maxlen=size)
        self._seen: set[int] = set()

    def add(self, timestamp: int) -> bool:
        """True when ``timestamp`` is new (and remembers it)."""
        if timestamp in self._seen:
            return False
        if len(self._order) == self._order.maxlen:
            self._seen.discard(self._order[0])
        self._order.append(timestamp)
        self._seen.add(timestamp)
        return True


# --- SDP ------------------------------------------------------------------------------------------

_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([^/\s]+)/(\d+)(?:/(\d+))?", re.IGNORECASE)


def _sections(sdp: str) -> list[list[str]]:
    """The SDP's lines split at each ``m=`` line (the first block is the session part)."""
    blocks: list[list[str]] = [[]]
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            blocks.append([])
        blocks[-1].append(line)
    return blocks


def _opus_and_red(section: list[str]) -> tuple[int | None, int | None, set[int]]:
    opus = red = None
    used = set()
    for line in section:
        match = _RTPMAP.match(line)
        if match is None:
            continue
        pt = int(match.group(1))
        used.add(pt)
        name = match.group(2).lower()
        if name == "opus" and opus is None:
            opus = pt
        elif name == "red" and match.group(3) == "48000" and red is None:
            red = pt
    return opus, red, used


def _live_audio(section: list[str]) -> bool:
    """An audio section that is not rejected (port 0)."""
    return section[0].startswith("m=audio ") and not section[0].startswith("m=audio 0 ")


def _joined(blocks: list[list[str]]) -> str:
    return "\r\n".join(line for section in blocks for line in section)


def _mid(section: list[str]) -> str | None:
    return next((line[6:] for line in section if line.startswith("a=mid:")), None)


def red_formats(sdp: str) -> dict[str, RedFormat]:
    """Each audio section (by mid) that offers RED carrying its Opus payload type."""
    found = {}
    for section in _sections(sdp)[1:]:
        if not _live_audio(section):
            continue
        opus, red, _ = _opus_and_red(section)
        mid = _mid(section)
        if opus is None or red is None or mid is None:
            continue
        fmtp = next((line for line in section if line.startswith(f"a=fmtp:{red} ")), None)
        carried = fmtp.split(" ", 1)[1].split("/") if fmtp else []
        if carried and all(pt.strip() == str(opus) for pt in carried):
            found[mid] = RedFormat(red, opus)
    return found


def _with_red(section: list[str], red_pt: int, opus_pt: int) -> list[str]:
    out = [f"{section[0]} {red_pt}"]
    added = False
    for line in section[1:]:
        out.append(line)
        if not added and line.startswith(f"a=rtpmap:{opus_pt} "):
            out += [f"a=rtpmap:{red_pt} {RED_CODEC}", f"a=fmtp:{red_pt} {opus_pt}/{opus_pt}"]
            added = True
    return out


def offer_red(sdp: str) -> str:
    """``sdp`` (an offer) with RED offered in every audio section that has Opus and no RED."""
    blocks = _sections(sdp)
    for i, section in enumerate(blocks[1:], start=1):
        if not section[0].startswith("m=audio "):
            continue
        opus, red, used = _opus_and_red(section)
        if opus is None or red is not None:
            continue
        free = [PREFERRED_PT, *range(96, 128)]
        red_pt = next(pt for pt in free if pt not in used)
        blocks[i] = _with_red(section, red_pt, opus)
    return _joined(blocks)


def answer_red(sdp: str, offered: dict[str, RedFormat]) -> str:
    """``sdp`` (an answer) accepting RED in the sections whose offer had it, on the offer's
    payload types."""
    blocks = _sections(sdp)
    for i, section in enumerate(blocks[1:], start=1):
        if not _live_audio(section):
            continue
        fmt = offered.get(_mid(section) or "")
        opus, red, _ = _opus_and_red(section)
        if fmt is None or red is not None or opus != fmt.opus_pt:
            continue
        blocks[i] = _with_red(section, fmt.red_pt, fmt.opus_pt)
    return _joined(blocks)
