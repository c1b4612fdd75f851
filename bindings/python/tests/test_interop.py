"""Interop with the `websockets` library over real sockets (asyncio, 127.0.0.1, free ports):
pushwire's server against the websockets client and pushwire's client against a websockets
server, exchanging every message kind and closing in both directions."""
import asyncio
import collections

import pytest

import pushwire
from pushwire import BytesMessage, CloseConnection, Ping, Pong, Request, TextMessage

websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

TIMEOUT = 10


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


class Stream:
    """pushwire over an asyncio stream: events in, queued bytes out."""

    def __init__(self, reader, writer, conn):
        self.reader, self.writer, self.conn = reader, writer, conn
        self.queue = collections.deque()
        self.eof = False

    async def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def next_event(self):
        while not self.queue:
            if self.eof:
                return None
            data = await self.reader.read(65536)
            self.eof = not data
            self.conn.receive_data(data or None)
            self.queue.extend(self.conn.events())
            await self.flush()
        return self.queue.popleft()

    async def close_transport(self):
        await self.flush()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


# ---- pushwire server, websockets client ----

async def pushwire_server(seen):
    async def handle(reader, writer):
        s = Stream(reader, writer, pushwire.ServerConnection(subprotocols=["chat"]))
        while True:
            ev = await s.next_event()
            if ev is None:
                break
            seen.append(ev)
            if isinstance(ev, Request):
                s.conn.accept()
            elif isinstance(ev, TextMessage) and ev.data == "close-me":
                s.conn.close(4001, "server bye")
            elif isinstance(ev, TextMessage) and ev.data == "ping-me":
                s.conn.ping(b"srv")
            elif isinstance(ev, (TextMessage, BytesMessage)):
                s.conn.send(ev)  # echo, same kind
            elif isinstance(ev, Pong):
                s.conn.send_text("pong:" + ev.payload.decode())
            await s.flush()
            if s.conn.state >= pushwire.ConnectionState.CLOSED:
                break
        await s.close_transport()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_pushwire_server_with_websockets_client():
    seen = []

    async def main():
        server = await pushwire_server(seen)
        port = server.sockets[0].getsockname()[1]
        async with server:
            async with connect("ws://127.0.0.1:%d/chat" % port, subprotocols=["chat"]) as ws:
                assert ws.subprotocol == "chat"
                await ws.send("hello")
                assert await ws.recv() == "hello"
                await ws.send(b"\x00\x01\xff")
                assert await ws.recv() == b"\x00\x01\xff"
                await ws.send(["frag", "mént"])  # a fragmented text message
                assert await ws.recv() == "fragmént"
                await ws.send([b"ab", b"cd"])
                assert await ws.recv() == b"abcd"
                big = "x" * 200_000
                await ws.send(big)
                assert await ws.recv() == big
                waiter = await ws.ping(b"cli")  # answered by auto_pong
                await asyncio.wait_for(waiter, TIMEOUT)
                await ws.pong(b"unsolicited")
                assert await ws.recv() == "pong:unsolicited"
                await ws.send("ping-me")  # the server pings; websockets answers
                assert await ws.recv() == "pong:srv"
                await ws.close(4000, "client bye")
            assert ws.close_code == 4000  # echoed by auto_close
            # the server closes this time
            async with connect("ws://127.0.0.1:%d/" % port) as ws2:
                assert ws2.subprotocol is None
                await ws2.send("close-me")
                with pytest.raises(websockets.ConnectionClosed):
                    await ws2.recv()
            assert (ws2.close_code, ws2.close_reason) == (4001, "server bye")
            await asyncio.sleep(0.05)

    run(main())
    assert Ping(b"cli") in seen and Pong(b"unsolicited") in seen and Pong(b"srv") in seen
    assert TextMessage("fragmént") in seen and BytesMessage(b"abcd") in seen
    assert CloseConnection(4000, "client bye") in seen
    assert CloseConnection(4001, "") in seen or CloseConnection(4001, "server bye") in seen
    reqs = [e for e in seen if isinstance(e, Request)]
    assert [r.target for r in reqs] == ["/chat", "/"] and reqs[0].subprotocols == ("chat",)


