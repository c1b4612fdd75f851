// Interop with Node's `ws` (an independent WebSocket implementation) in both roles, and
// with `eventsource-parser` (an independent SSE parser) reading the demo's /events.
//   node node_interop.mjs BUILD_DIR
import http from "node:http";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { once } from "node:events";
import WebSocket, { WebSocketServer } from "ws";
import { createParser } from "eventsource-parser";
import { BUILD, runner, startDemo, startPeer, within, waitFor, check, eq, hex, sleep } from "./lib.mjs";

const t = runner("node");
let demo;

// ---------------------------------------------------------------- ws client -> pushwire /echo

/** Open a ws client; collect messages, pings, pongs and the close. */
async function wsClient(pathAndQuery, opts = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${demo.port}${pathAndQuery}`, { maxPayload: 64 << 20, ...opts });
  const got = { messages: [], pings: [], pongs: [], close: null };
  const waiters = [];
  const wake = () => { for (const w of waiters.splice(0)) w(); };
  ws.on("message", (data, isBinary) => { got.messages.push({ data: Buffer.from(data), isBinary }); wake(); });
  ws.on("ping", (d) => { got.pings.push(Buffer.from(d)); wake(); });
  ws.on("pong", (d) => { got.pongs.push(Buffer.from(d)); wake(); });
  ws.on("close", (code, reason) => { got.close = { code, reason: Buffer.from(reason) }; wake(); });
  ws.on("error", () => {});
  await within(5000, "ws open", once(ws, "open"));
  const until = (cond, what, ms = 10000) => waitFor(ms, what, () => cond(got));
  return { ws, got, until, waiters };
}

async function echoOne(c, payload, binary) {
  const before = c.got.messages.length;
  c.ws.send(payload, { binary });
  await c.until((g) => g.messages.length > before, "the echo");
  const m = c.got.messages[before];
  eq(m.isBinary, binary, "message kind");
  eq(m.data, Buffer.from(payload), "echoed bytes");
}

t.test("start the demo server", async () => {
  demo = await startDemo(["--ping-ms", "60000"]);
});

t.test("ws client -> /echo: ASCII, multi-byte and empty text, binary", async () => {
  const c = await wsClient("/echo");
  await echoOne(c, "hello, pushwire", false);
  await echoOne(c, "héllo wörld ✓ 日本語 😀", false);
  await echoOne(c, "", false);
  await echoOne(c, Buffer.from([0, 1, 2, 127, 128, 254, 255]), true);
  await echoOne(c, Buffer.alloc(0), true);
  c.ws.close(1000);
  await c.until((g) => g.close, "close");
  eq(c.got.close.code, 1000, "close code");
});

t.test("ws client -> /echo: 125/126/65535/65536-byte boundaries, 1 MiB text, 4 MiB binary", async () => {
  const c = await wsClient("/echo");
  for (const n of [125, 126, 127, 65535, 65536]) await echoOne(c, crypto.randomBytes(n), true);
  await echoOne(c, "ü".repeat(512 * 1024), false); // 1 MiB of 2-byte characters
  await echoOne(c, crypto.randomBytes(4 << 20), true);
  c.ws.close(1000);
  await c.until((g) => g.close, "close");
});

t.test("ws client -> /echo: fragmented text (split inside a character) and binary", async () => {
  const c = await wsClient("/echo");
  const text = Buffer.from("fragments: ✓✓✓ done");
  const before = c.got.messages.length;
  // ws sends continuation frames for fin:false sends of one message.
  c.ws.send(text.subarray(0, 13), { binary: false, fin: false });
  c.ws.send(text.subarray(13, 15), { binary: false, fin: false });
  c.ws.send(text.subarray(15), { binary: false, fin: true });
  const bin = crypto.randomBytes(70000);
  c.ws.send(bin.subarray(0, 1), { binary: true, fin: false });
  c.ws.send(bin.subarray(1, 40000), { binary: true, fin: false });
  c.ws.send(bin.subarray(40000), { binary: true, fin: true });
  await c.until((g) => g.messages.length >= before + 2, "two echoes");
  eq(c.got.messages[before].isBinary, false, "text kind");
  eq(c.got.messages[before].data, text, "text reassembled");
  eq(c.got.messages[before + 1].data, bin, "binary reassembled");
  c.ws.close(1000);
  await c.until((g) => g.close, "close");
});

t.test("ws client -> /echo: pings both ways with exact payloads", async () => {
  const c = await wsClient("/echo?ping=" + encodeURIComponent("srv-ping ✓"));
  await c.until((g) => g.pings.length, "the server's ping");
  eq(c.got.pings[0], Buffer.from("srv-ping ✓"), "server ping payload");
  c.ws.ping(Buffer.from([1, 2, 3, 0xff]));
  c.ws.ping(Buffer.alloc(0));
  await c.until((g) => g.pongs.length >= 2, "two pongs");
  eq(c.got.pongs[0], Buffer.from([1, 2, 3, 0xff]), "pong payload");
  eq(c.got.pongs[1], Buffer.alloc(0), "empty pong payload");
  c.ws.close(1000, "done");
  await c.until((g) => g.close, "close");
  // ws answered the server's ping itself; the server logs the pong payload it got.
  await demo.waitLog(/route=echo .*pong="srv-ping \\xe2\\x9c\\x93"/);
});

t.test("ws client closes with 4001 + reason: the server echoes both and reports them", async () => {
  const c = await wsClient("/echo");
  await echoOne(c, "before close", false);
  c.ws.close(4001, "node says bye ✓");
  await c.until((g) => g.close, "close");
  eq(c.got.close.code, 4001, "echoed close code");
  eq(c.got.close.reason.toString(), "node says bye ✓", "echoed close reason");
  await demo.waitLog(/route=echo status=101 close=4001 reason="node says bye \\xe2\\x9c\\x93" closed_by=client msgs_in=1 msgs_out=1/);
});

t.test("server closes with 4002 + reason after one message: ws sees both", async () => {
  const c = await wsClient("/echo?close=4002&reason=" + encodeURIComponent("server bye ✓") + "&after=1");
  await echoOne(c, "one", false);
  await c.until((g) => g.close, "the server's close");
  eq(c.got.close.code, 4002, "close code from the server");
  eq(c.got.close.reason.toString(), "server bye ✓", "close reason from the server");
  await demo.waitLog(/route=echo status=101 close=4002 reason="server bye \\xe2\\x9c\\x93" closed_by=server/);
});

// ---------------------------------------------------------------- pushwire C client -> ws server

/** A ws server on a free port; each connection's events recorded. */
async function wsServer() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 64 << 20 });
  await within(3000, "ws server listening", once(wss, "listening"));
  const conns = [];
  wss.on("connection", (ws) => {
    const c = { ws, messages: [], pings: [], pongs: [], close: null };
    ws.on("message", (data, isBinary) => c.messages.push({ data: Buffer.from(data), isBinary }));
    ws.on("ping", (d) => c.pings.push(Buffer.from(d)));
    ws.on("pong", (d) => c.pongs.push(Buffer.from(d)));
    ws.on("close", (code, reason) => { c.close = { code, reason: Buffer.from(reason) }; });
    ws.on("error", () => {});
    conns.push(c);
  });
  return { wss, conns, url: `ws://127.0.0.1:${wss.address().port}/peer`, close: () => wss.close() };
}

