"""The level each mctui sender writes into its RTP headers (rtc/peer.py's encode step), computed
in numpy; aiortc's own level function is left as it is."""

from __future__ import annotations

import numpy as np


def test_fast_audio_level_is_the_true_rms_and_aiortcs_module_is_untouched():
    """Ours is the frame's RMS in whole dB; aiortc's reads an L = R stereo frame 3 dB high (it
    divides both channels' energy by one channel's samples). How much faster ours is, is the
    benchmarks' business."""
    import aiortc.rtp

    from mctui.audio.levels import rms_dbfs
    from mctui.rtc import peer
    from mctui.rtc.frames import to_av_frame

    assert aiortc.rtp.compute_audio_level_dbov is peer.ORIGINAL_AUDIO_LEVEL_DBOV  # untouched
    original = peer.ORIGINAL_AUDIO_LEVEL_DBOV  # aiortc's pure-Python one
    rng = np.random.default_rng(1)
    assert peer.audio_level_dbov(to_av_frame(np.zeros(960, np.float32), 0)) == -127
    for amplitude in (0.001, 0.05, 0.5, 1.0):
        mono = (amplitude * rng.uniform(-1, 1, 960)).astype(np.float32)
        frame = to_av_frame(mono, 0)
        pcm = (np.round(np.clip(mono, -1, 1) * 32767) / 32767).astype(np.float32)  # as sent
        assert peer.audio_level_dbov(frame) == round(float(rms_dbfs(pcm)[0]))
        assert abs(original(frame) - peer.audio_level_dbov(frame) - 3) <= 1
