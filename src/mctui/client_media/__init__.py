"""The client's media stack: its transports to an SFU (embedded or Janus), the jitter buffer,
the Opus decoder and the playout that feed the audio device module.

The server never imports this package (import-linter); what both sides share stays in
``mctui.rtc`` (peer connections, tracks, RED, the aiortc hooks)."""