t.test("pushwire client -> ws server: text, multi-byte, binary, fragmented, large, both ways", async () => {
  const srv = await wsServer();
  try {
    const p = startPeer(srv.url);
    await p.next("OPEN");
    const c = await waitFor(3000, "server connection", () => srv.conns[0]);
    const multi = Buffer.from("日本語 ✓ 😀");
    const big = crypto.randomBytes(1 << 20);
    const frag = [Buffer.from("frag"), Buffer.from([0xe2, 0x9c]), Buffer.from([0x93]), Buffer.from(" end")];
    p.send("text " + hex("hello"));
    p.send("text " + hex(multi));
    p.send("binary " + hex([0, 255, 1, 254]));
    p.send("text ");
    for (let i = 0; i < frag.length; i++) p.send(`frag text ${hex(frag[i])} ${i === frag.length - 1 ? 1 : 0}`);
    p.send("binary " + hex(big));
    await waitFor(10000, "six messages at the ws server", () => c.messages.length >= 6);
    eq(c.messages.map((m) => m.isBinary), [false, false, true, false, false, true], "message kinds");
    eq(c.messages[0].data, Buffer.from("hello"), "text");
    eq(c.messages[1].data, multi, "multi-byte text");
    eq(c.messages[2].data, Buffer.from([0, 255, 1, 254]), "binary");
    eq(c.messages[3].data, Buffer.alloc(0), "empty text");
    eq(c.messages[4].data, Buffer.concat(frag), "fragmented text");
    eq(c.messages[5].data, big, "1 MiB binary");

    // Server to client: whole, fragmented (ws: fin:false sends) and large.
    const big2 = crypto.randomBytes(2 << 20);
    c.ws.send("from ws ✓");
    c.ws.send(Buffer.from([9, 8, 7]), { binary: true });
    c.ws.send("frag-a ", { fin: false });
    c.ws.send("frag-b", { fin: true });
    c.ws.send(big2, { binary: true });
    eq(await p.next("TEXT"), "TEXT " + hex("from ws ✓"), "text at the peer");
    eq(await p.next("BINARY"), "BINARY 090807", "binary at the peer");
    eq(await p.next("TEXT"), "TEXT " + hex("frag-a frag-b"), "fragmented text at the peer");
    eq(await p.next("BINARY", 10000), "BINARY " + hex(big2), "2 MiB binary at the peer");
    p.send("close 1000 ");
    eq(await p.next("CLOSE"), "CLOSE 1000 ", "close echoed by ws");
    await p.next("EOF");
    eq(await p.exit(), 0, "peer exit status");
    await waitFor(3000, "close at the ws server", () => c.close);
    eq(c.close.code, 1000, "close code at the ws server");
  } finally {
    srv.close();
  }
});

