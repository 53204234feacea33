"""Echo cancellation: how much of the room's echo the far end still hears, what double talk
does to the near talker, how fast the canceller follows a moved laptop, and what it costs.

Real speech from espeak-ng (two voices). Part one runs the engine's ``VoiceProcessor`` (WebRTC's
APM) frame by frame on a synthetic room, faster than real time, over rooms from 40 to 150 ms and
-6 to -12 dB. Part two is a real call through the embedded SFU on 127.0.0.1: a client on
``EchoRoomBackend`` (80 ms, -9 dB) and a far end that talks and records what it receives
(the test bed of ``tests/integration/engine/test_echo.py``).

Usage: ``python benchmarks/echo.py``; prints one JSON line (``{"echo": {...}}``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from common import SECRET, emit

from mctui import AudioConfigurationPolicy, CallType, Client, ClientOptions, User
from mctui.audio.apm import VoiceProcessor
from mctui.audio.backends import MemoryBackend
from mctui.audio.config import FRAME_SAMPLES, SAMPLE_RATE
from mctui.audio.room import EchoRoomBackend, room_response
from mctui.bots import espeak
from mctui.server.app import start_server
from mctui.server.embedded_sfu import EmbeddedSfu
from mctui.server.tokens import issue_token

S = SAMPLE_RATE
WINDOW = S // 4  # ERLE in 250 ms windows, where the far end talks


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def envelope(x: np.ndarray) -> np.ndarray:
    frames = x[: x.size // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    return np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))


def correlation(a: np.ndarray, b: np.ndarray, max_lag: int = 15) -> float:
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b[: b.size - lag]) if lag >= 0 else (a[:lag], b[-lag:])
        n = min(x.size, y.size)
        best = max(best, float(np.corrcoef(x[:n], y[:n])[0, 1]))
    return best


def erle_windows(echo: np.ndarray, sent: np.ndarray) -> list[float | None]:
    """ERLE per 250 ms window; None where the echo is too faint to judge (the far end paused)."""
    out: list[float | None] = []
    for start in range(0, echo.size - WINDOW + 1, WINDOW):
        e, s = echo[start : start + WINDOW], sent[start : start + WINDOW]
        out.append(db(e) - db(s) if db(e) > -50 else None)
    return out


def offline(far: np.ndarray, near: np.ndarray, delay_s: float, level_db: float) -> dict[str, Any]:
    """Single talk 6 s, a 60 ms jump, single talk 6 s, then double talk 5 s; and the same near
    talk with no echo, through a second processor."""
    total = 22 * S
    far_signal = np.tile(far, 3)[:total]
    first = np.convolve(far_signal, room_response(delay_s, level_db))[:total]
    moved = np.convolve(far_signal, room_response(delay_s + 0.06, level_db))[:total]
    echo = np.where(np.arange(total) < 6 * S, first, moved).astype(np.float32)
    talker = np.zeros(total, np.float32)
    talker[17 * S : 22 * S] = near[: 5 * S]
    processor, alone = VoiceProcessor(), VoiceProcessor()
    sent = np.zeros(total, np.float32)
    reference = np.zeros(total, np.float32)
    silence = np.zeros(FRAME_SAMPLES, np.float32)
    for i in range(0, total - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        frame = slice(i, i + FRAME_SAMPLES)
        processor.render(far_signal[frame])
        sent[frame] = processor.capture(echo[frame] + talker[frame])
        alone.render(silence)
        reference[frame] = alone.capture(talker[frame])
    windows = erle_windows(echo, sent)
    per_s = 4
    after_jump = windows[6 * per_s : 12 * per_s]
    back = next(
        (
            i / per_s
            for i in range(len(after_jump))
            if all(w is None or w >= 30 for w in after_jump[i:])
        ),
        None,
    )
    steady = [w for w in windows[3 * per_s : 6 * per_s] if w is not None]
    double = slice(17 * S, 22 * S)
    return {
        "delay_ms": round(delay_s * 1000),
        "level_db": level_db,
        "erle_after_3s_db": round(float(np.median(steady)), 1),
        "reconverged_after_jump_s": back,
        "double_talk_level_db": round(db(sent[double]) - db(reference[double]), 1),
        "double_talk_envelope_correlation": round(
            correlation(envelope(sent[double]), envelope(reference[double])), 3
        ),
        "cpu_ms_per_frame": round(processor.cpu_s / processor.frames * 1000, 3),
    }


async def real_call(far_voice: np.ndarray, near_voice: np.ndarray) -> dict[str, Any]:
    """The test bed's call, measured at the far end (Opus and the SFU in the path)."""
    server = await start_server(SECRET, "127.0.0.1", 0, sfu=EmbeddedSfu())
    room = EchoRoomBackend(delay_s=0.08, level_db=-9.0)
    far_device = MemoryBackend(far_voice)
    clients = []
    try:
        for user, device, profile in (
            ("near", room, AudioConfigurationPolicy.broadcaster()),
            ("far", far_device, AudioConfigurationPolicy.hifi()),
        ):
            options = ClientOptions(audio_device=device, audio_configuration_policy=profile)
            client = Client(server.url, User(user), issue_token(SECRET, user), options)
            await client.connect()
            clients.append(client)
            await client.make_call(CallType.DEFAULT, "desk").join()
        await asyncio.sleep(2.0)
        marks = (len(room.echo), far_device.output_frames_total)
        await asyncio.sleep(6.2)
        echo = np.concatenate(room.echo[marks[0] + 150 : marks[0] + 300])
        received = far_device.output(3.0).astype(np.float32)
        erle = db(echo) - db(received)
        room.set_near(near_voice[: 5 * S])
        await asyncio.sleep(5.4)
        double = far_device.output(5.0)
        far_device.set_input(np.zeros(FRAME_SAMPLES, np.float32))
        await asyncio.sleep(1.0)
        room.set_near(near_voice[: 5 * S])
        await asyncio.sleep(5.4)
        alone = far_device.output(5.0)
        voice = clients[0]._audio.voice if clients[0]._audio is not None else None
        return {
            "erle_after_3s_db": round(erle, 1),
            "double_talk_level_db": round(db(double) - db(alone), 1),
            "double_talk_envelope_correlation": round(
                correlation(envelope(double), envelope(alone)), 3
            ),
            "cpu_ms_per_frame": round(voice.cpu_s / voice.frames * 1000, 3) if voice else None,
        }
    finally:
        for client in clients:
            await client.disconnect()
        await server.stop()


def main() -> None:
    far = espeak.speak(espeak.FAR_TEXT, "en-us")
    near = espeak.speak(espeak.NEAR_TEXT, "en-gb+f3")
    started = time.perf_counter()
    rooms = [
        offline(far, near, delay, level) for delay in (0.04, 0.08, 0.15) for level in (-6.0, -12.0)
    ]
    offline_s = time.perf_counter() - started
    call = asyncio.run(real_call(far, near))
    emit(
        "echo",
        {
            "echo": {
                "rooms": rooms,
                "offline_seconds": round(offline_s, 1),
                "call": call,
            }
        },
    )


if __name__ == "__main__":
    main()
