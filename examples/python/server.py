#!/usr/bin/env python3
"""A pushwire demo server on asyncio streams (standard library only, plus pushwire).

    python3 examples/python/server.py [--host 127.0.0.1] [--port 8080]

Routes (the same as examples/demo_server.c, so examples/demo/index.html works with it):
  /        the demo page (examples/demo/index.html when present, else a small built-in page)
  /echo    WebSocket echo: every message comes back as it was sent (up to 16 MiB)
  /ws      WebSocket chat, JSON: {"type":"hello","nick"} → welcome (with history), join/leave
           with the online list, {"type":"say","text"} → msg broadcast to everyone
  /events  Server-Sent Events: boot, tick (every second), join, leave, shutdown; ids are
           "<boot>-<seq>", and a reconnect with Last-Event-ID (header, or ?last-event-id=)
           gets what it missed from a 256-event replay buffer (a `gap` event if too old)

pushwire does the protocol work: handshakes, framing, UTF-8, limits, pongs and closing
handshakes, keepalive pings (tick), SSE encoding and heartbeats. This file only moves
bytes between sockets and pushwire and implements the chat and the feed.
"""
import argparse
import asyncio
import collections
import json
import os
import signal
import time
from urllib.parse import parse_qs, unquote

import pushwire
from pushwire import sse

HEAD_LIMIT = 16384
SLOW_CONSUMER = 1 << 20  # bytes waiting in a transport before we drop that client
PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "demo", "index.html")
FALLBACK_PAGE = b"""<!doctype html><meta charset="utf-8"><title>pushwire</title>
<h1>pushwire (Python)</h1><pre id="log"></pre><script>
const log = (t) => document.getElementById("log").textContent += t + "\\n";
const ws = new WebSocket("ws://" + location.host + "/echo");
ws.onopen = () => ws.send("hello from the browser");
ws.onmessage = (e) => log("echo: " + e.data);
const es = new EventSource("/events");
for (const t of ["boot", "tick", "join", "leave", "shutdown", "gap"])
  es.addEventListener(t, (e) => log(t + " " + e.lastEventId + " " + e.data));
</script>"""


def now_ms():
    return int(time.monotonic() * 1000)


class Hub:
    """The chat room and the event feed, shared by every connection."""

    def __init__(self):
        self.boot = int(time.time() * 1000)
        self.seq = 0
        self.feed = collections.deque(maxlen=256)  # (seq, type, data)
        self.streams = set()  # SSE peers
        self.chatters = {}  # WSPeer -> nick
        self.history = collections.deque(maxlen=50)
        self.msg_id = 0
        self.peers = set()  # every WebSocket peer, for the shutdown close

    def publish(self, type, **data):
        self.seq += 1
        data.update(seq=self.seq, boot=self.boot, ms=int(time.time() * 1000))
        item = (self.seq, type, json.dumps(data))
        self.feed.append(item)
        for stream in list(self.streams):
            stream.send_items([item])

    def items_after(self, last_event_id):
        """The feed a reconnecting client missed (with a gap event when it missed too much)."""
        boot, _, seq = last_event_id.partition("-")
        if not last_event_id or boot != str(self.boot) or not seq.isdigit():
            return list(self.feed)  # a new client, or one from an earlier run
        seq = int(seq)
        missed = [item for item in self.feed if item[0] > seq]
        if self.feed and self.feed[0][0] > seq + 1:
            gap = (None, "gap", json.dumps({"from": seq + 1, "to": self.feed[0][0] - 1, "boot": self.boot}))
            return [gap] + missed
        return missed

    def online(self):
        return sorted(self.chatters.values())

    def chat_broadcast(self, message):
        text = json.dumps(message)
        for peer in list(self.chatters):
            peer.send_text(text)


class WSPeer:
    """One WebSocket connection: pushwire's ServerConnection between a reader and a writer."""

    def __init__(self, hub, writer, conn):
        self.hub, self.writer, self.conn = hub, writer, conn

    def flush(self):
        data = self.conn.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)
            if self.writer.transport.get_write_buffer_size() > SLOW_CONSUMER:
                self.writer.transport.abort()  # a slow consumer must not hold our memory

    def send_text(self, text):
        try:
            self.conn.send_text(text)
        except pushwire.LocalProtocolError:
            return  # already closing
        self.flush()

    def close(self, code, reason):
        try:
            self.conn.close(code, reason)
        except pushwire.LocalProtocolError:
            pass
        self.flush()


async def read_head(reader):
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    if len(head) > HEAD_LIMIT:
        raise ValueError("head too large")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = (lines[0].split(" ") + ["", ""])[:3]
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    return head, method, target, headers


