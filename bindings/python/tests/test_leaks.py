"""No reference or memory leaks: a million events of every kind go through, and neither the
memory tracemalloc sees (Python objects and, through PyMem, the core's buffers) nor the RSS grows."""
import gc
import os
import tracemalloc

import pushwire
from pushwire import sse

from wsutil import masked, request


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


FRAMES = b"".join(masked(0x81, b"text %04d" % i) + masked(0x82, b"\x00bin") for i in range(400)) + \
    masked(0x89, b"ping") + masked(0x8A, b"pong") + masked(0x01, b"frag") + masked(0x80, b"ment")
STREAM = b"".join(b"event: e\nid: %d\ndata: line one\ndata: line two\n\n" % i for i in range(200)) + b"retry: 5\n"
BAD = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"


def one_round():
    """About 1,000 events of every kind, through fresh handles, with errors raised and caught."""
    n = 0
    s = pushwire.ServerConnection(subprotocols=["chat"])
    s.receive_data(request(extra=b"Sec-WebSocket-Protocol: chat\r\n"))
    n += len(list(s.events()))  # Request
    s.accept("chat", extra_headers=[("X-A", "b")])
    s.receive_data(FRAMES)
    s.send_text("reply")
    s.send_bytes(b"reply")
    s.receive_data(bytearray(masked(0x88, b"\x03\xe8bye")))
    n += sum(1 for _ in s.events())
    s.data_to_send()
    try:
        s.send_text("after close")
    except pushwire.LocalProtocolError as e:
        assert e.name == "CLOSED"
    bad = pushwire.ServerConnection()
    bad.receive_data(BAD)
    n += len(list(bad.events()))  # Rejected
    assert bad.error is not None
    try:
        bad.receive_data(b"x")
    except pushwire.RemoteProtocolError:
        pass
    c = pushwire.ClientConnection("h", random=lambda k: bytes(k))
    c.data_to_send()
    c.receive_data(memoryview(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
    n += len(list(c.events()))
    p = sse.SSEParser(report_comments=True)
    n += len(p.feed(STREAM))
    p.reconnect_headers()
    try:
        sse.SSEParser(max_line=8).feed(b"data: 1\n\ndata: 123456789\n")
    except pushwire.RemoteProtocolError as e:
        n += len(e.events)
    w = sse.SSEWriter()
    w.response_head([("X-A", "b")])
    for i in range(20):
        w.event(data="a\nb", event="e", id=str(i))
    w.data_to_send()
    sse.encode(data="x" * 2000, comment="c")
    n += len([pushwire.Ping(b"x").response(), pushwire.CloseConnection(1000, "x").response()])
    return n


def test_a_million_events_do_not_grow_memory():
    for _ in range(30):  # warm up caches, free lists and the allocator
        one_round()
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(30):
            one_round()
        gc.collect()
        base_traced = tracemalloc.get_traced_memory()[0]
        base_rss = rss_kib()
        events = 0
        while events < 1_000_000:
            events += one_round()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base_traced
        rss_grown = rss_kib() - base_rss
    finally:
        tracemalloc.stop()
    assert events >= 1_000_000
    assert grown < 64 * 1024, "tracemalloc grew by %d bytes over %d events" % (grown, events)
    assert rss_grown < 4 * 1024, "RSS grew by %d KiB over %d events" % (rss_grown, events)


def test_a_cycle_through_the_random_hook_is_collected():
    import weakref

    class Hook:
        def __call__(self, n):
            return bytes(n)

    hook = Hook()
    hook.conn = pushwire.ClientConnection(handshake=False, random=hook)
    ref = weakref.ref(hook)
    del hook
    gc.collect()
    assert ref() is None
    assert os.getpid()
