"""The SSE API: encode, response head and headers, SSEWriter, SSEParser."""
import pickle

import pytest

import pushwire
from pushwire import LocalProtocolError, RemoteProtocolError, sse
from pushwire.sse import Comment, Retry, ServerSentEvent


def test_encode_every_field_in_order():
    assert sse.encode(data="a\nb\r\nc\rd", event="up", id="7", retry=1500, comment="x\ny") == (
        b": x\n: y\nevent: up\nid: 7\nretry: 1500\ndata: a\ndata: b\ndata: c\ndata: d\n\n")


def test_encode_edge_values():
    assert sse.encode(data="") == b"data:\n\n"
    assert sse.encode(data=" lead") == b"data:  lead\n\n"
    assert sse.encode(id="") == b"id:\n\n"
    assert sse.encode(comment="") == b":\n"
    assert sse.encode(comment="keepalive") == b": keepalive\n"
    assert sse.encode(retry=0) == b"retry: 0\n\n"
    assert sse.encode(data=b"bytes \xe2\x82\xac") == "data: bytes €\n\n".encode()
    assert sse.encode(data=memoryview(b"mv"), event=bytearray(b"e")) == b"event: e\ndata: mv\n\n"
    big = "x" * 5000 + "\n" + "y" * 5000
    assert sse.encode(data=big) == b"data: " + b"x" * 5000 + b"\ndata: " + b"y" * 5000 + b"\n\n"


def test_encode_errors_say_what_was_wrong():
    with pytest.raises(LocalProtocolError, match="no field given"):
        sse.encode()
    with pytest.raises(LocalProtocolError, match="event holds CR or LF"):
        sse.encode(data="x", event="a\nb")
    with pytest.raises(LocalProtocolError, match="id holds CR, LF or NUL") as info:
        sse.encode(data="x", id="a\0b")
    assert info.value.name == "INVALID_ARGUMENT"
    with pytest.raises(ValueError, match="non-negative"):
        sse.encode(retry=-1)
    with pytest.raises(TypeError, match="retry must be an int"):
        sse.encode(retry="5")
    with pytest.raises(TypeError):
        sse.encode(data=5)


def test_response_head_and_headers():
    head = sse.response_head([("X-Stream", "1")])
    assert head == (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                    b"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nX-Stream: 1\r\n\r\n")
    assert sse.response_headers() == [("Content-Type", "text/event-stream; charset=utf-8"),
                                      ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]
    with pytest.raises(LocalProtocolError, match="Content-Type"):
        sse.response_head([("Content-Type", "text/plain")])


def test_writer_queue_and_heartbeat():
    w = sse.SSEWriter(heartbeat_ms=1000)
    w.response_head()
    w.event(data="one", id="1")
    w.event(data="two", event="t")
    w.comment("note")
    out = w.data_to_send()
    assert out.endswith(b"data: one\n\nevent: t\ndata: two\n\n: note\n") and out.startswith(b"HTTP/1.1 200 OK")
    assert w.output_size == 0 and w.data_to_send() == b""
    assert w.tick(0) == 1000
    w.tick(1000)
    assert w.data_to_send() == b": heartbeat\n"
    with pytest.raises(LocalProtocolError, match="INVALID_STATE"):
        w.response_head()
    assert sse.SSEWriter().tick(5) is None


def test_writer_limits_and_errors():
    w = sse.SSEWriter(max_output_buffer=32)
    w.event(data="x" * 20)
    with pytest.raises(LocalProtocolError) as info:
        w.event(data="y" * 20)
    assert info.value.name == "BUFFER_FULL"
    assert w.output_size == len(b"data: " + b"x" * 20 + b"\n\n")
    with pytest.raises(LocalProtocolError, match="no field given"):
        w.event()
    with pytest.raises(LocalProtocolError, match="max_output_buffer"):
        sse.SSEWriter(max_output_buffer=0)
    with pytest.raises(TypeError):
        sse.SSEWriter(1)


def test_parser_events_retry_and_ids():
    p = sse.SSEParser()
    assert p.retry_ms is None and p.last_event_id == ""
    evs = p.feed(b"retry: 3000\nid: 1\nevent: tick\ndata: a\ndata: b\n\ndata: c\n")
    assert evs == [Retry(3000), ServerSentEvent("a\nb", "tick", "1")]
    assert p.feed(b"\n") == [ServerSentEvent("c", "message", "1")]
    assert p.retry_ms == 3000 and p.last_event_id == "1"
    assert p.reconnect_headers() == b"Accept: text/event-stream\r\nCache-Control: no-cache\r\nLast-Event-ID: 1\r\n"
    assert sse.SSEParser().reconnect_headers() == b"Accept: text/event-stream\r\nCache-Control: no-cache\r\n"


