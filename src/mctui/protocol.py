"""Every message between an mctui client and the coordinator, as pydantic models.

Both sides import this module and nothing else of each other. A message is one JSON object with a
``type``; client requests carry an ``id`` that the reply repeats, and the ``hello`` request carries
the protocol ``version`` so incompatible peers fail with a clear ``version_mismatch`` error instead
of odd behaviour later. This module imports nothing of mctui.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024


class CallType(StrEnum):
    """What kind of call: who may publish, and what joining does (the engine's ``CallType``)."""

    DEFAULT = "default"
    LIVESTREAM = "livestream"
    AUDIO_ROOM = "audio_room"


class MemberRole(StrEnum):
    """A member's role in one call: a ``viewer`` never publishes."""

    HOST = "host"
    MEMBER = "member"
    VIEWER = "viewer"


RejectReason = Literal["decline", "busy", "cancel"]
#: Which media server carries a call (``SfuInfo.kind``).
SfuKindName = Literal["embedded", "janus", "none"]
ErrorCode = Literal[
    "bad_request",
    "version_mismatch",
    "too_large",
    "unauthorized",
    "forbidden",
    "not_a_member",
    "call_not_found",
    "invalid_state",
    "call_ended",
    "media_error",
    "rate_limited",
    "limit_reached",
    "internal",
]

#: User ids and call ids: 1-128 of letters, digits, ``_ . - @`` (tokens and the CLI check the same).
ID_PATTERN = r"^[A-Za-z0-9_.\-@]{1,128}$"

#: Bidirectional controls: they reorder the text after them (the "Trojan source" characters).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def has_control_characters(text: str) -> bool:
    """True if ``text`` holds a C0 or C1 control (tab and newline included) or a bidi control:
    what a display name must not contain (``Dave\\e[2J`` would clear the screen of anyone
    who showed it raw)."""
    return any(unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS for ch in text)


def _no_control_characters(text: str) -> str:
    if has_control_characters(text):
        raise ValueError("control characters are not allowed in a name")
    return text


#: A display name as a request may carry it.
DisplayName = Annotated[str, AfterValidator(_no_control_characters)]
_IdStr = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]


class _Model(BaseModel):
    """What the server sends (replies, events and their shapes): fields a client does not know
    yet are ignored, so a newer server can add one without breaking older clients."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --- shared shapes ------------------------------------------------------------------------------


class UserInfo(_Model):
    id: _IdStr
    name: str = ""


class MemberInfo(_Model):
    user_id: str
    role: MemberRole = MemberRole.MEMBER


class IceServerInfo(_Model):
    """A STUN or TURN server, as a browser's ``RTCIceServer`` takes it."""

    urls: list[str]
    username: str = ""
    credential: str = ""


class SfuInfo(_Model):
    """Where a joined client sends and receives media for one call."""

    kind: SfuKindName
    url: str = ""
    room: str = ""
    #: The address the media server is reached at, when it is not the coordinator's host
    #: (a Janus on another machine): the client offers the address that routes there.
    media_host: str = ""
    #: The ICE servers the server was told to use (``serve --ice-server``): clients that have
    #: no list of their own (the web page of guests) use these.
    ice_servers: list[IceServerInfo] = []


class CallInfo(_Model):
    cid: str
    type: CallType
    id: str
    created_by: str
    #: Listed in the answer to ``get_or_create_call`` (for members); a join's answer carries
    #: only ``member_count``, so its size does not grow with the member list.
    members: list[MemberInfo] = []
    member_count: int = 0
    participants: list[UserInfo] = []
    ended: bool = False


def call_cid(call_type: str, call_id: str) -> str:
    """The call's unique name, ``type:id``."""
    return f"{call_type}:{call_id}"


# --- results (what each request's reply carries) -----------------------------------------------


class JoinResult(_Model):
    call: CallInfo
    role: MemberRole
    can_publish: bool
    sfu: SfuInfo
    #: The server's signed word for this user's role in this call, for a rejoin after a restart.
    role_claim: str = ""


class HelloResult(_Model):
    user: UserInfo
    version: int
    #: True when the hello's ``resume`` id took over a dropped connection's calls.
    resumed: bool = False


class CallResult(_Model):
    call: CallInfo


class SfuAnswer(_Model):
    """The SFU's answer to an offer, and which participant each receive slot carries."""

    sdp: str
    sdp_type: Literal["answer"] = "answer"
    track_owners: dict[str, str] = {}


class SfuOffer(_Model):
    """The SFU's offer for a subscriber connection (None: nobody publishes yet), with which
    participant each receive slot (mid) carries."""

    sdp: str | None = None
    track_owners: dict[str, str] = {}


