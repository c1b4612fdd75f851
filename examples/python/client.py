#!/usr/bin/env python3
"""A pushwire client on asyncio streams (standard library only, plus pushwire).

    python3 examples/python/client.py ws://127.0.0.1:8080/echo hello world   # send, print replies
    python3 examples/python/client.py http://127.0.0.1:8080/events -n 5      # print SSE events

WebSocket: connects, sends each argument as a text message, prints what comes back, then
closes (1000) and waits for the server's close. SSE: prints events as they arrive and,
when the stream drops, reconnects with Last-Event-ID after the server's retry delay.
wss:// and https:// use TLS.
"""
import argparse
import asyncio
import ssl
import sys
from urllib.parse import urlsplit

import pushwire
from pushwire import sse


def endpoint(url):
    u = urlsplit(url)
    secure = u.scheme in ("wss", "https")
    port = u.port or (443 if secure else 80)
    host_header = u.hostname if u.port is None else "%s:%d" % (u.hostname, u.port)
    return u.hostname, port, host_header, (u.path or "/") + ("?" + u.query if u.query else ""), secure


class WebSocketClient:
    """A minimal async WebSocket client: connect(), send_text/send_bytes, recv(), close()."""

    def __init__(self, reader, writer, conn):
        self.reader, self.writer, self.conn = reader, writer, conn
        self.events = []
        self.subprotocol = None

    @classmethod
    async def connect(cls, url, subprotocols=(), timeout=10):
        host, port, host_header, target, secure = endpoint(url)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ssl.create_default_context() if secure else None), timeout)
        self = cls(reader, writer, pushwire.ClientConnection(host_header, target, subprotocols=subprotocols))
        await self.flush()
        event = await asyncio.wait_for(self.next_event(), timeout)
        if not isinstance(event, pushwire.Accepted):
            writer.close()
            raise ConnectionError("handshake failed: %r" % (event,))
        self.subprotocol = event.subprotocol
        return self

    async def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def next_event(self):
        """The next event (pings are answered by pushwire), or None at end of input."""
        while not self.events:
            data = await self.reader.read(65536)
            self.conn.receive_data(data or None)
            self.events.extend(self.conn.events())
            await self.flush()
            if not data and not self.events:
                return None
        return self.events.pop(0)

    async def send_text(self, text):
        self.conn.send_text(text)
        await self.flush()

    async def send_bytes(self, data):
        self.conn.send_bytes(data)
        await self.flush()

    async def recv(self):
        """The next message's data (str or bytes); None once the connection closed."""
        while True:
            event = await self.next_event()
            if event is None or isinstance(event, pushwire.CloseConnection):
                return None
            if isinstance(event, pushwire.Message):
                return event.data

    async def close(self, code=1000, reason=""):
        """Sends our close and waits for the peer's; returns its CloseConnection (or None)."""
        if self.conn.state is pushwire.ConnectionState.OPEN:
            self.conn.close(code, reason)
            await self.flush()
        reply = None
        while self.conn.state < pushwire.ConnectionState.CLOSED:
            event = await self.next_event()
            if event is None:
                break
            if isinstance(event, pushwire.CloseConnection):
                reply = event
        self.writer.close()
        return reply


async def read_events(url, max_events=None, last_event_id="", reconnect=True, timeout=30):
    """Yields the SSE events of `url`, reconnecting with Last-Event-ID when the stream drops."""
    host, port, host_header, target, secure = endpoint(url)
    parser = sse.SSEParser()
    count = 0
    if last_event_id:  # resume: seed the parser's id by a synthetic event line
        parser.feed(("id: %s\n\n" % last_event_id).encode())
    while True:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ssl.create_default_context() if secure else None), timeout)
        writer.write(("GET %s HTTP/1.1\r\nHost: %s\r\n" % (target, host_header)).encode() +
                     parser.reconnect_headers() + b"\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status = head.split(b" ", 2)[1]
        if status != b"200" or b"text/event-stream" not in head.lower():
            writer.close()
            raise ConnectionError("not an event stream: " + head.split(b"\r\n", 1)[0].decode("latin-1"))
        parser.reset()
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(65536), timeout)
                if not chunk:
                    break
                for event in parser.feed(chunk):
                    if isinstance(event, sse.ServerSentEvent):
                        yield event
                        count += 1
                        if max_events is not None and count >= max_events:
                            return
        finally:
            writer.close()
        if not reconnect:
            return
        await asyncio.sleep((parser.retry_ms or 3000) / 1000)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url")
    ap.add_argument("messages", nargs="*")
    ap.add_argument("-n", type=int, default=None, help="SSE: stop after this many events")
    args = ap.parse_args()
    if args.url.startswith(("ws://", "wss://")):
        ws = await WebSocketClient.connect(args.url)
        for text in args.messages or [line.rstrip("\n") for line in sys.stdin]:
            await ws.send_text(text)
            print(await ws.recv(), flush=True)
        reply = await ws.close()
        print("closed:", reply)
    else:
        async for event in read_events(args.url, args.n):
            print("%s [%s] %s" % (event.type, event.last_event_id, event.data), flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
