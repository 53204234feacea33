"""Hook: a sender's encode step, with mctui's audio level and RED packing.

aiortc computes each frame's RFC 6464 level inside its sender's ``_next_encoded_frame``
through a module global, in a Python loop over every sample (~0.15 ms per 20 ms frame on the
event loop) that also reads a stereo frame 3 dB high. Rather than replace that for the whole
process, a sender gets its own copy of the step: read the track, encode in the executor as
aiortc does (or pack a pre-encoded packet), measure the level with ``audio_level_dbov``, and
wrap the payload in RED when ``red_codecs`` negotiated it (Opus then at 48 kbit/s). The track
and the encoder are aiortc's name-mangled attributes (``test_peer``, ``test_peer_levels``:
the level on the wire is ours and aiortc's function is never called).
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import aiortc.rtp
import av
import numpy as np
from aiortc import RTCRtpCodecParameters, RTCRtpSender
from aiortc.codecs import get_encoder
from aiortc.codecs.opus import OpusEncoder
from aiortc.rtcrtpsender import RTCEncodedFrame

from mctui.private_names import PrivateName
from mctui.rtc import red as rfc2198
from mctui.rtc.red import RedEncoder

PRIVATE_NAMES = (
    PrivateName(RTCRtpSender, "_next_encoded_frame", "encode_step"),
    PrivateName(RTCRtpSender, "_RTCRtpSender__track", "encode_step", "instance"),
    PrivateName(RTCRtpSender, "_RTCRtpSender__encoder", "encode_step", "instance"),
    PrivateName(RTCRtpSender, "_enabled", "encode_step", "instance"),
    PrivateName(aiortc.rtp, "compute_audio_level_dbov", "encode_step"),
)


def audio_level_dbov(frame: av.AudioFrame) -> int:
    """RFC 6465 audio level of an s16 frame (the RMS in -dBov, whole dB), in one numpy pass.
    For mono frames it gives aiortc's integer; for stereo it divides by every sample."""
    count = frame.samples * len(frame.layout.channels)
    pcm = np.frombuffer(cast(bytes, frame.planes[0]), dtype=np.int16, count=count)
    energy = float(np.dot(pcm.astype(np.float64), pcm.astype(np.float64)))
    rms = math.sqrt(energy / (count * 32767.0 * 32767.0))
    if rms <= 0:
        return -127
    return round(min(max(20 * math.log10(rms), -127), 0))


#: aiortc's pure-Python version (left in place: nothing process-wide is replaced), for the test
#: that proves ours matches it on mono frames.
ORIGINAL_AUDIO_LEVEL_DBOV: Callable[[av.AudioFrame], int] = aiortc.rtp.compute_audio_level_dbov


@dataclass
class SenderState:
    """What mctui keeps per sender: RED's Opus codec and packer, once negotiated."""

    opus: RTCRtpCodecParameters | None = None
    red_encoder: RedEncoder | None = None


_SENDERS: weakref.WeakKeyDictionary[RTCRtpSender, SenderState] = weakref.WeakKeyDictionary()


def sender_state(sender: RTCRtpSender) -> SenderState:
    return _SENDERS.setdefault(sender, SenderState())


def own_encode_step(sender: RTCRtpSender) -> None:
    """This sender (only) measures its frames' level with ``audio_level_dbov`` and packs RED
    when negotiated. Idempotent."""
    private = sender.__dict__
    if "_next_encoded_frame" in private:  # this instance has its own step already
        return
    state = sender_state(sender)

    async def next_encoded_frame(codec: RTCRtpCodecParameters) -> RTCEncodedFrame | None:
        data = await private["_RTCRtpSender__track"].recv()
        if not sender._enabled:
            return None
        red = state.red_encoder
        encoder = private["_RTCRtpSender__encoder"]
        if encoder is None:
            encoder = private["_RTCRtpSender__encoder"] = get_encoder(
                state.opus if red is not None and state.opus is not None else codec
            )
            if red is not None and isinstance(encoder, OpusEncoder):
                encoder.codec.bit_rate = rfc2198.OPUS_BITRATE  # before the codec opens
        level = None
        if isinstance(data, av.AudioFrame):
            level = audio_level_dbov(data)
            payloads, timestamp = await asyncio.get_running_loop().run_in_executor(
                None, encoder.encode, data, False
            )
        else:
            payloads, timestamp = encoder.pack(data)
        if red is not None:
            payloads = [red.wrap(payload, timestamp) for payload in payloads]
        # aiortc annotates the level as int, and passes None itself for pre-encoded packets
        return RTCEncodedFrame(payloads, timestamp, level) if payloads else None  # type: ignore[arg-type]

    private["_next_encoded_frame"] = next_encoded_frame
