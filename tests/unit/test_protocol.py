"""The typed wire: every request names its result model, and a reply must carry that model."""

from __future__ import annotations

from typing import get_args

import pytest

from mctui import protocol as p


def test_every_request_names_a_result_model_of_the_wire() -> None:
    results = set(get_args(p.ResultModel))
    named = {model.type_name(): model.result_type() for model in p.REQUEST_MODELS}
    assert set(named) == p.REQUEST_TYPES and len(named) == 16
    assert set(named.values()) <= results
    # A few that matter, spelled out (the client relies on them to read its replies).
    assert named["hello"] is p.HelloResult
    assert named["join_call"] is p.JoinResult
    assert named["sfu_signal"] is p.SfuAnswer
    assert named["sfu_subscribe"] is p.SfuOffer
    assert named["list_calls"] is p.CallListResult


def test_a_reply_carries_exactly_the_model_its_request_names() -> None:
    ping = p.REQUEST_ADAPTER.validate_python({"type": "ping", "id": 7})
    assert p.Reply.to(ping, p.EmptyResult()) == p.Reply(id=7, result={})
    with pytest.raises(TypeError, match="'ping' replies with EmptyResult, not TokenResult"):
        p.Reply.to(ping, p.TokenResult(expires_at=1.0))
    token = p.UpdateTokenRequest(id=8, token="t")
    reply = p.Reply.to(token, p.TokenResult(expires_at=2.5))
    assert token.result_type().model_validate(reply.result) == p.TokenResult(expires_at=2.5)


def test_the_request_union_is_the_frame_checks_list() -> None:
    """``REQUEST_TYPES`` is derived from the union, so the server's frame check, the fuzzer and
    the union cannot disagree."""
    for model in p.REQUEST_MODELS:
        assert issubclass(model, p.RequestModel)
        assert model.model_config.get("extra") == "forbid"
