"""Interop with Python `websockets` (an independent implementation) in both roles.

    python py_interop.py BUILD_DIR

Client role: websockets against the demo's /echo (pushwire server).
Server role: websockets serving tests/tools/ws_peer and examples/ws_client (pushwire client).
Every wait is bounded; child processes are killed on the way out.
"""

import asyncio
import os
import re
import secrets
import signal
import sys
import time
import traceback

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
LIMIT = 64 << 20
children = []


class Fail(Exception):
    pass


def eq(got, want, what):
    if got != want:
        def show(v):
            s = repr(v)
            return s if len(s) < 200 else s[:200] + f"... ({len(s)} chars)"
        raise Fail(f"{what}: got {show(got)}, want {show(want)}")


class Lines:
    """Lines of a child's stdout, read in the background."""

    def __init__(self, stream):
        self.all, self.pos, self.ended = [], 0, False
        self.changed = asyncio.Event()
        self.task = asyncio.ensure_future(self._read(stream))

    async def _read(self, stream):
        while True:
            line = await stream.readline()
            if not line:
                break
            self.all.append(line.decode("utf-8", "replace").rstrip("\n"))
            self.changed.set()
        self.ended = True
        self.changed.set()

    async def next(self, prefix, timeout=5.0):
        end = time.monotonic() + timeout
        while True:
            while self.pos < len(self.all):
                line = self.all[self.pos]
                self.pos += 1
                if line.startswith(prefix):
                    return line
            if self.ended:
                raise Fail(f"stream ended waiting for {prefix!r}")
            left = end - time.monotonic()
            if left <= 0:
                raise Fail(f"timed out waiting for {prefix!r}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def find(self, regex, timeout=5.0):
        end = time.monotonic() + timeout
        while True:
            for line in self.all:
                if re.search(regex, line):
                    return line
            if time.monotonic() > end:
                raise Fail(f"no line matching {regex!r}")
            await asyncio.sleep(0.025)


async def spawn(*args, stdin=None):
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=stdin, stdout=asyncio.subprocess.PIPE, limit=LIMIT)
    children.append(proc)
    return proc, Lines(proc.stdout)


async def stop(proc, sig=signal.SIGTERM, timeout=6.0):
    if proc.returncode is None:
        proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise Fail(f"child did not exit after {sig.name}")
    return proc.returncode


class Peer:
    """tests/tools/ws_peer: commands in, event lines out."""

    @classmethod
    async def start(cls, url):
        self = cls()
        self.proc, self.out = await spawn(os.path.join(BUILD, "tests", "ws_peer"), "--timeout", "20000", url,
                                          stdin=asyncio.subprocess.PIPE)
        return self

    def send(self, cmd):
        self.proc.stdin.write((cmd + "\n").encode())

    async def next(self, prefix, timeout=5.0):
        return await self.out.next(prefix, timeout)

    async def exit(self, timeout=5.0):
        self.proc.stdin.close()
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            self.proc.kill()
            raise Fail("ws_peer did not exit")


def hx(b):
    return (b.encode() if isinstance(b, str) else bytes(b)).hex()


# ---------------------------------------------------------------- websockets client -> pushwire /echo

demo = None


async def start_demo(*args):
    proc, out = await spawn(os.path.join(BUILD, "examples", "demo_server"), "--host", "127.0.0.1", "--port", "0",
                            *args)
    first = await out.next("", 5.0)
    m = re.fullmatch(r"pushwire demo: http://127\.0\.0\.1:(\d+)/", first)
    if not m:
        raise Fail(f"unexpected first line {first!r}")
    return proc, out, int(m.group(1))


def echo_url(query=""):
    return f"ws://127.0.0.1:{demo[2]}/echo{query}"


async def echo_one(ws, msg):
    await ws.send(msg)
    got = await asyncio.wait_for(ws.recv(), 10)
    eq(type(got), type(msg), "message kind")
    eq(got, msg, "echoed message")


async def t_echo_basic():
    async with connect(echo_url(), max_size=None) as ws:
        for msg in ["hello, pushwire", "héllo wörld ✓ 日本語 😀", "", bytes([0, 1, 127, 128, 255]), b""]:
            await echo_one(ws, msg)


async def t_echo_sizes():
    async with connect(echo_url(), max_size=None) as ws:
        for n in (125, 126, 127, 65535, 65536):
            await echo_one(ws, secrets.token_bytes(n))
        await echo_one(ws, "ß" * (512 * 1024))  # 1 MiB of 2-byte characters
        await echo_one(ws, secrets.token_bytes(4 << 20))


