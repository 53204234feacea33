"""Hook: answer as the DTLS server (``a=setup:passive``) where the offer leaves the choice.

aiortc answers as the DTLS client and sends its ClientHello as soon as its own ICE checks
succeed. Janus drops DTLS that arrives before its ICE agent reports the path ready, and
OpenSSL's first retransmission comes only after 1 s: a second of silence for a new subscriber
in one join of four on a busy machine. As the server, this side waits for Janus's ClientHello.
aiortc has no public setting for the role; the transport's own ``_set_role`` is what its answer
path reads (``lab/test_janus``: no retransmission after a join).
"""

from __future__ import annotations

from aiortc import RTCDtlsTransport, RTCPeerConnection

from mctui.private_names import PrivateName

PRIVATE_NAMES = (
    PrivateName(RTCDtlsTransport, "_role", "dtls_role", "instance"),
    PrivateName(RTCDtlsTransport, "_set_role", "dtls_role"),
)


def answer_as_dtls_server(pc: RTCPeerConnection) -> None:
    """Make ``pc``'s coming answer take the DTLS server role wherever the offer left the choice
    to us (``actpass``); call it between setRemoteDescription and createAnswer."""
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        if dtls is not None and dtls._role == "auto":
            dtls._set_role("server")