class RoomInfo(_Model):
    """One running call in the room directory. Who is in it is listed for its members only;
    everyone else sees how many."""

    cid: str
    type: CallType
    id: str
    participant_count: int
    #: Seconds since the call was created on this server.
    running_s: float
    participants: list[UserInfo] = []


class CallListResult(_Model):
    calls: list[RoomInfo]
    #: More calls run than the reply lists (it lists the ones with the most people first).
    more: int = 0


class InviteResult(_Model):
    """A guest token for one call, and the guest's user id and expiry; ``base_url``: where
    guests reach this server (``mctui serve --public-url``), if it differs from the client's."""

    token: str
    guest_id: str
    expires_at: float
    base_url: str | None = None


class EmptyResult(_Model):
    pass


class TokenResult(_Model):
    expires_at: float


#: What a reply's result can be.
ResultModel = (
    HelloResult
    | JoinResult
    | CallResult
    | SfuAnswer
    | SfuOffer
    | CallListResult
    | InviteResult
    | EmptyResult
    | TokenResult
)


# --- requests (client -> server) ----------------------------------------------------------------


ResultT = TypeVar("ResultT", bound=_Model)


class RequestModel(_Model, Generic[ResultT]):
    """What a client sends: strict, an unknown field is a typed ``bad_request``. Each request
    names the model its reply's result is (``HelloRequest(RequestModel[HelloResult])``): the
    coordinator must return that, and the client parses the reply into it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: int = Field(ge=0)

    @classmethod
    def result_type(cls) -> type[_Model]:
        """The result model this request's reply carries (from its ``RequestModel[...]``)."""
        for base in cls.__mro__:
            metadata = getattr(base, "__pydantic_generic_metadata__", None)
            if metadata and metadata["origin"] is RequestModel and metadata["args"]:
                result: type[_Model] = metadata["args"][0]
                return result
        raise TypeError(f"{cls.__name__} does not name its result model")

    @classmethod
    def type_name(cls) -> str:
        """This request's ``type`` on the wire."""
        name: str = cls.model_fields["type"].default
        return name


class HelloRequest(RequestModel[HelloResult]):
    type: Literal["hello"] = "hello"
    version: int
    token: str
    #: A random id the client keeps for its whole life (not per connection). A hello with the
    #: id of a connection that dropped less than the grace period ago takes over its calls: the
    #: user stays the same participant and the others see no leave or join.
    resume: str | None = Field(
        default=None, min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )


class SfuSubscribeRequest(RequestModel[SfuOffer]):
    """Ask the SFU to send the others' audio (an SFU that makes the subscriber's offer itself,
    as Janus does): the reply is its offer, or no SDP while nobody publishes; later offers
    come as ``sfu.offer`` events. Answers go back as ``sfu_signal`` with ``sdp_type`` answer."""

    type: Literal["sfu_subscribe"] = "sfu_subscribe"
    cid: str


#: How long an invite lasts by default, and at least (the server's token lifetime caps it).
INVITE_TTL_S = 2 * 3600
MIN_INVITE_TTL_S = 60


class ListCallsRequest(RequestModel[CallListResult]):
    """The room directory: the running calls this connection may join (a guest: its own)."""

    type: Literal["list_calls"] = "list_calls"


class CreateInviteRequest(RequestModel[InviteResult]):
    """A member asks for a guest token for one call: it may join only that call (as a member,
    or a viewer in a livestream) and cannot end it or ring anyone. The client makes the link."""

    type: Literal["create_invite"] = "create_invite"
    cid: str
    ttl_s: int = Field(default=INVITE_TTL_S, ge=MIN_INVITE_TTL_S)
    name: DisplayName = Field(default="", max_length=64)


class PingRequest(RequestModel[EmptyResult]):
    """A keepalive: the client sends one every few seconds and treats a missing reply as a
    dead connection (a blackholed TCP connection can take minutes to fail by itself)."""

    type: Literal["ping"] = "ping"


class GetOrCreateCallRequest(RequestModel[CallResult]):
    type: Literal["get_or_create_call"] = "get_or_create_call"
    call_type: CallType
    call_id: _IdStr
    members: list[_IdStr] = []
    create: bool = True


class JoinCallRequest(RequestModel[JoinResult]):
    type: Literal["join_call"] = "join_call"
    call_type: CallType
    call_id: _IdStr
    create: bool = True
    #: Set by a client rejoining after its connection dropped: the role it held. Joining a call
    #: this connection is already in (it resumed) is then not an error but a resync. The role
    #: itself is never believed: see ``role_claim``.
    rejoin_role: MemberRole | None = None
    #: The ``role_claim`` of this user's last join of this call, signed by the server: a call
    #: that a server restart lost is recreated with each rejoining client in the role its own
    #: claim names, and nobody else's.
    role_claim: str | None = Field(default=None, max_length=2048)