async def t_echo_fragments():
    async with connect(echo_url(), max_size=None) as ws:
        # An iterable is sent as one fragmented message.
        await ws.send(["frag", "ments ", "✓✓", " done"])
        eq(await asyncio.wait_for(ws.recv(), 5), "fragments ✓✓ done", "fragmented text")
        parts = [secrets.token_bytes(n) for n in (1, 40000, 30000)]
        await ws.send(parts)
        eq(await asyncio.wait_for(ws.recv(), 5), b"".join(parts), "fragmented binary")


async def t_echo_pings():
    async with connect(echo_url("?ping=py-ping"), max_size=None) as ws:
        for payload in (b"\x01\x02\xff", b""):
            waiter = await ws.ping(payload)  # resolves when the pong with this payload arrives
            await asyncio.wait_for(waiter, 5)
        await echo_one(ws, "after pings")
    # websockets answered the server's ping itself; the server logs the pong it got.
    await demo[1].find(r'route=echo .*pong="py-ping"')


async def t_client_close():
    async with connect(echo_url(), max_size=None) as ws:
        await echo_one(ws, "before close")
        await ws.close(4001, "py says bye ✓")
        eq(ws.protocol.close_rcvd.code, 4001, "echoed close code")
        eq(ws.protocol.close_rcvd.reason, "py says bye ✓", "echoed close reason")
    await demo[1].find(r'route=echo status=101 close=4001 reason="py says bye \\xe2\\x9c\\x93" closed_by=client '
                       r'msgs_in=1 msgs_out=1')


async def t_server_close():
    async with connect(echo_url("?close=4002&reason=server%20bye%20%E2%9C%93&after=1"), max_size=None) as ws:
        await echo_one(ws, "one")
        try:
            await asyncio.wait_for(ws.recv(), 5)
            raise Fail("expected the server's close")
        except ConnectionClosed:
            pass
        eq(ws.protocol.close_rcvd.code, 4002, "server close code")
        eq(ws.protocol.close_rcvd.reason, "server bye ✓", "server close reason")
        eq(ws.protocol.close_sent.code, 4002, "websockets echoed the code")
    await demo[1].find(r'route=echo status=101 close=4002 reason="server bye \\xe2\\x9c\\x93" closed_by=server')


# ---------------------------------------------------------------- pushwire client -> websockets server

class Server:
    """A websockets server; records every connection's messages and close."""

    async def __aenter__(self):
        self.conns = []
        self.got_conn = asyncio.Event()

        async def handler(ws):
            c = {"ws": ws, "messages": [], "closed": asyncio.Event()}
            self.conns.append(c)
            self.got_conn.set()
            try:
                async for msg in ws:
                    c["messages"].append(msg)
            except ConnectionClosed:
                pass
            c["close"] = ws.protocol.close_rcvd
            c["closed"].set()

        self.server = await serve(handler, "127.0.0.1", 0, max_size=None)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/peer"
        return self

    async def conn(self):
        await asyncio.wait_for(self.got_conn.wait(), 5)
        return self.conns[0]

    async def __aexit__(self, *exc):
        self.server.close()
        await asyncio.wait_for(self.server.wait_closed(), 5)


async def wait_until(cond, what, timeout=10.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise Fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.025)


async def t_peer_messages():
    async with Server() as srv:
        p = await Peer.start(srv.url)
        await p.next("OPEN")
        c = await srv.conn()
        multi = "日本語 ✓ 😀"
        big = secrets.token_bytes(1 << 20)
        frag = [b"frag", b"\xe2\x9c", b"\x93", b" end"]
        p.send("text " + hx("hello"))
        p.send("text " + hx(multi))
        p.send("binary 00ff01fe")
        p.send("binary ")
        for i, f in enumerate(frag):
            p.send(f"frag text {f.hex()} {int(i == len(frag) - 1)}")
        p.send("binary " + big.hex())
        await wait_until(lambda: len(c["messages"]) >= 6, "six messages")
        eq(c["messages"], ["hello", multi, b"\x00\xff\x01\xfe", b"", "frag✓ end", big], "messages at websockets")

        ws = c["ws"]
        big2 = secrets.token_bytes(2 << 20)
        await ws.send("from websockets ✓")
        await ws.send(b"\x09\x08\x07")
        await ws.send(["frag-a ", "frag-b"])
        await ws.send(big2)
        eq(await p.next("TEXT"), "TEXT " + hx("from websockets ✓"), "text at the peer")
        eq(await p.next("BINARY"), "BINARY 090807", "binary at the peer")
        eq(await p.next("TEXT"), "TEXT " + hx("frag-a frag-b"), "fragmented text at the peer")
        eq(await p.next("BINARY", 10), "BINARY " + big2.hex(), "2 MiB binary at the peer")
        p.send("close 1000 ")
        eq(await p.next("CLOSE"), "CLOSE 1000 ", "close echoed by websockets")
        await p.next("EOF")
        eq(await p.exit(), 0, "peer exit status")
        await asyncio.wait_for(c["closed"].wait(), 5)
        eq(c["close"].code, 1000, "close code at websockets")