t.test("pushwire client <-> ws server: pings both ways with exact payloads", async () => {
  const srv = await wsServer();
  try {
    const p = startPeer(srv.url);
    await p.next("OPEN");
    const c = await waitFor(3000, "server connection", () => srv.conns[0]);
    p.send("ping " + hex("peer-ping"));
    eq(await p.next("PONG"), "PONG " + hex("peer-ping"), "pong from ws");
    await waitFor(3000, "ping at ws", () => c.pings.length);
    eq(c.pings[0], Buffer.from("peer-ping"), "ping payload at ws");
    c.ws.ping(Buffer.from([0xde, 0xad]));
    eq(await p.next("PING"), "PING dead", "ping at the peer");
    await waitFor(3000, "pushwire's automatic pong", () => c.pongs.length);
    eq(c.pongs[0], Buffer.from([0xde, 0xad]), "pong payload at ws");
    c.ws.close(1000);
    await p.next("CLOSE");
    await p.exit();
  } finally {
    srv.close();
  }
});

t.test("pushwire client closes with 4003 + reason: ws sees both, echoes the code", async () => {
  const srv = await wsServer();
  try {
    const p = startPeer(srv.url);
    await p.next("OPEN");
    const c = await waitFor(3000, "server connection", () => srv.conns[0]);
    p.send("close 4003 " + hex("peer bye ✓"));
    const line = await p.next("CLOSE");
    check(line.startsWith("CLOSE 4003 "), `close echoed with 4003: ${line}`);
    await p.next("EOF");
    eq(await p.exit(), 0, "peer exit");
    await waitFor(3000, "close at ws", () => c.close);
    eq(c.close.code, 4003, "close code at ws");
    eq(c.close.reason.toString(), "peer bye ✓", "close reason at ws");
  } finally {
    srv.close();
  }
});

