"""The WebSocket API: every event, option and error, input types, sending by method and by event."""
import array
import pickle
import threading

import pytest

import pushwire
from pushwire import (Accepted, BytesMessage, CloseConnection, ConnectionState, LocalProtocolError, Ping, Pong,
                      ProtocolError, Rejected, RemoteProtocolError, Request, TextMessage)

from wsutil import RFC_ACCEPT, feed, masked, open_pair, open_server, pump, request, unmasked

MiB = 1 << 20

# ---- events as values ----

ALL_EVENTS = [
    Request("/chat", [("host", "h"), (b"x-a", b"b")], ["chat"], ["permessage-deflate"]),
    Accepted("chat"), Accepted(), Rejected(403, "no"), TextMessage("héllo"), TextMessage("a", False),
    BytesMessage(b"\x00\xff"), BytesMessage(bytearray(b"x"), message_finished=False), Ping(b"p"), Pong(), Ping(),
    CloseConnection(1001, "bye"), CloseConnection(),
]


@pytest.mark.parametrize("ev", ALL_EVENTS, ids=repr)
def test_event_value_semantics(ev):
    again = pickle.loads(pickle.dumps(ev))
    assert again == ev and hash(again) == hash(ev) and type(again) is type(ev)
    assert repr(ev).startswith(type(ev).__name__ + "(")
    assert eval(repr(ev), vars(pushwire)) == ev
    assert isinstance(ev, pushwire.Event)
    for name in type(ev).__match_args__:
        getattr(ev, name)
        with pytest.raises(AttributeError):
            setattr(ev, name, None)
    with pytest.raises(AttributeError):
        ev.other = 1  # no __dict__


def test_event_fields_and_defaults():
    r = ALL_EVENTS[0]
    assert r.headers == (("host", "h"), ("x-a", "b")) and r.subprotocols == ("chat",)
    assert Accepted().subprotocol is None
    assert TextMessage("x").message_finished is True
    assert BytesMessage(bytearray(b"x"), message_finished=False).data == b"x"
    assert CloseConnection() == CloseConnection(1000, "")
    assert Ping(b"ab").response() == Pong(b"ab")
    assert CloseConnection(1001, "x").response() == CloseConnection(1001, "x")
    assert isinstance(TextMessage("x"), pushwire.Message) and isinstance(BytesMessage(b""), pushwire.Message)
    assert TextMessage("x") != BytesMessage(b"x") and Ping(b"x") != Pong(b"x")
    assert len({TextMessage("a"), TextMessage("a"), TextMessage("b")}) == 2


def test_event_constructor_errors():
    with pytest.raises(TypeError, match="data must be str"):
        TextMessage(b"x")
    with pytest.raises(TypeError, match="bytes-like"):
        BytesMessage("x")
    with pytest.raises(TypeError, match="missing required argument 'data'"):
        TextMessage()
    with pytest.raises(TypeError, match="unexpected keyword"):
        Ping(data=b"")
    with pytest.raises(TypeError, match="multiple values"):
        CloseConnection(1000, code=1000)
    with pytest.raises(TypeError, match="code must be int"):
        CloseConnection("1000")
    with pytest.raises(TypeError, match="at most"):
        Pong(b"", b"")
    with pytest.raises(TypeError, match="sequence of str"):
        Request("/", subprotocols="chat")
    with pytest.raises(TypeError, match="abstract"):
        pushwire.Event()


# ---- server handshake ----

def test_server_request_accept_with_subprotocol_and_headers():
    s = pushwire.ServerConnection(subprotocols=["superchat", "chat"])
    extra = b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n" \
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo\r\n"
    (req,) = feed(s, request("/room?x=1", extra))
    assert req.target == "/room?x=1"
    assert ("origin", "http://example.com") in req.headers and req.headers[0] == ("host", "server.example.com")
    assert req.subprotocols == ("chat", "superchat")
    assert req.extensions[0].startswith("permessage-deflate") and "client_max_window_bits" in req.extensions[0]
    assert req.extensions[1] == "x-foo"
    assert s.state is ConnectionState.HANDSHAKE
    s.accept("chat", extra_headers=[("X-Server", "pushwire")])
    out = s.data_to_send()
    assert out.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: " + RFC_ACCEPT.encode() in out and b"Sec-WebSocket-Protocol: chat\r\n" in out
    assert b"X-Server: pushwire\r\n" in out
    assert s.state is ConnectionState.OPEN


