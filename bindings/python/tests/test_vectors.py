"""Replays the shared transcript vectors (tests/vectors/{ws,sse}/*.md) through the binding:
whole, byte by byte and split in two at every position, as the C++ runner does."""
import os

import pytest

import pushwire
from pushwire import sse

from vectorfile import VECTORS, canonical_event, escape, load_dir, splits


def cases_of(kind):
    path = os.path.join(VECTORS, kind)
    if not os.path.isdir(path):
        return []
    return load_dir(path)


SSE_CASES = cases_of("sse")
WS_CASES = cases_of("ws")


def test_vectors_present():
    assert len(SSE_CASES) >= 20, "no SSE vectors under " + VECTORS
    if os.path.isdir(os.path.join(VECTORS, "ws")):
        assert len(WS_CASES) >= 40


# ---- SSE ----

def render_sse(ev):
    if isinstance(ev, sse.ServerSentEvent):
        return "event type=%s data=%s id=%s" % (escape(ev.type.encode()), escape(ev.data.encode()),
                                                 escape(ev.last_event_id.encode()))
    if isinstance(ev, sse.Retry):
        return "retry %d" % ev.retry_ms
    if isinstance(ev, sse.Comment):
        return "comment " + escape(ev.text.encode())
    raise AssertionError("unexpected event %r" % (ev,))


def run_sse(case, chunks):
    options = {}
    for o in case.values("option"):
        name, value = o.split(" ", 1)
        options[name] = int(value)
    p = sse.SSEParser(**options)
    events, error = [], ""
    try:
        for chunk in chunks:
            events += p.feed(chunk)
        if case.has("eof"):
            events += p.feed_eof()
    except pushwire.RemoteProtocolError as e:
        events += e.events
        error = e.name
    return [canonical_event(render_sse(e)) for e in events], None, error


# ---- WebSocket ----

class Cyclic:
    """A deterministic random source cycling through `data` across calls."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def __call__(self, n):
        out = bytearray()
        for _ in range(n):
            out.append(self.data[self.pos])
            self.pos = (self.pos + 1) % len(self.data)
        return bytes(out)


def render_ws(ev, failed):
    if isinstance(ev, pushwire.Request):
        return "request " + escape(ev.target.encode())
    if isinstance(ev, pushwire.Accepted):
        return "accepted " + escape((ev.subprotocol or "").encode())
    if isinstance(ev, pushwire.Rejected):
        return "rejected %d failed" % ev.status
    if isinstance(ev, pushwire.Ping):
        return "ping " + escape(ev.payload)
    if isinstance(ev, pushwire.Pong):
        return "pong " + escape(ev.payload)
    if isinstance(ev, pushwire.CloseConnection):
        if failed:
            return "close %d failed" % ev.code
        return "close %d %s" % (ev.code, escape(ev.reason.encode()))
    raise AssertionError("unexpected event %r" % (ev,))


def run_ws(case, chunks):
    from vectorfile import parse_data
    kw = {}
    for o in case.values("option"):
        name, value = o.split(" ", 1)
        kw[name] = int(value)
    if case.has("random"):
        kw["random"] = Cyclic(parse_data(case.first("random")))
    role = case.first("role", "server")
    if role == "server":
        conn = pushwire.ServerConnection(origins=case.values("origin"), subprotocols=case.values("subprotocol"), **kw)
    else:
        conn = pushwire.ClientConnection(subprotocols=case.values("subprotocol"), **kw)
    if case.has("start"):
        host, target = case.first("start").split(" ", 1)
        conn.start(host, target)
    events, output, pending = [], conn.data_to_send(), b""

    def drain():
        nonlocal output, pending
        evs = list(conn.events())
        for i, ev in enumerate(evs):
            if isinstance(ev, pushwire.Message):
                data = ev.data.encode() if isinstance(ev, pushwire.TextMessage) else ev.data
                pending += data
                if ev.message_finished:
                    kind = "text " if isinstance(ev, pushwire.TextMessage) else "binary "
                    events.append(kind + escape(pending))
                    pending = b""
                continue
            # The failure event is the last one before the sticky error.
            last = i == len(evs) - 1 and conn.error is not None
            events.append(render_ws(ev, last))
        output += conn.data_to_send()

    for chunk in chunks:
        try:
            conn.receive_data(chunk)
        except pushwire.RemoteProtocolError:
            pass  # the sticky error, after the failure event
        drain()
    if case.has("eof"):
        conn.receive_data(None)
        drain()
    error = conn.error.name if conn.error is not None else ""
    return [canonical_event(e) for e in events], output, error


def check(case, runner):
    want = [canonical_event(e) for e in case.values("event")]
    want_out = case.data("out") if case.has("out") else None
    want_err = case.first("error")
    for how, chunks in splits(case.data("in")):
        events, output, error = runner(case, chunks)
        problems = []
        if events != want:
            problems.append("events %r, expected %r" % (events, want))
        if want_out is not None and output != want_out:
            problems.append("output %s, expected %s" % (escape(output), escape(want_out)))
        if error != want_err:
            problems.append("error %r, expected %r" % (error, want_err))
        assert not problems, "%r [%s]: %s" % (case, how, "; ".join(problems))


@pytest.mark.parametrize("case", SSE_CASES, ids=[c.file + ":" + c.name for c in SSE_CASES])
def test_sse_vector(case):
    check(case, run_sse)


@pytest.mark.parametrize("case", WS_CASES, ids=[c.file + ":" + c.name for c in WS_CASES])
def test_ws_vector(case):
    check(case, run_ws)