def test_pushwire_server_refuses_a_bad_origin():
    async def main():
        async def handle(reader, writer):
            s = Stream(reader, writer, pushwire.ServerConnection(origins=["https://good.example"]))
            await s.next_event()
            await s.close_transport()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            with pytest.raises(websockets.InvalidStatus) as info:
                async with connect("ws://127.0.0.1:%d/" % port, origin="https://evil.example"):
                    pass
            assert info.value.response.status_code == 403

    run(main())


# ---- pushwire client, websockets server ----

async def ws_handler(ws):
    try:
        async for msg in ws:
            if msg == "close-me":
                await ws.close(4002, "ws server bye")
                return
            if msg == "ping-me":
                await asyncio.wait_for(await ws.ping(b"wsping"), TIMEOUT)
                await ws.send("pinged")
                continue
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass  # codes other than 1000/1001 end the iteration with an error


async def pushwire_client(port, target="/", **kw):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    s = Stream(reader, writer, pushwire.ClientConnection("127.0.0.1:%d" % port, target, **kw))
    await s.flush()
    ev = await s.next_event()
    assert isinstance(ev, pushwire.Accepted), ev
    return s, ev


async def next_message(s):
    while True:
        ev = await s.next_event()
        if not isinstance(ev, (Ping, Pong)):
            return ev
        s.seen.append(ev)


def test_pushwire_client_with_websockets_server():
    async def main():
        async with serve(ws_handler, "127.0.0.1", 0, subprotocols=["chat"], max_size=None) as server:
            port = server.sockets[0].getsockname()[1]
            s, accepted = await pushwire_client(port, "/x", subprotocols=["chat"])
            s.seen = []
            assert accepted.subprotocol == "chat"
            s.conn.send_text("héllo")
            s.conn.send_bytes(b"\x00bin")
            s.conn.send_text("fr", message_finished=False)
            s.conn.send_text("ag")
            s.conn.send(BytesMessage(b"a", message_finished=False))
            s.conn.send(BytesMessage(b"b"))
            s.conn.send_bytes(b"y" * 300_000)
            await s.flush()
            assert await next_message(s) == TextMessage("héllo")
            assert await next_message(s) == BytesMessage(b"\x00bin")
            assert await next_message(s) == TextMessage("frag")
            assert await next_message(s) == BytesMessage(b"ab")
            assert await next_message(s) == BytesMessage(b"y" * 300_000)
            s.conn.ping(b"pc")
            s.conn.pong(b"unsolicited")  # websockets ignores it
            s.conn.send_text("ping-me")
            await s.flush()
            assert await next_message(s) == TextMessage("pinged")
            assert Pong(b"pc") in s.seen and Ping(b"wsping") in s.seen  # wsping answered by auto_pong
            s.conn.close(4000, "pw bye")
            await s.flush()
            assert await s.next_event() == CloseConnection(4000, "pw bye")  # websockets echoes the reason
            assert s.conn.state is pushwire.ConnectionState.CLOSED
            await s.close_transport()
            # the server closes this time
            s2, _ = await pushwire_client(port, subprotocols=["chat"])  # the server requires one
            s2.conn.send_text("close-me")
            await s2.flush()
            assert await s2.next_event() == CloseConnection(4002, "ws server bye")
            await s2.flush()  # our auto_close echo
            assert s2.conn.state is pushwire.ConnectionState.CLOSED
            assert await s2.next_event() is None  # the server drops the TCP connection
            await s2.close_transport()

    run(main())


def test_pushwire_client_rejected_by_websockets_server():
    async def main():
        async def refuse(connection, request):
            return connection.respond(401, "login first\n")

        async with serve(ws_handler, "127.0.0.1", 0, process_request=refuse) as server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            s = Stream(reader, writer, pushwire.ClientConnection("127.0.0.1", "/"))
            await s.flush()
            ev = await s.next_event()
            assert isinstance(ev, pushwire.Rejected) and ev.status == 401
            assert s.conn.error.status_hint == 401
            await s.close_transport()

    run(main())