def test_server_accept_default_subprotocol_is_the_preferred_offered_one():
    s = pushwire.ServerConnection(subprotocols=["superchat", "chat"])
    feed(s, request(extra=b"Sec-WebSocket-Protocol: chat, superchat\r\n"))
    s.accept()
    assert b"Sec-WebSocket-Protocol: superchat\r\n" in s.data_to_send()


def test_server_frames_with_the_request_arrive_after_accept():
    s = pushwire.ServerConnection()
    evs = feed(s, request() + masked(0x81, b"Hello"))
    assert [type(e) for e in evs] == [Request]
    s.accept()
    assert list(s.events()) == [TextMessage("Hello")]


def test_server_accept_by_event_returns_bytes():
    s = pushwire.ServerConnection(subprotocols=["chat"])
    feed(s, request(extra=b"Sec-WebSocket-Protocol: chat\r\n"))
    s.send(Accepted("chat"))
    assert s.data_to_send().startswith(b"HTTP/1.1 101")


def test_server_reject_by_method_and_event():
    s = pushwire.ServerConnection()
    feed(s, request())
    s.reject(403, "go away", headers=[("X-Why", "policy")])
    out = s.data_to_send()
    assert out.startswith(b"HTTP/1.1 403 Forbidden\r\n") and out.endswith(b"\r\n\r\ngo away")
    assert b"X-Why: policy\r\n" in out and b"Connection: close\r\n" in out
    assert s.state is ConnectionState.CLOSED
    s2 = pushwire.ServerConnection()
    feed(s2, request())
    s2.send(Rejected(401, "login first"))
    assert s2.data_to_send().endswith(b"login first")


def test_auto_accept():
    s = pushwire.ServerConnection(auto_accept=True, subprotocols=["chat"])
    assert feed(s, request(extra=b"Sec-WebSocket-Protocol: chat\r\n")) == [Accepted("chat")]
    assert s.data_to_send().startswith(b"HTTP/1.1 101")