async def t_peer_pings():
    async with Server() as srv:
        p = await Peer.start(srv.url)
        await p.next("OPEN")
        c = await srv.conn()
        p.send("ping " + hx("peer-ping"))
        eq(await p.next("PONG"), "PONG " + hx("peer-ping"), "pong from websockets")
        waiter = await c["ws"].ping(b"\xde\xad")
        eq(await p.next("PING"), "PING dead", "ping at the peer")
        await asyncio.wait_for(waiter, 5)  # pushwire's automatic pong carried the same payload
        await c["ws"].close()
        await p.next("CLOSE")
        await p.exit()


async def t_peer_closes():
    async with Server() as srv:
        p = await Peer.start(srv.url)
        await p.next("OPEN")
        c = await srv.conn()
        p.send("close 4003 " + hx("peer bye ✓"))
        line = await p.next("CLOSE")
        if not line.startswith("CLOSE 4003 "):
            raise Fail(f"close not echoed with 4003: {line}")
        await p.next("EOF")
        eq(await p.exit(), 0, "peer exit status")
        await asyncio.wait_for(c["closed"].wait(), 5)
        eq((c["close"].code, c["close"].reason), (4003, "peer bye ✓"), "close at websockets")


async def t_server_closes_peer():
    async with Server() as srv:
        p = await Peer.start(srv.url)
        await p.next("OPEN")
        c = await srv.conn()
        await c["ws"].close(4004, "websockets bye ✓")
        eq(await p.next("CLOSE"), "CLOSE 4004 " + hx("websockets bye ✓"), "close at the peer")
        await p.next("EOF")
        eq(c["ws"].protocol.close_rcvd.code, 4004, "pushwire echoed the code")
        eq(await p.exit(), 0, "peer exit status")


async def t_ws_client_example():
    """examples/ws_client: stdin lines out as text, what arrives printed, close 1000 at EOF."""
    exe = os.path.join(BUILD, "examples", "ws_client")
    async with Server() as srv:
        async def echo_back():
            c = await srv.conn()
            for _ in range(2):
                await wait_until(lambda: len(c["messages"]) > _, "a line")
                await c["ws"].send(c["messages"][_])
        task = asyncio.ensure_future(echo_back())
        proc = await asyncio.create_subprocess_exec(exe, srv.url, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        children.append(proc)
        proc.stdin.write("hello from C\nzwei ✓\n".encode())
        await task
        out = b""
        while out.count(b"\n") < 2:
            out += await asyncio.wait_for(proc.stdout.read(4096), 5)
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 5)
        eq(out.decode(), "hello from C\nzwei ✓\n", "ws_client output")
        eq(proc.returncode, 0, "ws_client exit status")
        c = srv.conns[0]
        await asyncio.wait_for(c["closed"].wait(), 5)
        eq(c["close"].code, 1000, "close from ws_client")


async def main():
    try:
        return await run_all()
    finally:
        for proc in children:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def run_all():
    global demo
    passed = failed = 0
    demo = await start_demo("--ping-ms", "60000")
    tests = [t_echo_basic, t_echo_sizes, t_echo_fragments, t_echo_pings, t_client_close, t_server_close,
             t_peer_messages, t_peer_pings, t_peer_closes, t_server_closes_peer]
    if os.path.exists(os.path.join(BUILD, "examples", "ws_client")):
        tests.append(t_ws_client_example)
    else:
        print("skip python: examples/ws_client is not built yet")
    for t in tests:
        name = t.__doc__.split("\n")[0] if t.__doc__ else t.__name__[2:].replace("_", " ")
        start = time.monotonic()
        try:
            await asyncio.wait_for(t(), 30)
            passed += 1
            print(f"ok   python: {name} ({(time.monotonic() - start) * 1000:.0f} ms)", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported and counted
            failed += 1
            detail = str(e) if isinstance(e, Fail) else traceback.format_exc()
            print(f"FAIL python: {name}: {type(e).__name__}: {detail}", flush=True)
    try:
        eq(await stop(demo[0], signal.SIGINT), 0, "demo server exit status")
        passed += 1
        print("ok   python: demo server stops on SIGINT with status 0")
    except Exception as e:  # noqa: BLE001
        failed += 1
        print(f"FAIL python: demo server stop: {e}")
    return passed, failed


if __name__ == "__main__":
    try:
        p, f = asyncio.run(asyncio.wait_for(main(), 240))
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        p, f = 0, 1
    print(f"{p} passed, {f} failed")
    sys.exit(1 if f else 0)
