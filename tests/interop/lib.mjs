// Shared helpers for the Node-driven suites: a tiny test runner with bounded waits, the
// demo server and the C test peer as child processes (always stopped, also on failure).
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BUILD = path.resolve(ROOT, process.env.BUILD || process.argv[2] || "build");

const children = new Set();
function killAll() {
  for (const c of children) {
    try { c.kill("SIGKILL"); } catch (_) { /* already gone */ }
  }
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => { killAll(); process.exit(1); });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Reject with `what` unless `p` settles within `ms`. */
export function within(ms, what, p) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

/** Poll `cond` (sync or async) every 25 ms until truthy, at most `ms`. Returns its value. */
export async function waitFor(ms, what, cond) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

export class AssertionError extends Error {}
export function check(cond, msg) {
  if (!cond) throw new AssertionError(msg);
}
const show = (v) =>
  Buffer.isBuffer(v) ? v.toString("hex") : JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
export function eq(actual, expected, msg) {
  const a = show(actual);
  const e = show(expected);
  if (a !== e) {
    const cut = (s) => (s.length > 200 ? s.slice(0, 200) + `... (${s.length} chars)` : s);
    throw new AssertionError(`${msg}: got ${cut(a)}, want ${cut(e)}`);
  }
}

/** Tests run one after another, each bounded; prints "N passed, M failed" at the end. */
export function runner(suite) {
  const tests = [];
  const cleanups = [];
  const api = {
    test(name, fn, ms = 20000) { tests.push({ name, fn, ms }); },
    /** Run at the end whatever happened (bounded). */
    cleanup(fn) { cleanups.push(fn); },
    async run() {
      let passed = 0, failed = 0;
      for (const t of tests) {
        const started = Date.now();
        try {
          await within(t.ms, t.name, t.fn());
          passed++;
          console.log(`ok   ${suite}: ${t.name} (${Date.now() - started} ms)`);
        } catch (e) {
          failed++;
          console.log(`FAIL ${suite}: ${t.name}: ${e && e.stack ? e.stack : e}`);
        }
      }
      for (const fn of cleanups) await within(10000, "cleanup", Promise.resolve().then(fn)).catch((e) => console.log(`cleanup: ${e}`));
      killAll();
      console.log(`${passed} passed, ${failed} failed`);
      process.exit(failed ? 1 : 0);
    },
  };
  return api;
}

/** Lines from a stream, with a waiter for the next line matching a predicate. */
class Lines {
  constructor(stream) {
    this.all = [];
    this.pos = 0;
    this.waiters = [];
    this.ended = false;
    let rest = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      rest += chunk;
      let i;
      while ((i = rest.indexOf("\n")) >= 0) {
        this.all.push(rest.slice(0, i));
        rest = rest.slice(i + 1);
      }
      this.wake();
    });
    stream.on("end", () => { this.ended = true; this.wake(); });
  }
  wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  /** The next unread line (in order) for which pred is true; earlier unread lines are skipped. */
  async next(pred, ms, what) {
    const end = Date.now() + ms;
    for (;;) {
      while (this.pos < this.all.length) {
        const l = this.all[this.pos++];
        if (pred(l)) return l;
      }
      if (this.ended) throw new Error(`stream ended waiting for ${what}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await within(left, what, new Promise((r) => this.waiters.push(r))).catch(() => {});
    }
  }
  /** Any line so far (read or not) matching re. */
  find(re) { return this.all.find((l) => re.test(l)); }
}

/** Start build/examples/demo_server on a free port. */
export async function startDemo(args = [], port = 0) {
  const bin = path.join(BUILD, "examples", "demo_server");
  const proc = spawn(bin, ["--host", "127.0.0.1", "--port", String(port), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.add(proc);
  const out = new Lines(proc.stdout);
  let stderr = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => {
    stderr += d;
    process.stdout.write(`demo_server stderr: ${d}`); // sanitizer reports belong in the suite's output
  });
  const exited = once(proc, "exit");
  const first = await out.next(() => true, 5000, "the demo server's first line").catch((e) => {
    throw new Error(`${e.message}; stderr: ${stderr}`);
  });
  const m = /^pushwire demo: http:\/\/127\.0\.0\.1:(\d+)\/$/.exec(first);
  check(m, `unexpected first line: ${first}`);
  const p = Number(m[1]);
  return {
    port: p,
    url: `http://127.0.0.1:${p}/`,
    proc,
    log: out,
    get stderr() { return stderr; },
    /** Wait for a connection log line matching re (searching every line so far too). */
    async waitLog(re, ms = 5000) {
      return waitFor(ms, `log line ${re}`, () => out.find(re));
    },
    /** SIGTERM, then at most 6 s for a clean exit (then SIGKILL). Resolves to the exit code. */
    async stop(sig = "SIGTERM") {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(sig);
      try {
        const [code] = await within(6000, "demo server exit", exited);
        return code;
      } catch (e) {
        proc.kill("SIGKILL");
        throw e;
      } finally {
        children.delete(proc);
      }
    },
  };
}

/** The C test peer (tests/tools/ws_peer.c) as a child: send commands, await its event lines. */
export function startPeer(url, timeoutMs = 20000) {
  const bin = path.join(BUILD, "tests", "ws_peer");
  check(fs.existsSync(bin), `${bin} is missing (run make)`);
  const proc = spawn(bin, ["--timeout", String(timeoutMs), url], { stdio: ["pipe", "pipe", "inherit"] });
  children.add(proc);
  const out = new Lines(proc.stdout);
  const exited = once(proc, "exit");
  return {
    proc,
    out,
    send(cmd) { proc.stdin.write(cmd + "\n"); },
    next(prefix, ms = 5000) { return out.next((l) => l.startsWith(prefix), ms, `peer line ${prefix}`); },
    async exit(ms = 5000) {
      try {
        proc.stdin.end();
        const [code] = await within(ms, "ws_peer exit", exited);
        return code;
      } finally {
        children.delete(proc);
        if (proc.exitCode === null) proc.kill("SIGKILL");
      }
    },
  };
}

export const hex = (b) => Buffer.from(b).toString("hex");

/** A raw TCP client for misbehaving-client tests. */
export async function rawConnect(port) {
  const sock = net.connect({ host: "127.0.0.1", port });
  await within(3000, "TCP connect", once(sock, "connect"));
  const chunks = [];
  let ended = false;
  const waiters = [];
  sock.on("data", (d) => { chunks.push(d); for (const w of waiters.splice(0)) w(); });
  sock.on("end", () => { ended = true; for (const w of waiters.splice(0)) w(); });
  sock.on("close", () => { ended = true; for (const w of waiters.splice(0)) w(); });
  sock.on("error", () => { ended = true; });
  return {
    sock,
    get data() { return Buffer.concat(chunks); },
    get ended() { return ended; },
    /** Wait until cond(bytes so far) or the peer closes; at most ms. */
    async until(cond, ms, what) {
      const end = Date.now() + ms;
      while (!cond(Buffer.concat(chunks)) && !ended) {
        const left = end - Date.now();
        if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await within(left, what, new Promise((r) => waiters.push(r))).catch(() => {});
      }
      return Buffer.concat(chunks);
    },
    async closed(ms, what = "the server to close the connection") {
      await this.until(() => false, ms, what).catch((e) => { if (!ended) throw e; });
      check(ended, what);
      return Buffer.concat(chunks);
    },
  };
}