t.test("ws server closes with 4004 + reason: the pushwire client sees both and echoes the code", async () => {
  const srv = await wsServer();
  try {
    const p = startPeer(srv.url);
    await p.next("OPEN");
    const c = await waitFor(3000, "server connection", () => srv.conns[0]);
    c.ws.close(4004, "ws says bye ✓");
    eq(await p.next("CLOSE"), "CLOSE 4004 " + hex("ws says bye ✓"), "close at the peer");
    await p.next("EOF");
    await waitFor(3000, "close at ws", () => c.close);
    eq(c.close.code, 4004, "ws got its code echoed");
    eq(await p.exit(), 0, "peer exit");
  } finally {
    srv.close();
  }
});

t.test("ws server sends an invalid UTF-8 text: the pushwire client fails it with 1007", async () => {
  const srv = await wsServer();
  try {
    const p = startPeer(srv.url);
    await p.next("OPEN");
    const c = await waitFor(3000, "server connection", () => srv.conns[0]);
    // ws does not validate what it sends: a text frame with F4 90 (beyond U+10FFFF).
    c.ws.send(Buffer.from([0x61, 0xf4, 0x90, 0x80, 0x80]), { binary: false });
    const line = await p.next("CLOSE");
    check(/^CLOSE 1007 \S* FAILED$/.test(line), `1007 failure at the peer: ${line}`);
    await waitFor(3000, "close at ws", () => c.close);
    eq(c.close.code, 1007, "ws got close 1007");
    await p.exit();
  } finally {
    srv.close();
  }
});

const wsClientBin = path.join(BUILD, "examples", "ws_client");
if (fs.existsSync(wsClientBin)) {
  t.test("examples/ws_client -> ws server: stdin lines out as text, replies printed, close 1000 at EOF", async () => {
    const srv = await wsServer();
    srv.wss.on("connection", (ws) => ws.on("message", (d) => ws.send(`re: ${d}`)));
    const proc = spawn(wsClientBin, [srv.url], { stdio: ["pipe", "pipe", "pipe"] });
    try {
      let out = "";
      proc.stdout.setEncoding("utf8");
      proc.stdout.on("data", (d) => { out += d; });
      const exited = once(proc, "exit");
      proc.stdin.write("hello from C\nzwei ✓\n");
      await waitFor(5000, "two replies", () => out.split("\n").length > 2);
      proc.stdin.end();
      const [code] = await within(5000, "ws_client exit", exited);
      eq(out, "re: hello from C\nre: zwei ✓\n", "ws_client output");
      eq(code, 0, "ws_client exit status");
      const c = srv.conns[0];
      eq(c.messages.map((m) => [m.isBinary, m.data.toString()]), [[false, "hello from C"], [false, "zwei ✓"]], "lines at ws");
      await waitFor(3000, "close at ws", () => c.close);
      eq(c.close.code, 1000, "close code from ws_client");
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      srv.close();
    }
  });
} else {
  console.log("skip node: examples/ws_client is not built yet");
}

// ---------------------------------------------------------------- eventsource-parser on /events

/** Read /events with eventsource-parser; collect events until stopped. */
function sseClient(port, lastEventId) {
  const events = [];
  const retries = [];
  const parser = createParser({
    onEvent: (e) => events.push({ id: e.id, event: e.event, data: e.data }),
    onRetry: (ms) => retries.push(ms),
  });
  const headers = { Accept: "text/event-stream" };
  if (lastEventId !== undefined) headers["Last-Event-ID"] = lastEventId;
  let res;
  const req = http.get({ host: "127.0.0.1", port, path: "/events", headers }, (r) => {
    res = r;
    r.setEncoding("utf8");
    r.on("data", (chunk) => parser.feed(chunk));
  });
  req.on("error", () => {});
  return {
    events,
    retries,
    get res() { return res; },
    until: (cond, what, ms = 8000) => waitFor(ms, what, () => cond(events)),
    stop() { req.destroy(); },
  };
}

const seqOf = (e) => JSON.parse(e.data).seq;
function checkContiguous(events, what) {
  for (let i = 1; i < events.length; i++) {
    eq(BigInt(events[i].id) - BigInt(events[i - 1].id), 1n, `${what}: ids ${events[i - 1].id} -> ${events[i].id}`);
    eq(seqOf(events[i]) - seqOf(events[i - 1]), 1, `${what}: seq`);
  }
}

