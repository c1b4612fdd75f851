"""examples/python: the asyncio server against the `websockets` client and against the example
client (WebSocket echo and chat, the SSE feed with Last-Event-ID resume), and the example
client against a `websockets` server."""
import asyncio
import importlib.util
import json
import os

import pytest

from vectorfile import REPO

websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

EXAMPLES = os.path.join(REPO, "examples", "python")
TIMEOUT = 15


def load(name):
    spec = importlib.util.spec_from_file_location("example_" + name, os.path.join(EXAMPLES, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


server_mod = load("server")
client_mod = load("client")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


async def started(tick_seconds=0.05):
    server, hub, ticker = await server_mod.start("127.0.0.1", 0, tick_seconds=tick_seconds)
    return server, hub, ticker, server.sockets[0].getsockname()[1]


def test_echo_with_websockets_client():
    async def main():
        server, hub, ticker, port = await started()
        async with connect("ws://127.0.0.1:%d/echo" % port, max_size=None) as ws:
            for msg in ("hello", "é" * 1000, b"\x00\xff", b"z" * 1_000_000):
                await ws.send(msg)
                assert await ws.recv() == msg
            await ws.send(["frag", "mented"])
            assert await ws.recv() == "fragmented"
            await asyncio.wait_for(await ws.ping(b"p"), TIMEOUT)
        assert ws.close_code == 1000
        await server_mod.shutdown(server, hub, ticker)

    run(main())


def test_chat_with_websockets_clients():
    async def main():
        server, hub, ticker, port = await started()
        url = "ws://127.0.0.1:%d/ws" % port
        async with connect(url) as a, connect(url) as b:
            await a.send(json.dumps({"type": "hello", "nick": "ann"}))
            welcome = json.loads(await a.recv())
            assert welcome["type"] == "welcome" and welcome["nick"] == "ann" and welcome["history"] == []
            assert json.loads(await a.recv()) == {"type": "join", "nick": "ann", "online": ["ann"]}
            await b.send(json.dumps({"type": "hello", "nick": "ann"}))  # taken: gets a suffix
            assert json.loads(await b.recv())["nick"] == "ann-2"
            assert json.loads(await a.recv())["online"] == ["ann", "ann-2"]
            await b.send(json.dumps({"type": "say", "text": "hi all"}))
            for ws in (a, b):
                while True:
                    m = json.loads(await ws.recv())
                    if m["type"] == "msg":
                        break
                assert (m["from"], m["text"]) == ("ann-2", "hi all")
            await a.send("not json")
            assert json.loads(await a.recv())["type"] == "error"
        # shutdown closes the remaining clients with 1001
        async with connect(url) as c:
            await server_mod.shutdown(server, hub, ticker)
            with pytest.raises(websockets.ConnectionClosed):
                await c.recv()
        assert c.close_code == 1001

    run(main())


def test_sse_feed_and_resume_with_the_example_client():
    async def main():
        server, hub, ticker, port = await started()
        url = "http://127.0.0.1:%d/events" % port
        events = [e async for e in client_mod.read_events(url, max_events=4, reconnect=False)]
        assert events[0].type == "boot" and all(e.type == "tick" for e in events[1:])
        ids = [e.last_event_id for e in events]
        assert len(set(ids)) == 4 and all(i.startswith(str(hub.boot) + "-") for i in ids)
        # resume after the second event: the third comes next, nothing repeated
        resumed = [e async for e in client_mod.read_events(url, max_events=2, last_event_id=ids[1],
                                                             reconnect=False)]
        assert [e.last_event_id for e in resumed] == ids[2:4]
        json.loads(resumed[0].data)
        await server_mod.shutdown(server, hub, ticker)

    run(main())


def test_sse_raw_head_and_gap():
    async def main():
        server, hub, ticker, port = await started(tick_seconds=3600)
        for _ in range(300):  # more than the replay buffer holds
            hub.publish("tick")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
                     b"Last-Event-ID: %d-2\r\n\r\n" % hub.boot)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n")
        from pushwire import sse
        p = sse.SSEParser()
        got = []
        while len(got) < 2:
            got += [e for e in p.feed(await reader.read(65536)) if isinstance(e, sse.ServerSentEvent)]
        assert got[0].type == "gap" and json.loads(got[0].data)["from"] == 3
        writer.close()
        await server_mod.shutdown(server, hub, ticker)

    run(main())


def test_page_and_404():
    async def main():
        server, hub, ticker, port = await started()
        for path, status in ((b"/", b"200"), (b"/nope", b"404")):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = await reader.read()
            assert resp.split(b" ")[1] == status
            writer.close()
        await server_mod.shutdown(server, hub, ticker)

    run(main())


def test_example_client_with_websockets_server():
    async def handler(ws):
        try:
            async for msg in ws:
                await ws.send(msg[::-1])
        except websockets.ConnectionClosed:
            pass

    async def main():
        async with serve(handler, "127.0.0.1", 0, subprotocols=["rev"]) as server:
            port = server.sockets[0].getsockname()[1]
            ws = await client_mod.WebSocketClient.connect("ws://127.0.0.1:%d/" % port, subprotocols=["rev"])
            assert ws.subprotocol == "rev"
            await ws.send_text("stressed")
            assert await ws.recv() == "desserts"
            await ws.send_bytes(b"\x01\x02")
            assert await ws.recv() == b"\x02\x01"
            reply = await ws.close(1000, "done")
            assert reply.code == 1000

    run(main())


def test_example_client_against_example_server():
    async def main():
        server, hub, ticker, port = await started()
        ws = await client_mod.WebSocketClient.connect("ws://127.0.0.1:%d/echo" % port)
        await ws.send_text("round trip")
        assert await ws.recv() == "round trip"
        assert (await ws.close()).code == 1000
        await server_mod.shutdown(server, hub, ticker)

    run(main())