def test_parser_any_chunking_and_input_types():
    stream = "data: héllo wörld\r\nid: é\r\n\r\n".encode() * 3
    want = sse.SSEParser().feed(stream)
    assert len(want) == 3 and want[0].data == "héllo wörld" and want[0].last_event_id == "é"
    for size in (1, 2, 3, 7):
        p = sse.SSEParser()
        got = []
        for i in range(0, len(stream), size):
            got += p.feed(bytearray(stream[i:i + size]))
        assert got == want
    assert sse.SSEParser().feed(memoryview(stream)) == want
    with pytest.raises(TypeError, match="not str"):
        sse.SSEParser().feed("data: x\n\n")


def test_parser_comments_eof_and_reset():
    p = sse.SSEParser(report_comments=True)
    assert p.feed(b": hi\ndata: x\n\ndata: unterminated\n") == [Comment(" hi"), ServerSentEvent("x")]
    assert p.feed_eof() == []
    p.reset()
    assert p.feed(b"data: again\n\n") == [ServerSentEvent("again")]


def test_parser_limits_attach_the_earlier_events():
    p = sse.SSEParser(max_line=10)
    with pytest.raises(RemoteProtocolError) as info:
        p.feed(b"data: a\n\ndata: 12345\n\n")
    e = info.value
    assert e.events == [ServerSentEvent("a")] and e.name == "LINE_TOO_LONG" and "line" in str(e)
    with pytest.raises(RemoteProtocolError):  # sticky until reset
        p.feed(b"data: b\n\n")
    p.reset()
    assert p.feed(b"data: b\n\n") == [ServerSentEvent("b")]
    p = sse.SSEParser(max_event=8)
    with pytest.raises(RemoteProtocolError) as info:
        p.feed(b"data: 123\ndata: 456\ndata: 789\n\n")
    assert info.value.name == "EVENT_TOO_BIG" and info.value.events == []


def test_parser_options():
    with pytest.raises(TypeError, match="unexpected keyword"):
        sse.SSEParser(max_lines=1)
    with pytest.raises(LocalProtocolError, match="max_line=0"):
        sse.SSEParser(max_line=0)
    with pytest.raises(TypeError, match="keyword"):
        sse.SSEParser(10)
    sse.SSEParser(max_line=1, max_event=1, report_comments=False, max_input_buffer=1)


def test_sse_events_are_values():
    for ev in (ServerSentEvent("d", "t", "i"), ServerSentEvent("d"), Retry(5), Comment(" c")):
        assert pickle.loads(pickle.dumps(ev)) == ev and hash(ev) == hash(pickle.loads(pickle.dumps(ev)))
        assert eval(repr(ev), vars(sse)) == ev
    assert ServerSentEvent("d").type == "message" and ServerSentEvent("d").last_event_id == ""
    with pytest.raises(AttributeError):
        ServerSentEvent("x").data = "y"


def test_top_level_reexports_and_docstrings():
    assert pushwire.SSEParser is sse.SSEParser and pushwire.ServerSentEvent is ServerSentEvent
    missing = []
    for mod in (pushwire, sse):
        assert mod.__doc__
        for name in mod.__all__:
            obj = getattr(mod, name)
            if not isinstance(obj, str) and not getattr(obj, "__doc__", None):
                missing.append(name)
            if isinstance(obj, type):
                for attr, value in vars(obj).items():
                    if not attr.startswith("_") and not getattr(value, "__doc__", None):
                        missing.append(name + "." + attr)
    assert missing == []


def test_round_trip_through_writer_and_parser():
    w = sse.SSEWriter()
    msgs = [dict(data="a\nb", event="e1", id="1"), dict(data="", id="2"), dict(data=" x", retry=10),
            dict(data="€ 😀", event="uni")]
    for m in msgs:
        w.event(**m)
    evs = sse.SSEParser().feed(w.data_to_send())
    assert evs == [ServerSentEvent("a\nb", "e1", "1"), ServerSentEvent("", "message", "2"), Retry(10),
                   ServerSentEvent(" x", "message", "2"), ServerSentEvent("€ 😀", "uni", "2")]