t.test("eventsource-parser: head, retry, boot and ticks, ids contiguous", async () => {
  const s = await startDemo(["--tick-ms", "100"]);
  try {
    const c = sseClient(s.port);
    await c.until((ev) => ev.length >= 5, "five events");
    eq(c.res.statusCode, 200, "status");
    check(/^text\/event-stream/.test(c.res.headers["content-type"]), `content type ${c.res.headers["content-type"]}`);
    eq(c.res.headers["cache-control"], "no-cache", "cache-control");
    eq(c.retries, [1000], "retry field");
    eq(c.events[0].event, "boot", "the first event of a fresh server");
    eq(seqOf(c.events[0]), 1, "boot is event 1");
    check(c.events.slice(1).every((e) => e.event === "tick"), "then ticks");
    checkContiguous(c.events, "fresh stream");
    c.stop();
  } finally {
    eq(await s.stop(), 0, "server exit status");
  }
});

t.test("eventsource-parser: resume with Last-Event-ID continues exactly after it", async () => {
  const s = await startDemo(["--tick-ms", "50"]);
  try {
    const a = sseClient(s.port);
    await a.until((ev) => ev.length >= 4, "four events");
    a.stop();
    const last = a.events[a.events.length - 1];
    await sleep(400); // about eight events happen while we are away
    const b = sseClient(s.port, last.id);
    await b.until((ev) => ev.length >= 12, "the missed events and more");
    b.stop();
    eq(BigInt(b.events[0].id), BigInt(last.id) + 1n, "first resumed id");
    checkContiguous([...a.events, ...b.events], "across the resume");
    await s.waitLog(new RegExp(`last_event_id="${last.id}" replayed=([1-9]\\d*)`));
  } finally {
    eq(await s.stop(), 0, "server exit status");
  }
});

t.test("eventsource-parser: an id from an earlier run gets everything from boot; too old gets a gap notice", async () => {
  const s = await startDemo(["--tick-ms", "10"]);
  try {
    const a = sseClient(s.port, "1"); // earlier than any id of this run
    await a.until((ev) => ev.length >= 3, "events");
    a.stop();
    eq(a.events[0].event, "boot", "replay starts at boot");
    checkContiguous(a.events, "replay");
    await waitFor(6000, "the 256-event replay buffer to overflow", async () => {
      const c = sseClient(s.port);
      await c.until((ev) => ev.length >= 1, "an event");
      c.stop();
      return seqOf(c.events[c.events.length - 1]) > 300;
    });
    const g = sseClient(s.port, a.events[0].id); // boot: long gone from the buffer
    await g.until((ev) => ev.length >= 3, "gap and events");
    g.stop();
    eq(g.events[0].event, "gap", "gap notice first");
    const gap = JSON.parse(g.events[0].data);
    eq(gap.from, Number(BigInt(a.events[0].id) + 1n), "gap from");
    eq(BigInt(g.events[1].id), BigInt(gap.to) + 1n, "replay resumes right after the gap");
    checkContiguous(g.events.slice(1), "after the gap");
  } finally {
    eq(await s.stop(), 0, "server exit status");
  }
});

t.test("eventsource-parser: chat joins and leaves appear as events", async () => {
  const c = sseClient(demo.port);
  await c.until((ev) => ev.length >= 1, "the initial replay");
  const ws = new WebSocket(`ws://127.0.0.1:${demo.port}/ws`);
  await within(3000, "chat open", once(ws, "open"));
  ws.send(JSON.stringify({ type: "hello", nick: "node-sse ✓" }));
  await c.until((ev) => ev.some((e) => e.event === "join" && JSON.parse(e.data).nick === "node-sse ✓"), "join event");
  ws.close(1000);
  await c.until((ev) => ev.some((e) => e.event === "leave" && JSON.parse(e.data).nick === "node-sse ✓"), "leave event");
  c.stop();
});

t.test("stop the demo server: exit status 0", async () => {
  eq(await demo.stop(), 0, "exit status");
});

await t.run();