class LeaveCallRequest(RequestModel[EmptyResult]):
    type: Literal["leave_call"] = "leave_call"
    cid: str


class EndCallRequest(RequestModel[EmptyResult]):
    type: Literal["end_call"] = "end_call"
    cid: str


class RingRequest(RequestModel[EmptyResult]):
    type: Literal["ring"] = "ring"
    cid: str
    members: list[_IdStr] = Field(min_length=1)


class AcceptCallRequest(RequestModel[EmptyResult]):
    type: Literal["accept_call"] = "accept_call"
    cid: str


class RejectCallRequest(RequestModel[EmptyResult]):
    """A callee declines (``decline``/``busy``), or the caller cancels (``cancel``)."""

    type: Literal["reject_call"] = "reject_call"
    cid: str
    reason: RejectReason = "decline"


class UpdateMuteRequest(RequestModel[EmptyResult]):
    type: Literal["update_mute"] = "update_mute"
    cid: str
    audio_muted: bool


class UpdateTokenRequest(RequestModel[TokenResult]):
    """A fresh token for the same user, mid-session, before (or after) the old one expires."""

    type: Literal["update_token"] = "update_token"
    token: str = Field(max_length=4096)


#: Which of a participant's two SFU connections a message is about.
class SfuRole(StrEnum):
    """Which of a participant's two media connections to an SFU: the one it sends on, or the
    one it receives the others on."""

    PUBLISHER = "publisher"
    SUBSCRIBER = "subscriber"


class SfuSignalRequest(RequestModel[SfuAnswer]):
    """SDP for the embedded SFU: an offer for the publisher or subscriber connection."""

    type: Literal["sfu_signal"] = "sfu_signal"
    cid: str
    role: SfuRole
    sdp: str = Field(max_length=60_000)
    sdp_type: Literal["offer", "answer"] = "offer"
    #: The offer may leave candidates out (they follow as ``sfu_candidate``), and the client
    #: takes the SFU's own late candidates as ``sfu.candidate`` events. False: the SDP carries
    #: every candidate (clients that gather first).
    trickle: bool = False
    #: This offer starts a new connection for ``role`` (the old one failed or was lost with
    #: the signalling): the SFU drops the old one instead of renegotiating it.
    restart: bool = False


class SfuCandidateRequest(RequestModel[EmptyResult]):
    """One trickled ICE candidate for a connection already offered (RFC 8838), or, with
    ``candidate`` left out, the end of this side's candidates."""

    type: Literal["sfu_candidate"] = "sfu_candidate"
    cid: str
    role: SfuRole
    #: The SDP attribute value: ``candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host``.
    candidate: str | None = Field(default=None, max_length=512)
    sdp_mid: str | None = Field(default=None, max_length=32)


Request = Annotated[
    HelloRequest
    | GetOrCreateCallRequest
    | JoinCallRequest
    | LeaveCallRequest
    | EndCallRequest
    | RingRequest
    | AcceptCallRequest
    | RejectCallRequest
    | UpdateMuteRequest
    | UpdateTokenRequest
    | SfuSignalRequest
    | SfuCandidateRequest
    | SfuSubscribeRequest
    | CreateInviteRequest
    | ListCallsRequest
    | PingRequest,
    Field(discriminator="type"),
]
REQUEST_ADAPTER: TypeAdapter[Request] = TypeAdapter(Request)
#: Every request model, from the union, and their ``type`` names (so a new request is known to
#: the frame checks and the fuzzer without another list to keep).
REQUEST_MODELS: tuple[type[RequestModel[Any]], ...] = get_args(get_args(Request)[0])
REQUEST_TYPES: frozenset[str] = frozenset(model.type_name() for model in REQUEST_MODELS)


# --- replies ---------------------------------------------------------------------------------


class Reply(_Model):
    """A request's success: ``result`` is its ``result_type()`` as JSON, which the client parses
    into the model its request named."""

    type: Literal["reply"] = "reply"
    id: int
    result: dict[str, Any] = {}

    @classmethod
    def to(cls, request: RequestModel[Any], result: _Model) -> Reply:
        """The reply to ``request``; ``result`` must be the very model the request names."""
        expected = request.result_type()
        if type(result) is not expected:
            raise TypeError(
                f"{request.type_name()!r} replies with {expected.__name__}, "
                f"not {type(result).__name__}"
            )
        return cls(id=request.id, result=result.model_dump(mode="json"))


class ErrorReply(_Model):
    type: Literal["error"] = "error"
    id: int | None = None
    code: ErrorCode
    message: str


