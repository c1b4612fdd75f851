// The demo page in a real browser: Debian's Chromium, headless, driven by playwright-core
// (never a downloaded browser). Two tabs chat both ways, the SSE feed arrives, the server
// restarts and the page resumes (chat reconnects, the feed continues from Last-Event-ID
// with nothing lost or shown twice), and the browser's own WebSocket talks to /echo.
// Leaves a screenshot in BUILD/interop/demo.png.
//   node browser.mjs BUILD_DIR
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { BUILD, runner, startDemo, check, eq, sleep } from "./lib.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const OUT = path.join(BUILD, "interop");
const SERVER_ARGS = ["--tick-ms", "250"];
const t = runner("browser");
let demo, context, alice, bob, userDataDir;

/** Wait (bounded) until fn(arg) is truthy in the page; returns its value. */
async function until(page, what, fn, arg, ms = 10000) {
  try {
    const h = await page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
    return await h.jsonValue();
  } catch (e) {
    const state = await page.evaluate(() => {
      const d = window.pushwireDemo;
      return d && { chat: d.chat, feed: d.feed, online: d.online, messages: d.messages.length, feedRaw: d.feedRaw.length };
    }).catch(() => "(page gone)");
    throw new Error(`${what}: ${e.message.split("\n")[0]}; page state ${JSON.stringify(state)}`);
  }
}

const demoState = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.pushwireDemo)));

async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

const shown = (page, text) =>
  until(page, `message ${JSON.stringify(text)} shown`, (t) =>
    [...document.querySelectorAll("#messages li .text")].some((e) => e.textContent === t), text);