async def handle(hub, reader, writer):
    try:
        head, method, target, headers = await read_head(reader)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError,
            ConnectionError):
        writer.close()
        return
    path, _, query = target.partition("?")
    try:
        if path in ("/echo", "/ws") and "upgrade" in headers:
            await serve_websocket(hub, reader, writer, head, chat=path == "/ws")
        elif path == "/events":
            ids = parse_qs(query).get("last-event-id", [""])
            await serve_events(hub, reader, writer, headers.get("last-event-id") or unquote(ids[0]))
        elif path == "/" and method == "GET":
            page = open(PAGE, "rb").read() if os.path.exists(PAGE) else FALLBACK_PAGE
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n" % len(page) + page)
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n")
        await writer.drain()
    except (ConnectionError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()


async def serve_websocket(hub, reader, writer, head, chat):
    conn = pushwire.ServerConnection(ping_interval_ms=20000, pong_timeout_ms=10000,
                                     max_message_size=(64 << 10) if chat else (16 << 20))
    peer = WSPeer(hub, writer, conn)
    hub.peers.add(peer)
    data = head
    try:
        while True:
            if data is None or data:  # b"": only time passed (tick below)
                conn.receive_data(data)
            for event in conn.events():
                if isinstance(event, pushwire.Request):
                    conn.accept()
                elif isinstance(event, pushwire.Message):
                    on_message(hub, peer, event, chat)
            peer.flush()
            await writer.drain()
            if conn.state >= pushwire.ConnectionState.CLOSED or data is None:
                break
            next_ms = conn.tick(now_ms())
            timeout = None if next_ms is None else max(0, next_ms - now_ms()) / 1000
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout) or None
            except asyncio.TimeoutError:
                data = b""  # time to tick: the keepalive ping, or the timeout
    except pushwire.RemoteProtocolError:
        peer.flush()  # the close (or 4xx) pushwire queued for the violation
    finally:
        hub.peers.discard(peer)
        if peer in hub.chatters:
            nick = hub.chatters.pop(peer)
            hub.chat_broadcast({"type": "leave", "nick": nick, "online": hub.online()})
            hub.publish("leave", nick=nick, online=len(hub.chatters))
        await writer.drain()


def on_message(hub, peer, event, chat):
    if not chat:  # echo, same kind
        try:
            if isinstance(event, pushwire.TextMessage):
                peer.conn.send_text(event.data)
            else:
                peer.conn.send_bytes(event.data)
        except pushwire.LocalProtocolError:
            pass  # the peer's close came in the same read: our close is already queued
        return
    try:
        m = json.loads(event.data)
        kind = m.get("type")
    except (ValueError, AttributeError):
        peer.send_text(json.dumps({"type": "error", "text": "send JSON objects"}))
        return
    if kind == "hello" and peer not in hub.chatters:
        base = str(m.get("nick") or "guest")[:24]
        nick, n = base, 1
        while nick in hub.chatters.values():
            n += 1
            nick = "%s-%d" % (base, n)
        hub.chatters[peer] = nick
        peer.send_text(json.dumps({"type": "welcome", "nick": nick, "boot": hub.boot, "history": list(hub.history)}))
        hub.chat_broadcast({"type": "join", "nick": nick, "online": hub.online()})
        hub.publish("join", nick=nick, online=len(hub.chatters))
    elif kind == "say" and peer in hub.chatters and str(m.get("text", "")).strip():
        hub.msg_id += 1
        msg = {"type": "msg", "from": hub.chatters[peer], "text": str(m["text"])[:2000], "id": hub.msg_id,
               "ms": int(time.time() * 1000)}
        hub.history.append(msg)
        hub.chat_broadcast(msg)
    else:
        peer.send_text(json.dumps({"type": "error", "text": "say hello first, then say something"}))


class SSEPeer:
    def __init__(self, writer):
        self.writer = writer
        self.w = sse.SSEWriter(heartbeat_ms=15000)

    def send_items(self, items):
        for seq, type, data in items:
            self.w.event(data=data, event=type, id=None if seq is None else "%s-%d" % (BOOT[0], seq))
        self.flush()

    def flush(self):
        data = self.w.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)
            if self.writer.transport.get_write_buffer_size() > SLOW_CONSUMER:
                self.writer.transport.abort()


BOOT = [0]


async def serve_events(hub, reader, writer, last_event_id):
    peer = SSEPeer(writer)
    peer.w.response_head([("Access-Control-Allow-Origin", "*")])
    peer.w.event(retry=1000)
    peer.send_items(hub.items_after(last_event_id))
    hub.streams.add(peer)
    try:
        while not writer.is_closing():
            await writer.drain()
            next_ms = peer.w.tick(now_ms())
            peer.flush()
            timeout = None if next_ms is None else max(0, next_ms - now_ms()) / 1000
            try:
                if not await asyncio.wait_for(reader.read(4096), timeout):
                    break  # the client went away
            except asyncio.TimeoutError:
                pass
    finally:
        hub.streams.discard(peer)


async def start(host="127.0.0.1", port=8080, tick_seconds=1.0):
    """Starts the server; returns (asyncio.Server, Hub, ticker task)."""
    hub = Hub()
    BOOT[0] = hub.boot
    server = await asyncio.start_server(lambda r, w: handle(hub, r, w), host, port, limit=HEAD_LIMIT * 2)
    hub.publish("boot")

    async def ticker():
        while True:
            await asyncio.sleep(tick_seconds)
            hub.publish("tick")

    return server, hub, asyncio.get_running_loop().create_task(ticker())


async def shutdown(server, hub, ticker):
    """Close 1001 to every WebSocket client, a final `shutdown` event, then stop."""
    ticker.cancel()
    hub.publish("shutdown")
    for peer in list(hub.peers):
        peer.close(1001, "server going away")
    server.close()
    await asyncio.sleep(0.2)  # let the closes and the last event go out


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()
    server, hub, ticker = await start(args.host, args.port)
    print("pushwire %s demo on http://%s:%d/" % (pushwire.__version__, args.host, args.port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await shutdown(server, hub, ticker)


if __name__ == "__main__":
    asyncio.run(main())
