// The demo server as a real server: routing, plain HTTP answers, limits, and clients that
// are slow, half-open or misbehaving, then a clean SIGTERM shutdown. Raw sockets only
// where the behaviour is about bytes; Node's `ws` where a well-behaved client is needed.
//   node demo_http.mjs BUILD_DIR
import { once } from "node:events";
import WebSocket from "ws";
import { runner, startDemo, rawConnect, within, waitFor, check, eq, sleep } from "./lib.mjs";

const t = runner("demo");
let demo;

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

function upgrade(path, port, extra = "") {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** One frame; client frames are masked unless mask is false. */
function frame(opcode, payload, { mask = true, fin = true } = {}) {
  const p = Buffer.from(payload);
  const head = [(fin ? 0x80 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (p.length < 126) head.push(m | p.length);
  else if (p.length < 65536) head.push(m | 126, p.length >> 8, p.length & 255);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((p.length >>> 24) & 255, (p.length >>> 16) & 255, (p.length >>> 8) & 255, p.length & 255);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), p]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(p.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** Server frames (unmasked) after the 101 head; returns those complete so far. */
function frames(buf) {
  const end = buf.indexOf("\r\n\r\n");
  let i = end < 0 ? buf.length : end + 4;
  const out = [];
  while (i + 2 <= buf.length) {
    let len = buf[i + 1] & 127, h = 2;
    if (len === 126) { if (i + 4 > buf.length) break; len = buf.readUInt16BE(i + 2); h = 4; }
    else if (len === 127) { if (i + 10 > buf.length) break; len = Number(buf.readBigUInt64BE(i + 2)); h = 10; }
    if (i + h + len > buf.length) break;
    out.push({ fin: !!(buf[i] & 0x80), opcode: buf[i] & 15, payload: buf.subarray(i + h, i + h + len) });
    i += h + len;
  }
  return out;
}
const closeOf = (f) => ({ code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString() });

async function request(text, ms = 3000) {
  const c = await rawConnect(demo.port);
  c.sock.write(text);
  const data = await c.closed(ms);
  const s = data.toString("latin1");
  const headEnd = s.indexOf("\r\n\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(s)?.[1]);
  return { status, head: s.slice(0, headEnd), body: data.subarray(headEnd + 4) };
}

t.test("start the demo server (short head timeout, fast keepalive and heartbeat, small queues)", async () => {
  demo = await startDemo(["--head-timeout-ms", "400", "--ping-ms", "300", "--max-queue", "65536", "--heartbeat-ms", "150",
    "--tick-ms", "5000"]);
});

t.test("GET / serves the self-contained page with a CSP that forbids outside fetches", async () => {
  const r = await request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  eq(r.status, 200, "status");
  check(/\r\nContent-Type: text\/html; charset=utf-8\r\n/.test(r.head), "content type");
  eq(Number(/Content-Length: (\d+)/.exec(r.head)[1]), r.body.length, "content length");
  check(/Content-Security-Policy: default-src 'none';[^\r]*connect-src 'self'/.test(r.head), "CSP");
  const html = r.body.toString();
  check(html.includes("<title>pushwire demo</title>"), "page title");
  check(!/(src|href)=["']?(https?:)?\/\//i.test(html), "no outside resources in the page");
});

t.test("HEAD / has the head only; 404 and 405 with Allow", async () => {
  const h = await request("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  eq(h.status, 200, "HEAD status");
  eq(h.body.length, 0, "HEAD body");
  eq((await request("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")).status, 404, "unknown path");
  const p = await request("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  eq(p.status, 405, "POST /");
  check(/\r\nAllow: GET, HEAD/.test(p.head), "Allow header");
  eq((await request("DELETE /events HTTP/1.1\r\nHost: x\r\n\r\n")).status, 405, "DELETE /events");
  eq((await request("GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n")).status, 406, "SSE without event-stream Accept");
});

t.test("bad heads: garbage is 400, a 20 KiB head is 431", async () => {
  eq((await request("HELLO THERE\r\n\r\n")).status, 400, "garbage request line");
  eq((await request("GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")).status, 400, "space in a field name");
  const big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(20000) + "\r\n\r\n";
  eq((await request(big)).status, 431, "oversized head");
  await demo.waitLog(/status=431 .*note=HEAD_TOO_LARGE/);
});

t.test("an unfinished head times out with 408, also when trickled byte by byte", async () => {
  const started = Date.now();
  const c = await rawConnect(demo.port);
  c.sock.write("GET / HTTP/1.1\r\nHost: x\r\n");
  const data = await c.closed(3000);
  check(/^HTTP\/1\.1 408 /.test(data.toString()), `408: ${data.toString().slice(0, 40)}`);
  check(Date.now() - started < 2000, "within the head timeout");
  const s = await rawConnect(demo.port);
  const slow = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n\r\n";
  let i = 0;
  const timer = setInterval(() => { if (!s.ended && i < slow.length) s.sock.write(slow[i++]); }, 50);
  try {
    const d = await s.closed(3000, "the slow client to be cut off");
    check(/^HTTP\/1\.1 408 /.test(d.toString()), "trickled head gets 408");
  } finally {
    clearInterval(timer);
  }
  await demo.waitLog(/status=408 .*note=head-timeout/);
});

t.test("a peer that leaves mid-head is logged as such", async () => {
  const c = await rawConnect(demo.port);
  c.sock.end("GET /ws HTTP/1.1\r\nHo");
  await c.closed(2000);
  await demo.waitLog(/req="-" kind=head .*note=eof-in-head/);
});

t.test("WebSocket paths: a plain GET is refused by the core's handshake check; a foreign Origin gets 403", async () => {
  const r = await request("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
  check(r.status === 400 || r.status === 426, `plain GET /ws: ${r.status}`);
  const v = await request(upgrade("/echo", demo.port).replace("Version: 13", "Version: 8"));
  eq(v.status, 426, "unsupported version");
  check(/Sec-WebSocket-Version: 13/.test(v.head), "426 names version 13");
  const o = await request(upgrade("/ws", demo.port, "Origin: http://evil.example\r\n"));
  eq(o.status, 403, "foreign origin");
  const c = await rawConnect(demo.port);
  c.sock.write(upgrade("/ws", demo.port, `Origin: http://127.0.0.1:${demo.port}\r\n`));
  const d = await c.until((b) => b.includes("\r\n\r\n"), 3000, "101");
  check(d.toString().startsWith("HTTP/1.1 101 "), "own origin accepted");
  check(d.toString().includes(`Sec-WebSocket-Accept: ${ACCEPT}`), "accept key");
  c.sock.destroy();
});

t.test("a first frame in the same packet as the upgrade request is not lost", async () => {
  const c = await rawConnect(demo.port);
  c.sock.write(Buffer.concat([Buffer.from(upgrade("/echo", demo.port)), frame(1, "early bird"), frame(8, Buffer.from([0x03, 0xe8]))]));
  const d = await c.closed(3000);
  const f = frames(d);
  eq(f.map((x) => x.opcode), [1, 8], "echo then close");
  eq(f[0].payload.toString(), "early bird", "echoed first frame");
  eq(closeOf(f[1]).code, 1000, "close echoed");
});

async function violation(path, bytes, code) {
  const c = await rawConnect(demo.port);
  c.sock.write(upgrade(path, demo.port));
  await c.until((b) => b.includes("\r\n\r\n"), 3000, "101");
  c.sock.write(bytes);
  await c.until((b) => frames(b).some((x) => x.opcode === 8), 3000, "a close frame");
  // Answer like a client would; a server that failed the connection does not wait for it.
  if (!c.ended) c.sock.write(frame(8, Buffer.from([code >> 8, code & 255])));
  const d = await c.closed(3000);
  const f = frames(d).filter((x) => x.opcode === 8);
  eq(f.length, 1, "one close frame");
  eq(closeOf(f[0]).code, code, "close code");
  return closeOf(f[0]);
}

t.test("protocol violations close with the core's codes: 1002, 1007, 1009, and 1003 for binary chat", async () => {
  await violation("/echo", frame(1, "not masked", { mask: false }), 1002);
  await violation("/echo", frame(1, Buffer.from([0x61, 0xf4, 0x90, 0x80, 0x80])), 1007);
  await violation("/echo", frame(0x3, "reserved opcode"), 1002);
  await violation("/ws", frame(1, "x".repeat(70000)), 1009);
  const r = await violation("/ws", frame(2, Buffer.from([1, 2, 3])), 1003);
  eq(r.reason, "the chat takes JSON text messages", "1003 reason");
  await demo.waitLog(/route=echo status=101 close=1002 .*closed_by=protocol-error/);
});

t.test("chat protocol errors are answered, not fatal", async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${demo.port}/ws`);
  const got = [];
  ws.on("message", (d) => got.push(JSON.parse(d.toString())));
  await within(3000, "open", once(ws, "open"));
  ws.send("not json");
  ws.send(JSON.stringify({ type: "say", text: "too early" }));
  ws.send(JSON.stringify({ type: "hello", nick: "  tester\u0007  " }));
  ws.send(JSON.stringify({ type: "shout" }));
  ws.send(JSON.stringify({ type: "say", text: "x".repeat(2001) }));
  ws.send(JSON.stringify({ type: "say", text: "fine \"quoted\" \\ \u2713" }));
  await waitFor(3000, "six replies", () => got.length >= 6);
  eq(got[0].type, "error", "not JSON");
  eq(got[1].text, "say hello first", "say before hello");
  eq([got[2].type, got[2].nick], ["welcome", "tester"], "welcome with a cleaned nick");
  eq(got[3].type, "join", "join broadcast");
  eq(got[4].text, "unknown message type", "unknown type");
  eq(got[5].text, "message too long", "too long");
  await waitFor(3000, "the message", () => got.find((m) => m.type === "msg"));
  eq(got.find((m) => m.type === "msg").text, "fine \"quoted\" \\ \u2713", "JSON round trip");
  ws.close(1000);
  await within(3000, "close", once(ws, "close"));
});

t.test("half-open client: the keepalive ping goes unanswered and the server drops it", async () => {
  const c = await rawConnect(demo.port);
  c.sock.write(upgrade("/echo", demo.port));
  const d = await c.closed(4000, "the keepalive to drop the silent client");
  check(frames(d).some((f) => f.opcode === 9), "a ping was sent first");
  await demo.waitLog(/route=echo status=101 close=1006 .*closed_by=timeout.*note=keepalive-timeout/);
  // A live client answers the pings (ws does it by itself) and stays.
  const ws = new WebSocket(`ws://127.0.0.1:${demo.port}/echo`);
  let pings = 0;
  ws.on("ping", () => pings++);
  await within(3000, "open", once(ws, "open"));
  await sleep(1200);
  eq(ws.readyState, WebSocket.OPEN, "a responsive client stays connected");
  check(pings >= 2, `pings seen: ${pings}`);
  ws.close(1000);
});

t.test("slow consumer: a chat member that stops reading is dropped, the others carry on", async () => {
  // A server of its own, without the shared one's 300 ms keepalive: the paused member can't
  // answer pings, and under load the keepalive dropped it before its queue filled (logged
  // as keepalive-timeout, and this test then waited for a drop that had already happened).
  const own = await startDemo(["--ping-ms", "600000", "--max-queue", "65536"]);
  const slow = await rawConnect(own.port);
  const ws = new WebSocket(`ws://127.0.0.1:${own.port}/ws`);
  const opened = once(ws, "open");
  ws.on("error", () => {});
  try {
    slow.sock.write(upgrade("/ws", own.port));
    await slow.until((b) => b.includes("\r\n\r\n"), 3000, "101");
    slow.sock.write(frame(1, JSON.stringify({ type: "hello", nick: "slowpoke" })));
    await slow.until((b) => b.includes('"welcome"'), 3000, "the welcome");
    slow.sock.pause(); // stop reading: the kernel buffers fill, then the server's queue
    let received = 0;
    ws.on("message", () => received++);
    await within(3000, "open", opened);
    ws.send(JSON.stringify({ type: "hello", nick: "flooder" }));
    const text = "y".repeat(2000);
    let sent = 0;
    await waitFor(30000, "the slow member to be dropped", async () => {
      // The next burst goes out only once the flooder has read its own echoes back, and a
      // burst (about 32 KiB) fits in the server's queue, so the only queue that can fill is
      // the paused member's, however slowly this process is scheduled.
      check(ws.readyState === WebSocket.OPEN, `the flooder was dropped (${received} of ${sent} echoes read)`);
      if (received >= sent) for (let k = 0; k < 16; k++, sent++) ws.send(JSON.stringify({ type: "say", text }));
      return own.log.find(/nick="slowpoke".*note=slow-consumer/);
    });
    await waitFor(10000, "the flooder to get its own messages back", () => received >= sent);
    eq(ws.readyState, WebSocket.OPEN, "the reader is still connected");
    check(!own.log.find(/nick="flooder"/), "the flooder's connection is still open");
    ws.close(1000);
  } finally {
    slow.sock.destroy();
    ws.terminate();
    eq(await own.stop("SIGTERM"), 0, "the second server's exit status");
  }
}, 45000);

t.test("SIGTERM: WebSockets get close 1001, SSE streams get `shutdown` and end, exit status 0", async () => {
  const chat = new WebSocket(`ws://127.0.0.1:${demo.port}/ws`);
  const echo = new WebSocket(`ws://127.0.0.1:${demo.port}/echo`);
  const closes = [];
  for (const w of [chat, echo]) {
    w.on("close", (code, reason) => closes.push({ code, reason: reason.toString() }));
    w.on("error", () => {});
    await within(3000, "open", once(w, "open"));
  }
  chat.send(JSON.stringify({ type: "hello", nick: "stayer" }));
  const sse = await rawConnect(demo.port);
  sse.sock.write("GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
  await sse.until((b) => b.includes("retry: 1000"), 3000, "the stream");
  await sse.until((b) => b.includes("\n: heartbeat\n"), 3000, "a heartbeat comment on the idle stream");
  const started = Date.now();
  const status = await demo.stop("SIGTERM");
  eq(status, 0, "exit status");
  check(Date.now() - started < 3500, "stopped within the grace period");
  await waitFor(2000, "two closes", () => closes.length === 2);
  eq(closes, [{ code: 1001, reason: "server shutting down" }, { code: 1001, reason: "server shutting down" }], "close frames");
  const stream = (await sse.closed(2000)).toString();
  check(/event: shutdown\nid: \d+\ndata: \{[^\n]*"server shutting down"/.test(stream), "shutdown event");
  await demo.waitLog(/^pushwire demo: stopped$/);
});

await t.run();
