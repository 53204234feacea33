"""Hook: RED (RFC 2198) on a transceiver's sender and receiver.

aiortc sends with the first codec of its sender's parameters and its RTP router drops a payload
type its receiver did not register, and it knows no RED. For a transceiver where both sides
offered RED (``PolicyPeerConnection``), this instance's ``send`` puts RED's codec first and its
``receive`` lists it; the encode step (``encode_step``) packs RED and the receive tap
(``receive_tap``) unpacks it. The format negotiated last is kept in a side table, read by all
three (``test_red_connections``: frames lost on a real connection come back, and do not with
either hook removed).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCRtpCodecParameters, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver

from mctui.private_names import PrivateName
from mctui.rtc.hooks.encode_step import own_encode_step, sender_state
from mctui.rtc.red import RecentTimestamps, RedEncoder, RedFormat

#: Public methods, replaced on one instance each: listed so a rename is caught too.
PRIVATE_NAMES = (
    PrivateName(RTCRtpSender, "send", "red_codecs"),
    PrivateName(RTCRtpReceiver, "receive", "red_codecs"),
)


@dataclass
class ReceiverRed:
    """A receiver's RED: the format negotiated last, and the timestamps it has had."""

    fmt: RedFormat
    recent: RecentTimestamps = field(default_factory=RecentTimestamps)


_RECEIVERS: weakref.WeakKeyDictionary[RTCRtpReceiver, ReceiverRed] = weakref.WeakKeyDictionary()


def receiver_red(receiver: RTCRtpReceiver) -> ReceiverRed | None:
    """The receiver's RED, if it uses it."""
    return _RECEIVERS.get(receiver)


def red_codec(fmt: RedFormat) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(
        mimeType="audio/red", clockRate=48_000, channels=2, payloadType=fmt.red_pt
    )


def use_red(transceiver: RTCRtpTransceiver, fmt: RedFormat) -> None:
    """Send and receive RED on this transceiver (only); installed once, reading the format
    negotiated last."""
    sender, receiver = transceiver.sender, transceiver.receiver
    known = _RECEIVERS.get(receiver)
    if known is not None:
        known.fmt = fmt
        return
    _RECEIVERS[receiver] = ReceiverRed(fmt)
    own_encode_step(sender)
    aiortc_send, aiortc_receive = sender.send, receiver.receive

    async def send(parameters: Any) -> None:
        now = _RECEIVERS[receiver].fmt
        opus = next((c for c in parameters.codecs if c.payloadType == now.opus_pt), None)
        if opus is not None:
            state = sender_state(sender)
            state.opus = opus
            state.red_encoder = RedEncoder(now.opus_pt)
            parameters.codecs = [red_codec(now), *parameters.codecs]
        await aiortc_send(parameters)

    async def receive(parameters: Any) -> None:
        parameters.codecs = [*parameters.codecs, red_codec(_RECEIVERS[receiver].fmt)]
        await aiortc_receive(parameters)

    sender.send = send  # type: ignore[method-assign]
    receiver.receive = receive  # type: ignore[method-assign]