def test_invalid_request_rejected_with_status_hint():
    s = pushwire.ServerConnection()
    evs = feed(s, b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert evs == [Rejected(400, "Sec-WebSocket-Key missing")]
    assert s.data_to_send().startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert s.state is ConnectionState.FAILED
    err = s.error
    assert isinstance(err, RemoteProtocolError) and err.name == "BAD_HANDSHAKE" and err.status_hint == 400
    assert err.close_code is None and "Sec-WebSocket-Key" in str(err)
    with pytest.raises(RemoteProtocolError) as info:
        s.receive_data(b"more")
    assert info.value.status_hint == 400 and info.value.code == pushwire._pushwire.error_codes["BAD_HANDSHAKE"]


def test_origins_and_require_origin():
    s = pushwire.ServerConnection(origins=["https://*.example.com"])
    assert feed(s, request(extra=b"Origin: https://evil.com\r\n")) == [Rejected(403, "Origin not allowed")]
    assert s.error.status_hint == 403
    s = pushwire.ServerConnection(origins=["https://*.example.com"], auto_accept=True)
    assert feed(s, request(extra=b"Origin: https://a.example.com\r\n")) == [Accepted()]
    s = pushwire.ServerConnection(origins=["https://example.com"], require_origin=True)
    (ev,) = feed(s, request())
    assert isinstance(ev, Rejected) and ev.status == 403
    with pytest.raises(LocalProtocolError, match="origin"):
        pushwire.ServerConnection(origins=["not an origin"])


def test_max_head_size_and_max_headers():
    s = pushwire.ServerConnection(max_head_size=48)
    (ev,) = feed(s, request())
    assert ev.status == 431
    s = pushwire.ServerConnection(max_headers=3)
    (ev,) = feed(s, request())
    assert ev.status == 431 and s.error.name == "HEAD_TOO_LARGE"


# ---- client handshake ----

def test_client_handshake_and_subprotocol():
    s, c = open_pair(server_kw={"subprotocols": ["chat"]}, subprotocols=["chat", "other"])
    c.send_text("hi")
    assert feed(s, c.data_to_send()) == [TextMessage("hi")]


def test_client_start_later_and_by_request_event():
    c = pushwire.ClientConnection()
    assert c.data_to_send() == b""
    c.start("example.com:8080", "/x?y=1")
    out = c.data_to_send()
    assert out.startswith(b"GET /x?y=1 HTTP/1.1\r\nHost: example.com:8080\r\n")
    c2 = pushwire.ClientConnection(random=lambda n: b"\x01" * n)
    c2.send(Request("/r", [("Host", "h"), ("Origin", "http://o")], ["chat"]))
    out = c2.data_to_send()
    assert out.startswith(b"GET /r HTTP/1.1\r\nHost: h\r\n") and b"Origin: http://o\r\n" in out
    assert b"Sec-WebSocket-Protocol: chat\r\n" in out
    with pytest.raises(ValueError, match="Host"):
        pushwire.ClientConnection().send(Request("/"))


def test_client_extra_headers():
    c = pushwire.ClientConnection("h", extra_headers=[("Origin", "https://app"), (b"X-Token", b"t")])
    out = c.data_to_send()
    assert b"Origin: https://app\r\n" in out and b"X-Token: t\r\n" in out
    with pytest.raises(LocalProtocolError, match="header"):
        pushwire.ClientConnection("h", extra_headers=[("Upgrade", "x")])


def test_client_rejected_by_server():
    c = pushwire.ClientConnection("h")
    c.data_to_send()
    evs = feed(c, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    assert len(evs) == 1 and isinstance(evs[0], Rejected) and evs[0].status == 403
    assert c.error.name == "HANDSHAKE_REJECTED"


def test_client_bad_accept():
    c = pushwire.ClientConnection("h")
    c.data_to_send()
    evs = feed(c, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n")
    assert isinstance(evs[0], Rejected) and evs[0].status == 101 and c.error.name == "BAD_HANDSHAKE"


def test_host_only_for_clients():
    with pytest.raises(TypeError):
        pushwire.WSConnection("server", host="h")
    with pytest.raises(ValueError, match="role"):
        pushwire.WSConnection("peer")
    c = pushwire.WSConnection("client", host="h", target="/t")
    assert c.role == "client" and c.data_to_send().startswith(b"GET /t ")


# ---- messages ----

def test_every_message_kind_both_ways():
    s, c = open_pair()
    c.send_text("txt")
    c.send_bytes(b"\x00\x01")
    c.ping(b"p1")
    c.pong(b"u1")
    for ev in (TextMessage("ev"), BytesMessage(b"evb"), Ping(b"p2"), Pong(b"u2")):
        assert c.send(ev) is None  # queues, like the methods
    evs = feed(s, c.data_to_send())
    assert evs == [TextMessage("txt"), BytesMessage(b"\x00\x01"), Ping(b"p1"), Pong(b"u1"), TextMessage("ev"),
                   BytesMessage(b"evb"), Ping(b"p2"), Pong(b"u2")]
    # auto_pong answered both pings
    assert feed(c, s.data_to_send()) == [Pong(b"p1"), Pong(b"p2")]
    s.send_text("back")
    s.send_bytes(memoryview(b"mv"))
    assert feed(c, s.data_to_send()) == [TextMessage("back"), BytesMessage(b"mv")]


def test_input_types():
    frames = masked(0x81, b"abc") + masked(0x82, b"\x01")
    want = [TextMessage("abc"), BytesMessage(b"\x01")]
    for data in (frames, bytearray(frames), memoryview(frames), memoryview(b"xx" + frames)[2:],
                 array.array("B", frames)):
        assert feed(open_server(), data) == want
    with pytest.raises(TypeError, match="not str"):
        open_server().receive_data("text")
    with pytest.raises(TypeError):
        open_server().receive_data(5)


def test_send_inputs():
    s = open_server()
    s.send_text(b"utf8 bytes")
    s.send_text(bytearray("é".encode()))
    s.send_bytes(array.array("B", b"ab"))
    assert s.data_to_send() == b"\x81\x0autf8 bytes\x81\x02\xc3\xa9\x82\x02ab"
    with pytest.raises(TypeError, match="not str"):
        s.send_bytes("x")
    with pytest.raises(TypeError):
        s.send_text(1)


def test_send_fragments_by_method_and_event():
    s, c = open_pair()
    c.send_text("he", message_finished=False)
    c.ping(b"between")
    c.send_text("llo")
    c.send(BytesMessage(b"a", message_finished=False))
    c.send(BytesMessage(b"b", message_finished=True))
    assert feed(s, c.data_to_send()) == [Ping(b"between"), TextMessage("hello"), BytesMessage(b"ab")]


def test_streaming_mode():
    s = open_server(streaming=True)
    evs = feed(s, bytes([0x01, 0x82, 0, 0, 0, 0]) + b"ab")
    assert evs == [TextMessage("ab", False)]
    evs = feed(s, bytes([0x80, 0x82, 0, 0, 0, 0]) + b"cd")
    assert evs == [TextMessage("cd", True)]
    # a character split across chunks is held back until complete
    evs = feed(s, bytes([0x81, 0x84, 0, 0, 0, 0]) + b"a\xe2")
    assert evs == [TextMessage("a", False)]
    assert feed(s, b"\x82\xac") == [TextMessage("€", True)]


def test_binary_and_large_message():
    s = open_server()
    payload = bytes(range(256)) * 1024
    assert feed(s, masked(0x82, payload)) == [BytesMessage(payload)]


def test_utf8_validation_both_ways():
    s = open_server()
    evs = feed(s, masked(0x81, b"\xff"))
    assert evs == [CloseConnection(1007, "invalid UTF-8 in text message")]
    assert s.error.close_code == 1007 and s.error.name == "BAD_UTF8"
    s = open_server()
    with pytest.raises(LocalProtocolError, match="INVALID_ARGUMENT"):
        s.send_text(b"\xff")
    open_server(validate_outgoing_utf8=False).send_text(b"\xff")


# ---- closing ----

def test_close_initiated_by_client():
    s, c = open_pair()
    c.close(1000, "bye")
    assert c.state is ConnectionState.CLOSING
    evs = feed(s, c.data_to_send())
    assert evs == [CloseConnection(1000, "bye")]
    assert feed(c, s.data_to_send()) == [CloseConnection(1000, "")]  # auto_close echo
    assert c.state is ConnectionState.CLOSED and s.state is ConnectionState.CLOSED
    assert c.error is None and s.error is None


def test_close_initiated_by_server_by_event_and_no_code():
    s, c = open_pair()
    s.send(CloseConnection(4000, "custom"))
    assert feed(c, s.data_to_send()) == [CloseConnection(4000, "custom")]
    s2, c2 = open_pair()
    s2.close(None)
    assert feed(c2, s2.data_to_send()) == [CloseConnection(1005, "")]


def test_auto_close_off_lets_the_app_answer():
    s = open_server(auto_close=False)
    evs = feed(s, masked(0x88, b"\x03\xe8ok"))
    assert evs == [CloseConnection(1000, "ok")] and s.data_to_send() == b""
    s.send(evs[0].response())
    assert s.data_to_send() == b"\x88\x04\x03\xe8ok"


def test_auto_pong_off():
    s = open_server(auto_pong=False)
    assert feed(s, masked(0x89, b"x")) == [Ping(b"x")] and s.data_to_send() == b""


def test_close_errors():
    s = open_server()
    with pytest.raises(LocalProtocolError, match="INVALID_ARGUMENT"):
        s.close(1005)
    with pytest.raises(ValueError):
        s.close(70000)
    with pytest.raises(LocalProtocolError):
        s.close(1000, "x" * 124)
    s.close()
    with pytest.raises(LocalProtocolError, match="CLOSED") as info:
        s.send_text("late")
    assert info.value.name == "CLOSED" and isinstance(info.value, ProtocolError)
    with pytest.raises(LocalProtocolError, match="CLOSED"):
        s.close()


def test_eof_is_1006():
    s = open_server()
    s.receive_data(None)
    assert list(s.events()) == [CloseConnection(1006, "connection lost")]
    assert s.error.name == "CONNECTION_LOST" and s.error.close_code == 1006


def test_protocol_violation_queues_the_close_and_then_raises():
    s = open_server()
    evs = feed(s, masked(0x81, b"ok") + bytes([0x83, 0x80, 0, 0, 0, 0]) + masked(0x81, b"never"))
    assert evs[0] == TextMessage("ok") and isinstance(evs[1], CloseConnection) and evs[1].code == 1002
    assert len(evs) == 2 and s.state is ConnectionState.FAILED
    out = s.data_to_send()
    assert out.startswith(b"\x88") and out[2:4] == b"\x03\xea"
    assert s.close_code_hint == 1002 and s.error_reason
    with pytest.raises(RemoteProtocolError) as info:
        s.receive_data(masked(0x81, b"more"))
    e = info.value
    assert e.close_code == 1002 and e.status_hint is None and e.name == "PROTOCOL"
    assert "PROTOCOL" in str(e) and s.error_reason in str(e)
    with pytest.raises(LocalProtocolError):
        s.send_text("after failure")


def test_unmasked_client_frame_is_a_violation():
    s = open_server()
    (ev,) = feed(s, unmasked(0x81, b"x"))
    assert ev.code == 1002


# ---- limits ----

def test_max_message_size_and_frame_size_and_fragments():
    s = open_server(max_message_size=4)
    assert feed(s, masked(0x81, b"1234")) == [TextMessage("1234")]
    (ev,) = feed(s, masked(0x01, b"123") + masked(0x80, b"45"))
    assert ev.code == 1009 and s.error.name == "MESSAGE_TOO_BIG"
    s = open_server(max_frame_size=2)
    (ev,) = feed(s, masked(0x82, b"123"))
    assert ev.code == 1009
    s = open_server(max_fragments=2)
    (ev,) = feed(s, masked(0x01, b"a") + masked(0x00, b"b") + masked(0x80, b"c"))
    assert ev.code == 1008 and s.error.name == "POLICY"


def test_max_output_buffer():
    s = open_server(max_output_buffer=100)
    s.send_bytes(b"x" * 90)
    with pytest.raises(LocalProtocolError) as info:
        s.send_bytes(b"x" * 20)
    assert info.value.name == "BUFFER_FULL"
    s.data_to_send()
    s.send_bytes(b"x" * 20)


def test_max_input_buffer_while_a_request_waits():
    s = pushwire.ServerConnection(max_input_buffer=64)
    feed(s, request())
    s.receive_data(b"x" * 40)  # held until the answer
    with pytest.raises(LocalProtocolError) as info:
        s.receive_data(b"x" * 40)
    assert info.value.name == "BUFFER_FULL"


# ---- options ----

DEFAULTS = {
    "max_message_size": 16 * MiB, "max_frame_size": 16 * MiB, "max_fragments": 4096, "max_head_size": 16384,
    "max_headers": 64, "max_input_buffer": 4 * MiB, "max_output_buffer": 64 * MiB, "auto_pong": 1, "auto_close": 1,
    "streaming": 0, "ping_interval_ms": 0, "pong_timeout_ms": 0, "handshake": 1, "auto_accept": 0,
    "require_origin": 0, "validate_outgoing_utf8": 1,
}


def test_option_defaults_match_the_core():
    import inspect
    raw = pushwire.WSConnection("server")
    for cls in (pushwire.ServerConnection, pushwire.ClientConnection):
        params = inspect.signature(cls.__init__).parameters
        conn = cls()
        for name, value in DEFAULTS.items():
            assert raw.get_option(name) == value, name
            assert conn.get_option(name) == value, name
            if name in params:
                assert int(params[name].default) == value, (cls.__name__, name)
    assert set(DEFAULTS) - set(inspect.signature(pushwire.ClientConnection.__init__).parameters) == {
        "auto_accept", "require_origin"}


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_each_option_is_passed_through(name):
    value = 0 if DEFAULTS[name] == 1 and name not in ("max_fragments",) else 1 if DEFAULTS[name] == 0 else 7
    if name == "handshake":
        value = 0
    conn = pushwire.WSConnection("server", **{name: value})
    assert conn.get_option(name) == value


def test_option_errors():
    with pytest.raises(TypeError, match="unexpected keyword"):
        pushwire.WSConnection("server", max_size=1)
    with pytest.raises(TypeError, match="int or bool"):
        pushwire.WSConnection("server", max_message_size="1")
    with pytest.raises(ValueError, match="non-negative"):
        pushwire.WSConnection("server", max_message_size=-1)
    with pytest.raises(LocalProtocolError, match="max_message_size=0"):
        pushwire.WSConnection("server", max_message_size=0)
    with pytest.raises(LocalProtocolError, match="streaming=2"):
        pushwire.WSConnection("server", streaming=2)
    with pytest.raises(ValueError, match="unknown option"):
        pushwire.WSConnection("server").get_option("nope")


# ---- keepalive ----

def test_keepalive_ping_and_timeout():
    s = open_server(ping_interval_ms=1000, pong_timeout_ms=500)
    assert s.tick(0) == 1000
    assert s.data_to_send() == b""
    s.tick(1000)
    out = s.data_to_send()
    assert out[:1] == b"\x89"
    s.tick(1499)
    assert list(s.events()) == []
    s.tick(1500)
    assert list(s.events()) == [CloseConnection(1006, "keepalive timeout")]
    assert s.error.name == "TIMEOUT"


def test_keepalive_input_resets_the_clock():
    s = open_server(ping_interval_ms=1000)
    s.tick(0)
    feed(s, masked(0x8A, b""))
    s.tick(900)
    assert s.tick(1000) is not None and s.data_to_send() == b""


def test_keepalive_off():
    assert open_server().tick(5) is None


# ---- random hook, re-entrancy and threads ----

def test_random_hook_drives_the_key_and_masks():
    c = pushwire.ClientConnection("h", random=lambda n: bytes(n))
    assert b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" in c.data_to_send()
    c2 = pushwire.ClientConnection(handshake=False, random=lambda n: bytes(n))
    c2.send_text("hi")
    assert c2.data_to_send() == b"\x81\x82\x00\x00\x00\x00hi"


def test_random_hook_errors_are_chained():
    def bad(n):
        raise KeyError("no entropy")
    with pytest.raises(ProtocolError) as info:
        pushwire.ClientConnection("h", random=bad)
    assert isinstance(info.value.__cause__, KeyError) and info.value.name == "INTERNAL"
    with pytest.raises(ProtocolError) as info:
        pushwire.ClientConnection("h", random=lambda n: b"short")
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(TypeError):
        pushwire.ClientConnection("h", random=5)


def test_reentrant_call_from_the_hook_raises_instead_of_corrupting():
    seen = []

    def hook(n):
        try:
            conn.send_text("inside")
        except LocalProtocolError as e:
            seen.append(e)
        return bytes(n)

    conn = pushwire.ClientConnection(handshake=False, random=hook)
    conn.send_text("outside")
    assert len(seen) == 1 and "in use" in str(seen[0])
    assert conn.data_to_send().startswith(b"\x81\x87")


def test_two_threads_at_once_raise():
    started, release = threading.Event(), threading.Event()

    def hook(n):
        started.set()
        release.wait(5)  # the GIL passes to the other thread here
        return bytes(n)

    conn = pushwire.ClientConnection(handshake=False, random=hook)
    t = threading.Thread(target=conn.send_text, args=("a",))
    t.start()
    assert started.wait(5)
    try:
        with pytest.raises(LocalProtocolError, match="another call"):
            conn.send_text("b")
        with pytest.raises(LocalProtocolError, match="in use"):
            conn.receive_data(b"")
    finally:
        release.set()
        t.join()
    conn.send_text("c")  # usable again once the first call returned
    assert conn.data_to_send().count(b"\x81\x81") == 2


def test_many_threads_many_connections():
    errors = []

    def work():
        try:
            for _ in range(200):
                s = open_server()
                assert feed(s, masked(0x81, b"x") * 10) == [TextMessage("x")] * 10
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---- misc ----

def test_events_iterator_and_accumulation():
    s = open_server()
    s.receive_data(masked(0x81, b"a"))
    s.receive_data(masked(0x81, b"b"))
    it = s.events()
    assert next(it) == TextMessage("a")
    assert list(it) == [TextMessage("b")]
    assert list(s.events()) == []


def test_state_output_size_repr_and_subclassing():
    s = open_server()
    assert s.state is ConnectionState.OPEN and s.output_size == 0 and s.close_code_hint is None
    s.send_text("x")
    assert s.output_size == 3
    assert "ServerConnection server OPEN" in repr(s)
    assert isinstance(s, pushwire.WSConnection)

    class Mine(pushwire.ServerConnection):
        pass

    m = Mine(handshake=False)
    assert feed(m, masked(0x81, b"x")) == [TextMessage("x")]


def test_send_rejects_non_events():
    s = open_server()
    with pytest.raises(TypeError, match="WebSocket event"):
        s.send("text")
    with pytest.raises(TypeError):
        s.send(pushwire.ServerSentEvent("x"))


def test_local_errors_before_handshake():
    s = pushwire.ServerConnection()
    with pytest.raises(LocalProtocolError) as info:
        s.send_text("too early")
    assert info.value.name == "INVALID_STATE" and "send_text" in str(info.value)
    with pytest.raises(LocalProtocolError):
        s.accept()
    c = pushwire.ClientConnection()
    with pytest.raises(LocalProtocolError):
        c.receive_data(b"HTTP/1.1 101")  # before start
    with pytest.raises(LocalProtocolError):
        pushwire.ClientConnection("h").start("h")


def test_error_info_and_codes():
    assert pushwire._pushwire.error_info(-201) == ("PROTOCOL", "the peer violated the WebSocket framing rules")
    assert pushwire._pushwire.error_codes["NOMEM"] == -901


def test_pump_helper_roundtrip():
    s, c = open_pair()
    c.send_text("x")
    s_events, c_events = pump(s, c)
    assert s_events == [TextMessage("x")] and c_events == []