t.test("start the demo server and Chromium (two tabs)", async () => {
  check(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (.ci/install-deps)`);
  fs.mkdirSync(OUT, { recursive: true });
  demo = await startDemo(SERVER_ARGS);
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pushwire-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    viewport: { width: 1200, height: 760 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // Nothing may be fetched from anywhere but the demo server.
  context.on("request", (r) => {
    const u = new URL(r.url());
    if (u.protocol !== "data:" && u.host !== `127.0.0.1:${demo.port}`) outside.push(r.url());
  });
  alice = context.pages()[0] || (await context.newPage());
  bob = await context.newPage();
  for (const [page, nick] of [[alice, "alice"], [bob, "bob"]]) {
    page.on("pageerror", (e) => errors.push(`${nick}: ${e.message}`));
    await page.goto(`${demo.url}?nick=${nick}`, { timeout: 10000 });
  }
}, 60000);
const outside = [];
const errors = [];

t.test("both tabs connect: chat online, feed live, each sees the other online", async () => {
  for (const page of [alice, bob]) {
    await until(page, "chat online", () => window.pushwireDemo.chat === "online");
    await until(page, "feed live", () => window.pushwireDemo.feed === "live");
    await until(page, "both online", () => ["alice", "bob"].every((n) => window.pushwireDemo.online.includes(n)));
  }
  eq(await alice.textContent("#me"), "alice", "alice's nick");
  eq(await bob.textContent("#me"), "bob", "bob's nick");
});

t.test("chat both ways: every message appears in both tabs", async () => {
  await say(alice, "hello from alice ✓");
  await shown(alice, "hello from alice ✓");
  await shown(bob, "hello from alice ✓");
  await say(bob, "hi alice — bob here: ça va? Ωμέγα ☺");
  await shown(bob, "hi alice — bob here: ça va? Ωμέγα ☺");
  await shown(alice, "hi alice — bob here: ça va? Ωμέγα ☺");
  check(await alice.$eval("#messages li.mine .text", (e) => e.textContent === "hello from alice ✓"), "alice's own message styled as hers");
});

t.test("SSE notifications arrive: bob's join, clock ticks, in order without duplicates", async () => {
  await until(alice, "bob's join in alice's feed", () =>
    [...document.querySelectorAll("#feed li.join .x")].some((e) => e.textContent.startsWith("bob joined")));
  await until(alice, "ticks", () => window.pushwireDemo.feedRaw.filter((e) => e.type === "tick").length >= 3);
  await until(alice, "the clock", () => /^\d\d:\d\d:\d\d$/.test(document.getElementById("clock").textContent));
  const s = await demoState(alice);
  eq(s.feedDuplicates, 0, "duplicates");
  for (let i = 1; i < s.feedRaw.length; i++) eq(s.feedRaw[i].seq, s.feedRaw[i - 1].seq + 1, "contiguous seq");
});

let oldShutdownId = null;
t.test("server restart: chat reconnects with backoff, the feed resumes from Last-Event-ID", async () => {
  eq(await demo.stop(), 0, "old server exit status");
  for (const page of [alice, bob]) {
    await until(page, "chat notices 1001", () => window.pushwireDemo.chat.startsWith("server going away"));
    await until(page, "the shutdown event", () => window.pushwireDemo.feedRaw.some((e) => e.type === "shutdown"));
  }
  await sleep(1500); // the page retries against a closed port meanwhile
  demo = await startDemo(SERVER_ARGS, demo.port);
  for (const page of [alice, bob]) {
    await until(page, "chat online again", () => window.pushwireDemo.chat === "online" && window.pushwireDemo.chatConnects >= 2, null, 15000);
    await until(page, "feed live again", () => window.pushwireDemo.feed === "live" && window.pushwireDemo.feedOpens >= 2, null, 15000);
    await until(page, "ticks of the new run", () => {
      const raw = window.pushwireDemo.feedRaw;
      return raw.filter((e) => e.boot === raw[raw.length - 1].boot && e.type === "tick").length >= 4;
    });
  }
});

t.test("...and the feed has no gap and no duplicate across the restart (both tabs)", async () => {
  for (const page of [alice, bob]) {
    const s = await demoState(page);
    eq(s.feedDuplicates, 0, "duplicates dropped by the page");
    eq(s.feedRaw.filter((e) => e.type === "gap").length, 0, "gap notices");
    const ids = s.feedRaw.map((e) => e.id);
    eq(new Set(ids).size, ids.length, "every id arrived once");
    const boots = [...new Set(s.feedRaw.map((e) => e.boot))];
    eq(boots.length, 2, "events from two server runs");
    const [oldRun, newRun] = boots.map((b) => s.feedRaw.filter((e) => e.boot === b));
    for (const run of [oldRun, newRun])
      for (let i = 1; i < run.length; i++) eq(run[i].seq, run[i - 1].seq + 1, `contiguous seq in run ${run[0].boot}`);
    eq(oldRun[oldRun.length - 1].type, "shutdown", "the old run's last event reached the page");
    oldShutdownId = oldRun[oldRun.length - 1].id;
    eq([newRun[0].type, newRun[0].seq], ["boot", 1], "the new run from its first event (sent before the page reconnected)");
    check(BigInt(newRun[0].id) > BigInt(oldRun[oldRun.length - 1].id), "ids grow across runs");
  }
});

t.test("chat works after the restart", async () => {
  await until(alice, "bob back online", () => window.pushwireDemo.online.includes("bob"));
  await say(bob, "back after the restart");
  await shown(alice, "back after the restart");
  await say(alice, "welcome back, bob ✓");
  await shown(bob, "welcome back, bob ✓");
});

t.test("the browser's WebSocket on /echo: ASCII, multi-byte, 1 MiB text, 64 KiB binary, close 4321 + reason", async () => {
  const r = await alice.evaluate(async () => {
    const ws = new WebSocket(`ws://${location.host}/echo`);
    ws.binaryType = "arraybuffer";
    const queue = [];
    let wake = null;
    ws.onmessage = (e) => { queue.push(e.data); if (wake) wake(); };
    const closed = new Promise((res) => { ws.onclose = (e) => res({ code: e.code, reason: e.reason, wasClean: e.wasClean }); });
    await new Promise((res, rej) => { ws.onopen = res; ws.onerror = rej; });
    const next = async () => {
      while (!queue.length) await new Promise((res) => { wake = res; });
      return queue.shift();
    };
    const out = {};
    ws.send("hello echo");
    out.ascii = (await next()) === "hello echo";
    const multi = "héllo wörld ✓ 日本語 😀 𝄞";
    ws.send(multi);
    out.multi = (await next()) === multi;
    const unit = "pushwire 1 MiB text: ✓ ";
    const unitBytes = new TextEncoder().encode(unit).length;
    const reps = Math.floor(1048576 / unitBytes);
    const big = unit.repeat(reps) + "x".repeat(1048576 - reps * unitBytes);
    out.bigBytes = new TextEncoder().encode(big).length;
    ws.send(big);
    out.big = (await next()) === big;
    const bin = new Uint8Array(65536);
    crypto.getRandomValues(bin);
    ws.send(bin);
    const back = new Uint8Array(await next());
    out.binary = back.length === bin.length && back.every((b, i) => b === bin[i]);
    ws.close(4321, "browser bye ✓");
    out.close = await closed;
    return out;
  });
  eq(r.ascii, true, "ASCII echo");
  eq(r.multi, true, "multi-byte echo");
  eq(r.bigBytes, 1048576, "1 MiB text size");
  eq(r.big, true, "1 MiB text echo");
  eq(r.binary, true, "64 KiB binary echo");
  eq(r.close, { code: 4321, reason: "browser bye ✓", wasClean: true }, "close echoed to the browser");
  // The server reports the code and reason it received.
  await demo.waitLog(/route=echo status=101 close=4321 reason="browser bye \\xe2\\x9c\\x93" closed_by=client msgs_in=4 msgs_out=4/);
});

t.test("screenshot, no page errors, nothing fetched from outside", async () => {
  await alice.bringToFront();
  await sleep(300);
  const file = path.join(OUT, "demo.png");
  await alice.screenshot({ path: file });
  check(fs.statSync(file).size > 10000, "screenshot written");
  console.log(`screenshot: ${file}`);
  eq(errors, [], "page errors");
  eq(outside, [], "requests to other hosts");
});

t.test("stop Chromium and the server", async () => {
  await context.close();
  context = null;
  eq(await demo.stop(), 0, "server exit status");
  // Each tab's EventSource reconnected to the new server naming the old run's last event
  // (its `shutdown`) and was replayed what it had missed (the server logs streams as they end).
  check(oldShutdownId, "the restart test ran");
  const resumed = demo.log.all.filter((l) => l.includes(`kind=sse route=events status=200 last_event_id="${oldShutdownId}" replayed=`));
  eq(resumed.length, 2, `two streams resumed from ${oldShutdownId}`);
  for (const l of resumed) check(/replayed=[1-9]/.test(l), `a replay happened: ${l}`);
}, 20000);

t.cleanup(async () => {
  if (context) await context.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

await t.run();