# --- events (server -> client) ------------------------------------------------------------------


class CallRingEvent(_Model):
    type: Literal["call.ring"] = "call.ring"
    call: CallInfo
    caller: UserInfo
    #: Seconds until the ring times out (missed), so the callee can show a countdown.
    timeout_s: float | None = None


class CallAcceptedEvent(_Model):
    type: Literal["call.accepted"] = "call.accepted"
    cid: str
    user: UserInfo


class CallRejectedEvent(_Model):
    """A callee rejected (to the caller), or the caller cancelled (to the callees)."""

    type: Literal["call.rejected"] = "call.rejected"
    cid: str
    user: UserInfo
    reason: RejectReason


class CallMissedEvent(_Model):
    """A ring timed out; sent to the caller and to the callee who did not answer."""

    type: Literal["call.missed"] = "call.missed"
    cid: str
    user: UserInfo


class CallEndedEvent(_Model):
    type: Literal["call.ended"] = "call.ended"
    cid: str
    by: UserInfo


class ParticipantJoinedEvent(_Model):
    type: Literal["call.participant_joined"] = "call.participant_joined"
    cid: str
    user: UserInfo
    role: MemberRole


#: Why a participant left: by their own request, their connection closed, their connection was
#: lost and the grace period ran out, or the call ended.
LeaveReason = Literal["left", "disconnected", "timeout", "ended"]


class ParticipantLeftEvent(_Model):
    type: Literal["call.participant_left"] = "call.participant_left"
    cid: str
    user: UserInfo
    reason: LeaveReason = "left"


class ParticipantAwayEvent(_Model):
    """A participant's connection was lost (``away``) and the server keeps their place for the
    grace period; or they came back (``away`` false) without leaving."""

    type: Literal["call.participant_away"] = "call.participant_away"
    cid: str
    user: UserInfo
    away: bool


class ParticipantMutedEvent(_Model):
    type: Literal["call.participant_muted"] = "call.participant_muted"
    cid: str
    user: UserInfo
    audio_muted: bool


class SfuTracksEvent(_Model):
    """Which participant each receive slot (transceiver ``mid``) of the subscriber carries.

    ``slots_needed``: how many receive slots the client should offer; when it has fewer, it adds
    recvonly transceivers and sends a new subscriber offer.
    """

    type: Literal["sfu.tracks"] = "sfu.tracks"
    cid: str
    track_owners: dict[str, str] = {}
    slots_needed: int = 0


class SfuOfferEvent(_Model):
    """A new offer from the SFU for this client's subscriber connection (publishers came or
    went); the client answers with ``sfu_signal`` (``sdp_type`` answer)."""

    type: Literal["sfu.offer"] = "sfu.offer"
    cid: str
    sdp: str
    track_owners: dict[str, str] = {}


class CallMediaErrorEvent(_Model):
    """The media server of this call failed (a Janus instance went away): the client rebuilds
    its media, which the server places on a media server that works."""

    type: Literal["call.media_error"] = "call.media_error"
    cid: str
    message: str


class SfuCandidateEvent(_Model):
    """One of the SFU's late ICE candidates for a trickling connection, or (no ``candidate``)
    the end of them."""

    type: Literal["sfu.candidate"] = "sfu.candidate"
    cid: str
    role: SfuRole
    candidate: str | None = None
    sdp_mid: str | None = None


class ParticipantActivity(_Model):
    """One publisher's speaking activity as the SFU sees it (RFC 6464 levels in RTP headers)."""

    level_dbfs: float
    speaking: bool


class CallLevelsEvent(_Model):
    """Speaking activity of every publisher in a call, sent by the SFU to each participant at up
    to 10 Hz and only when something changed, so a client knows who talks in a call it has
    suspended (and hears nothing of)."""

    type: Literal["call.levels"] = "call.levels"
    cid: str
    levels: dict[str, ParticipantActivity] = {}


#: Every event about one call the client is in: each carries the call's ``cid``, by which the
#: client routes it to its ``Call`` (``Call.handle_event`` matches them all).
CallEvent = (
    CallAcceptedEvent
    | CallRejectedEvent
    | CallMissedEvent
    | CallEndedEvent
    | ParticipantJoinedEvent
    | ParticipantLeftEvent
    | ParticipantAwayEvent
    | ParticipantMutedEvent
    | SfuTracksEvent
    | SfuOfferEvent
    | CallMediaErrorEvent
    | SfuCandidateEvent
    | CallLevelsEvent
)

Event = Annotated[CallRingEvent | CallEvent, Field(discriminator="type")]

ServerMessage = Annotated[Reply | ErrorReply | Event, Field(discriminator="type")]
SERVER_MESSAGE_ADAPTER: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
