"""The WebSocket protocol's pure rules: parsing client messages, channels, frames."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from stocks_api.streaming.protocol import (
    FIXED_CHANNELS,
    MAX_CHANNELS_PER_MESSAGE,
    QUOTE_TOPIC,
    TOPIC_CHANNELS,
    ClientMessage,
    Op,
    ProtocolError,
    channel_of,
    encode,
    frame,
    normalize_channel,
    parse_channels,
    parse_client_message,
    quote_symbol,
    timestamp,
)


def parse(raw: Any) -> ClientMessage:
    return parse_client_message(json.dumps(raw))


def refused(text: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(text)
    return caught.value


def refused_raw(raw: Any) -> ProtocolError:
    return refused(json.dumps(raw))


# -- valid messages -----------------------------------------------------------------------


def test_subscribe_parses_its_channels() -> None:
    message = parse({"op": "subscribe", "channels": ["orders", "quotes:AAPL"]})
    assert message == ClientMessage(Op.SUBSCRIBE, channels=("orders", "quotes:AAPL"))
    assert message.token is None
    assert message.id is None


def test_unsubscribe_parses_its_channels() -> None:
    message = parse({"op": "unsubscribe", "channels": ["fills"]})
    assert message.op is Op.UNSUBSCRIBE
    assert message.channels == ("fills",)


def test_ping_needs_nothing_else() -> None:
    assert parse({"op": "ping"}) == ClientMessage(Op.PING)


def test_ping_ignores_channels() -> None:
    assert parse({"op": "ping", "channels": "not even a list"}).channels == ()


def test_auth_carries_its_token() -> None:
    message = parse({"op": "auth", "token": "sk_abc"})
    assert message == ClientMessage(Op.AUTH, token="sk_abc")
    assert message.channels == ()


def test_every_fixed_channel_is_accepted() -> None:
    message = parse({"op": "subscribe", "channels": list(FIXED_CHANNELS)})
    assert message.channels == FIXED_CHANNELS


@pytest.mark.parametrize("message_id", ["req-1", "", 0, 7, -3, 2**63])
@pytest.mark.parametrize(
    "raw",
    [
        {"op": "ping"},
        {"op": "auth", "token": "t"},
        {"op": "subscribe", "channels": ["orders"]},
        {"op": "unsubscribe", "channels": ["orders"]},
    ],
)
def test_an_id_is_echoed_as_given(raw: dict[str, Any], message_id: str | int) -> None:
    message = parse(raw | {"id": message_id})
    assert message.id == message_id
    assert type(message.id) is type(message_id)


def test_a_null_id_is_no_id() -> None:
    assert parse({"op": "ping", "id": None}).id is None


@pytest.mark.parametrize("message_id", [True, False, 1.5, 1.0, [1], {"a": 1}])
def test_an_id_that_is_neither_string_nor_integer_is_refused(message_id: Any) -> None:
    error = refused_raw({"op": "ping", "id": message_id})
    assert error.code == "INVALID_MESSAGE"
    assert "id" in error.message


def test_unknown_extra_fields_are_ignored() -> None:
    assert parse({"op": "ping", "extra": [1, 2]}) == ClientMessage(Op.PING)


def test_bytes_are_parsed_like_text() -> None:
    message = parse_client_message(b'{"op": "subscribe", "channels": ["risk"], "id": 3}')
    assert message == ClientMessage(Op.SUBSCRIBE, channels=("risk",), id=3)


# -- invalid JSON and non-objects ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "{",
        "not json",
        "{'op': 'ping'}",
        '{"op": "ping"',
        '{"op": "ping"} trailing',
        "\ufeff{}",
        b"",
        b"{",
        b"\xff\xfe\xfd",
        b'{"op": "\xff"}',
        b"\xc3\x28",
    ],
)
def test_invalid_json_is_refused(text: str | bytes) -> None:
    error = refused(text)
    assert error.code == "INVALID_JSON"
    assert error.as_data() == {
        "code": "INVALID_JSON",
        "message": "the message is not valid JSON",
        "details": [],
    }


@pytest.mark.parametrize("text", ["[]", '[{"op": "ping"}]', "1", "1.5", '"ping"', "null", "true"])
def test_json_that_is_not_an_object_is_refused(text: str) -> None:
    error = refused(text)
    assert error.code == "INVALID_MESSAGE"
    assert "JSON object" in error.message


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000,
        '{"op": "subscribe", "channels": ' + "[" * 5000 + "]" * 5000 + "}",
    ],
    ids=["unbalanced", "nested-channels"],
)
def test_deeply_nested_json_is_refused_as_a_protocol_error(text: str) -> None:
    error = refused(text)
    assert error.code in {"INVALID_JSON", "INVALID_MESSAGE"}


# -- op ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"op": None},
        {"op": "publish"},
        {"op": "SUBSCRIBE", "channels": ["orders"]},
        {"op": " ping"},
        {"op": ""},
        {"op": 1},
        {"op": ["ping"]},
        {"op": {"name": "ping"}},
        {"op": True},
        {"channels": ["orders"]},
    ],
)
def test_a_missing_unknown_or_non_string_op_is_refused(raw: dict[str, Any]) -> None:
    error = refused_raw(raw)
    assert error.code == "UNKNOWN_OP"
    assert error.details == [{"loc": ["op"], "msg": "one of auth, subscribe, unsubscribe, ping"}]
    assert repr(raw.get("op")) in error.message


def test_an_invalid_id_is_reported_before_an_unknown_op() -> None:
    assert refused_raw({"op": "nope", "id": True}).code == "INVALID_MESSAGE"


# -- channels ---------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["subscribe", "unsubscribe"])
@pytest.mark.parametrize(
    "channels",
    [None, [], "orders", {"orders": True}, 1, ["orders", 1], [None], [["orders"]]],
    ids=["null", "empty", "string", "object", "number", "mixed", "list-of-null", "nested"],
)
def test_channels_must_be_a_non_empty_list_of_strings(op: str, channels: Any) -> None:
    error = refused_raw({"op": op, "channels": channels})
    assert error.code == "INVALID_MESSAGE"
    assert error.details == [{"loc": ["channels"], "msg": "a non-empty list of strings"}]


@pytest.mark.parametrize("op", ["subscribe", "unsubscribe"])
def test_missing_channels_are_refused(op: str) -> None:
    error = refused_raw({"op": op})
    assert error.code == "INVALID_MESSAGE"
    assert error.details[0]["loc"] == ["channels"]


def test_as_many_channels_as_allowed_are_accepted() -> None:
    names = [f"quotes:S{i}" for i in range(MAX_CHANNELS_PER_MESSAGE)]
    assert parse({"op": "subscribe", "channels": names}).channels == tuple(names)


def test_too_many_channels_are_refused() -> None:
    names = [f"quotes:S{i}" for i in range(MAX_CHANNELS_PER_MESSAGE + 1)]
    error = refused_raw({"op": "subscribe", "channels": names})
    assert error.code == "INVALID_MESSAGE"
    assert str(MAX_CHANNELS_PER_MESSAGE) in error.message


def test_too_many_channels_counts_duplicates_too() -> None:
    error = refused_raw({"op": "subscribe", "channels": ["orders"] * 101})
    assert error.code == "INVALID_MESSAGE"


def test_unknown_channels_are_each_listed() -> None:
    error = refused_raw(
        {"op": "subscribe", "channels": ["orders", "trades", "quotes:", "ORDERS", "trades"]}
    )
    assert error.code == "UNKNOWN_CHANNEL"
    assert [d["input"] for d in error.details] == ["trades", "quotes:", "ORDERS", "trades"]
    assert all(d["loc"] == ["channels"] and d["msg"] == "unknown channel" for d in error.details)
    assert "'trades'" in error.message
    assert "'quotes:'" in error.message
    assert "quotes:SYMBOL" in error.message


@pytest.mark.parametrize(
    "name",
    [
        "quotes:",
        "quotes:   ",
        "quotes:1ABC",
        "quotes:.A",
        "quotes:TOOLONGSYMBOL1",
        "quotes:ABCDEFGHIJKLM",
        "quotes:AA PL",
        "quotes:AAPL-B",
        "quotes:AAPL:X",
        "quotes:AA/PL",
        "quote:AAPL",
        "quotesAAPL",
        "AAPL",
        "Orders",
        "order",
        "",
        " orders",
    ],
)
def test_bad_channel_names_are_unknown(name: str) -> None:
    assert normalize_channel(name) is None
    error = refused_raw({"op": "unsubscribe", "channels": [name]})
    assert error.code == "UNKNOWN_CHANNEL"
    assert error.details == [{"loc": ["channels"], "msg": "unknown channel", "input": name}]


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("quotes:aapl", "quotes:AAPL"),
        ("quotes:AAPL", "quotes:AAPL"),
        ("QUOTES:aapl", "quotes:AAPL"),
        ("Quotes:Msft", "quotes:MSFT"),
        ("quotes: aapl ", "quotes:AAPL"),
        ("quotes:brk.b", "quotes:BRK.B"),
        ("quotes:A", "quotes:A"),
        ("quotes:ABCDEFGHIJKL", "quotes:ABCDEFGHIJKL"),  # 12 characters: the longest
        ("quotes:X1", "quotes:X1"),
        ("orders", "orders"),
    ],
)
def test_channels_are_normalised(name: str, canonical: str) -> None:
    assert normalize_channel(name) == canonical
    assert parse({"op": "subscribe", "channels": [name]}).channels == (canonical,)


def test_duplicates_are_removed_keeping_the_first_order() -> None:
    channels = ["quotes:msft", "orders", "quotes:MSFT", "risk", "orders", "quotes:aapl", "risk"]
    assert parse_channels(channels) == ("quotes:MSFT", "orders", "risk", "quotes:AAPL")


# -- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"op": "auth"},
        {"op": "auth", "token": None},
        {"op": "auth", "token": ""},
        {"op": "auth", "token": 123},
        {"op": "auth", "token": ["t"]},
        {"op": "auth", "token": {"value": "t"}},
        {"op": "auth", "token": True},
    ],
)
def test_auth_needs_a_non_empty_string_token(raw: dict[str, Any]) -> None:
    error = refused_raw(raw)
    assert error.code == "INVALID_MESSAGE"
    assert error.details == [{"loc": ["token"], "msg": "a non-empty string"}]


# -- ProtocolError ------------------------------------------------------------------------------


def test_protocol_error_as_data() -> None:
    error = ProtocolError("X", "why", [{"loc": ["a"]}])
    assert str(error) == "why"
    assert error.as_data() == {"code": "X", "message": "why", "details": [{"loc": ["a"]}]}
    assert ProtocolError("X", "why").as_data()["details"] == []


# -- channel of a topic -----------------------------------------------------------------------


@pytest.mark.parametrize(("topic", "channel"), sorted(TOPIC_CHANNELS.items()))
def test_each_topic_has_its_channel(topic: str, channel: str) -> None:
    assert channel_of(topic, {"id": 1, "symbol": "AAPL"}) == channel
    assert channel in FIXED_CHANNELS


def test_every_fixed_channel_has_a_topic() -> None:
    assert sorted(TOPIC_CHANNELS.values()) == sorted(FIXED_CHANNELS)


def test_a_quote_goes_to_the_channel_of_its_symbol() -> None:
    assert channel_of(QUOTE_TOPIC, {"symbol": "AAPL", "bid": "1"}) == "quotes:AAPL"


@pytest.mark.parametrize("data", [{}, {"symbol": None}, {"symbol": 42}, {"bid": "1"}])
def test_a_quote_without_a_symbol_has_no_channel(data: dict[str, Any]) -> None:
    assert channel_of(QUOTE_TOPIC, data) is None


@pytest.mark.parametrize("topic", ["order.created", "orders", "quotes", "", "QUOTE", "risk"])
def test_an_unknown_topic_has_no_channel(topic: str) -> None:
    assert channel_of(topic, {"symbol": "AAPL"}) is None


def test_quote_symbol() -> None:
    assert quote_symbol("quotes:AAPL") == "AAPL"
    assert quote_symbol("quotes:") == ""
    assert quote_symbol("orders") is None
    assert quote_symbol("QUOTES:AAPL") is None


# -- frames and timestamps --------------------------------------------------------------------


def test_frame_is_json_with_the_data_embedded() -> None:
    data = {"id": 7, "symbol": "AAPL", "qty": "10.5", "nested": {"a": [1, None, True]}}
    text = frame("order.updated", 42, "2024-03-04T15:30:00.000000Z", encode(data))
    assert json.loads(text) == {
        "type": "order.updated",
        "seq": 42,
        "ts": "2024-03-04T15:30:00.000000Z",
        "data": data,
    }
    assert list(json.loads(text)) == ["type", "seq", "ts", "data"]


@pytest.mark.parametrize("data", [{}, [], 'text with "quotes" and \\ and é', None, 1.5])
def test_frame_embeds_any_json_data(data: Any) -> None:
    assert json.loads(frame("t", 1, "ts", encode(data)))["data"] == data


def test_encode_is_compact() -> None:
    assert encode({"a": 1, "b": [1, 2]}) == '{"a":1,"b":[1,2]}'


def test_timestamp_is_utc_with_microseconds_and_z() -> None:
    before = datetime.now(UTC)
    text = timestamp()
    after = datetime.now(UTC)
    assert text.endswith("Z")
    assert "+" not in text
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None
    assert before - timedelta(seconds=1) <= parsed <= after + timedelta(seconds=1)
    assert len(text.split(".")[1]) == len("123456Z")


def test_timestamp_of_a_given_time() -> None:
    at = datetime(2024, 3, 4, 15, 30, 1, tzinfo=UTC)
    assert timestamp(at) == "2024-03-04T15:30:01.000000Z"
    assert datetime.fromisoformat(timestamp(at).replace("Z", "+00:00")) == at


def test_timestamp_of_a_non_utc_time_is_in_utc() -> None:
    at = datetime(2024, 3, 4, 17, 30, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp(at) == "2024-03-04T15:30:00.000000Z"
