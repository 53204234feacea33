"""Hook: a receiver's RTP packets go to mctui (the playout, the SFU), with RTCP intact.

aiortc's audio path waits at a missing packet until 16 more arrive and has no loss
concealment; mctui's playout (``rtc.playout``) and the SFU's forwarding take the packets
themselves. aiortc has no public hook for received packets, so this receiver's packet handler
is replaced (``test_peer``: aiortc's own track never fills). What aiortc's handler does besides
decoding is kept: each packet feeds the receiver's statistics per source (sequence numbers,
loss, jitter) and its list of active sources, which is what its receiver reports and
``getStats()`` are built from, so senders (Chromium, Janus, mctui) learn the loss and jitter
mctui's receivers see (``test_rtcp``). RED packets are unpacked here (``red_codecs``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import aiortc.rtcrtpreceiver
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpTransceiver
from aiortc import clock as aiortc_clock
from aiortc.rtp import RtpPacket

from mctui.private_names import PrivateName
from mctui.rtc import red as rfc2198
from mctui.rtc.hooks.red_codecs import ReceiverRed, receiver_red

PRIVATE_NAMES = (
    PrivateName(RTCRtpReceiver, "_handle_rtp_packet", "receive_tap"),
    PrivateName(RTCRtpReceiver, "_RTCRtpReceiver__active_ssrc", "receive_tap", "instance"),
    PrivateName(RTCRtpReceiver, "_RTCRtpReceiver__remote_streams", "receive_tap", "instance"),
    PrivateName(RTCRtpReceiver, "_RTCRtpReceiver__codecs", "receive_tap", "instance"),
    PrivateName(aiortc.rtcrtpreceiver, "StreamStatistics", "receive_tap"),
)


class RepairedPacket(RtpPacket):  # type: ignore[misc]
    """A frame a receiver got first from a RED repeat: its own packet is lost, or overtaken by a
    later one on a path that reorders."""


#: What a receiver hands on for each RTP packet: the transceiver it came in on, and the packet.
PacketHandler = Callable[[RTCRtpTransceiver, RtpPacket], None]

_TAKEN: weakref.WeakSet[RTCRtpReceiver] = weakref.WeakSet()


def take_audio_packets(pc: RTCPeerConnection, on_packet: PacketHandler) -> None:
    """Hand every RTP packet that an audio receiver of ``pc`` gets to ``on_packet``, instead of
    aiortc's jitter buffer and decoder. Call it after each setRemoteDescription (new
    transceivers); a receiver is taken once."""
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind != "audio" or receiver in _TAKEN:
            continue

        async def take(
            packet: RtpPacket, arrival_time_ms: int, transceiver: RTCRtpTransceiver = transceiver
        ) -> None:
            receiver = transceiver.receiver
            if not _count(receiver, packet):
                return  # a payload type nobody negotiated: aiortc drops it too
            red = receiver_red(receiver)
            if red is None or packet.payload_type != red.fmt.red_pt:
                on_packet(transceiver, packet)
                return
            _unpack_red(packet, red, transceiver, on_packet)

        receiver._handle_rtp_packet = take  # type: ignore[method-assign]
        _TAKEN.add(receiver)


def is_taken(receiver: RTCRtpReceiver) -> bool:
    """Whether ``take_audio_packets`` took this receiver's packets."""
    return receiver in _TAKEN


def _count(receiver: RTCRtpReceiver, packet: RtpPacket) -> bool:
    """What aiortc's handler does before its jitter buffer: note the source as active and add
    the packet to its statistics (for receiver reports). False for an unknown payload type."""
    private = receiver.__dict__
    private["_RTCRtpReceiver__active_ssrc"][packet.ssrc] = aiortc_clock.current_datetime()
    codec = private["_RTCRtpReceiver__codecs"].get(packet.payload_type)
    if codec is None:
        return False
    streams = private["_RTCRtpReceiver__remote_streams"]
    stream = streams.get(packet.ssrc)
    if stream is None:
        stream = streams[packet.ssrc] = aiortc.rtcrtpreceiver.StreamStatistics(codec.clockRate)
    stream.add(packet)
    return True


def _unpack_red(
    packet: RtpPacket, red: ReceiverRed, transceiver: RTCRtpTransceiver, on_packet: PacketHandler
) -> None:
    """Hand on each frame of a RED packet that this receiver has not had yet, oldest first, as
    an Opus packet of its own (with the carrying packet's header extensions)."""
    try:
        frames = rfc2198.unpack(packet.payload, packet.timestamp)
    except ValueError:
        return  # a malformed packet is a lost one
    for timestamp, payload in frames:
        if not red.recent.add(timestamp):
            continue
        kind = RtpPacket if timestamp == packet.timestamp else RepairedPacket
        frame = kind(
            payload_type=red.fmt.opus_pt,
            sequence_number=packet.sequence_number,
            timestamp=timestamp,
            ssrc=packet.ssrc,
            payload=payload,
        )
        frame.extensions = packet.extensions
        on_packet(transceiver, frame)
