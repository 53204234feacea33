"""Every touch of aiortc's and aioice's private parts, one hook per file.

- ``encode_step``: a sender's encode step (mctui's audio level, RED packing);
- ``receive_tap``: a receiver's RTP packets to mctui, with RTCP statistics kept;
- ``red_codecs``: RED on a transceiver's sender and receiver;
- ``ice_policy``: an aioice connection's gather step follows the ``NetworkPolicy``;
- ``consent``: no aioice consent task left after a close;
- ``dtls_role``: answer as the DTLS server.

Per-object data lives in each hook's side table (a ``WeakKeyDictionary``), never in attributes
set on aiortc's objects. Each hook lists the private names it needs; importing this package
checks them all against the installed aiortc and aioice (``names.check``) and fails at once,
in one line, when one is missing. Nothing here assigns into aiortc's or aioice's modules;
sounddevice's private parts are in ``audio/portaudio_private.py``.
"""

from __future__ import annotations

from mctui.private_names import HookError, check
from mctui.rtc.hooks import consent, dtls_role, encode_step, ice_policy, receive_tap, red_codecs

HOOKS = (encode_step, receive_tap, red_codecs, ice_policy, consent, dtls_role)
check(name for hook in HOOKS for name in hook.PRIVATE_NAMES)

__all__ = ["HOOKS", "HookError"]
