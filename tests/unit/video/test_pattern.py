"""The ``--camera test`` pattern survives a real VP8 round trip (aiortc's encoder and decoder, the
RTP payloads depacketised as a receiver does): each decoded frame still says its number, so the
video tests can tell which frame arrived and whether one was skipped."""

from __future__ import annotations

import fractions

import av
import numpy as np
from aiortc.codecs import get_decoder, get_encoder
from aiortc.codecs.vpx import vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from mctui.video.pattern import BARS, pattern_frame, read_counter

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90_000, payloadType=96)


def test_the_counter_and_the_bars_survive_vp8() -> None:
    encoder, decoder = get_encoder(VP8), get_decoder(VP8)
    read = []
    for index in range(30):
        frame = av.VideoFrame.from_ndarray(pattern_frame(1000 + index), format="rgb24")
        frame.pts, frame.time_base = index * 6000, fractions.Fraction(1, 90_000)
        payloads, timestamp = encoder.encode(frame, force_keyframe=index == 0)
        data = b"".join(vp8_depayload(payload) for payload in payloads)
        for decoded in decoder.decode(JitterFrame(data=data, timestamp=timestamp)):
            assert isinstance(decoded, av.VideoFrame)
            picture = np.asarray(decoded.to_ndarray(format="rgb24"), dtype=np.uint8)
            read.append(read_counter(picture))
    assert read == list(range(1000, 1030))
    # the bars, sampled mid-bar on a middle line of the last frame, in order within 40 levels
    bar_width = picture.shape[1] // len(BARS)
    shift = (1029 * bar_width // 15) % picture.shape[1]
    for bar, colour in enumerate(BARS):
        x = (bar * bar_width + bar_width // 2 - shift) % picture.shape[1]
        assert abs(picture[100, x].astype(int) - colour).max() < 40, (bar, picture[100, x])
