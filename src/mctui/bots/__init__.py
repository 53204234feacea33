"""Synthetic participants (tones, speech-like bursts) for the demo, tests and benchmarks."""

from mctui.bots.bot import Bot
from mctui.bots.signals import speech_like, tone

__all__ = ["Bot", "speech_like", "tone"]
