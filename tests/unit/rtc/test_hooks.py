"""The hooks' declared private names: every one is there in the installed aiortc and aioice
(importing ``mctui.rtc.hooks`` checked them), and a missing one fails in one clear line."""

from __future__ import annotations

import pytest
from aiortc import RTCRtpReceiver

from mctui.private_names import PrivateName, check
from mctui.rtc.hooks import HOOKS, HookError


def test_every_hook_declares_its_names_and_all_are_there():
    names = [name for hook in HOOKS for name in hook.PRIVATE_NAMES]
    assert {hook.__name__.rsplit(".", 1)[1] for hook in HOOKS} == {n.hook for n in names}
    assert all(name.present() for name in names)


@pytest.mark.parametrize("kind", ["attribute", "instance"])
def test_a_missing_name_names_the_package_version_and_hook(kind):
    missing = PrivateName(RTCRtpReceiver, "_RTCRtpReceiver__gone", "receive_tap", kind)  # type: ignore[arg-type]
    with pytest.raises(HookError) as raised:
        check([missing])
    message = str(raised.value)
    assert message.startswith("aiortc 1.") and "RTCRtpReceiver._RTCRtpReceiver__gone" in message
    assert "receive_tap hook" in message and "\n" not in message
