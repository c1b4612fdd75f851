#!/usr/bin/env python3
"""Python runners for W1, W2, W4, W6 and W9 of ../shared/bench/WORKLOADS.md: pushwire's
Python binding beside wsproto and the sans-IO layer of websockets (with its C speedups),
and, for W9 (SSE decode), sseclient-py (neither wsproto nor websockets parses SSE).

Every runner follows the runner contract: server role, the RFC 6455 sample handshake, the
input in 65,536-byte chunks, each message delivered as str (text; checksum over code points)
or bytes to a Python checksum, pings counted and the pongs drained; UTF-8 is validated by
every library or runner. Each pass is checked against the manifest. Timed region: one pass,
connection creation included. Passes repeat until --min-time; rounds alternate the order
of the implementations; the table shows medians over rounds (wall time, and process CPU
time for the shared machine). A report, not a test: `tests/bench/python/run.sh` makes the
venv and runs this.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

REQUEST = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
CHUNK = 65536
BIG = 32 << 20
WS_WORKLOADS = ("W1", "W2", "W4", "W6")


def cs_text(d):
    n = len(d)
    return n + ord(d[0]) + 3 * ord(d[n >> 1]) + 7 * ord(d[-1]) if n else 0


def cs_bytes(d):
    n = len(d)
    return n + d[0] + 3 * d[n >> 1] + 7 * d[-1] if n else 0


# ---- pushwire ----

def pushwire_ws(chunks):
    import pushwire
    Text, Bytes, Ping = pushwire.TextMessage, pushwire.BytesMessage, pushwire.Ping
    conn = pushwire.ServerConnection(auto_accept=True, max_message_size=BIG, max_frame_size=BIG)
    conn.receive_data(REQUEST)
    assert type(next(conn.events())) is pushwire.Accepted
    assert conn.data_to_send().startswith(b"HTTP/1.1 101")
    units = checksum = pings = pong = 0
    for chunk in chunks:
        conn.receive_data(chunk)
        for ev in conn.events():
            t = type(ev)
            if t is Text:
                d = ev.data
                n = len(d)
                checksum += n + ord(d[0]) + 3 * ord(d[n >> 1]) + 7 * ord(d[-1])
                units += 1
            elif t is Bytes:
                d = ev.data
                n = len(d)
                checksum += n + d[0] + 3 * d[n >> 1] + 7 * d[-1]
                units += 1
            elif t is Ping:
                pings += 1
        pong += len(conn.data_to_send())
    return units, checksum, pings, pong


def pushwire_sse(chunks):
    from pushwire import sse
    Event = sse.ServerSentEvent
    p = sse.SSEParser()
    units = checksum = 0
    for chunk in chunks:
        for ev in p.feed(chunk):
            if type(ev) is Event:
                d = ev.data
                n = len(d)
                checksum += n + len(ev.type) + len(ev.last_event_id) + ord(d[0]) + 7 * ord(d[-1])
                units += 1
    return units, checksum, 0, 0


# ---- wsproto ----

def wsproto_ws(chunks):
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, BytesMessage, Ping, Request, TextMessage
    conn = WSConnection(ConnectionType.SERVER)
    conn.receive_data(REQUEST)
    ev = next(conn.events())
    assert isinstance(ev, Request)
    assert conn.send(AcceptConnection()).startswith(b"HTTP/1.1 101")
    units = checksum = pings = pong = 0
    parts = []
    for chunk in chunks:
        conn.receive_data(chunk)
        for ev in conn.events():
            t = type(ev)
            if t is TextMessage or t is BytesMessage:
                if not ev.message_finished:
                    parts.append(ev.data)
                    continue
                d = ev.data
                if parts:
                    parts.append(d)
                    d = ("" if t is TextMessage else b"").join(parts)
                    parts = []
                checksum += cs_text(d) if t is TextMessage else cs_bytes(d)
                units += 1
            elif t is Ping:
                pings += 1
                pong += len(conn.send(ev.response()))
    return units, checksum, pings, pong


# ---- websockets (sans-IO layer) ----

def websockets_ws(chunks):
    from websockets.frames import Opcode
    from websockets.http11 import Request
    from websockets.server import ServerProtocol
    TEXT, BINARY, CONT, PING = Opcode.TEXT, Opcode.BINARY, Opcode.CONT, Opcode.PING
    p = ServerProtocol(max_size=BIG)
    p.receive_data(REQUEST)
    (req,) = p.events_received()
    assert isinstance(req, Request)
    p.send_response(p.accept(req))
    assert p.data_to_send()[0].startswith(b"HTTP/1.1 101")
    units = checksum = pings = pong = 0
    frames, text = [], False
    for chunk in chunks:
        p.receive_data(chunk)
        for f in p.events_received():
            op = f.opcode
            if op is TEXT or op is BINARY or op is CONT:
                if op is not CONT:
                    text = op is TEXT
                if not f.fin:
                    frames.append(f.data)
                    continue
                d = f.data
                if frames:  # websockets' Assembler joins the frames, then decodes
                    frames.append(d)
                    d = b"".join(frames)
                    frames = []
                if text:
                    checksum += cs_text(d.decode("utf-8"))
                else:
                    checksum += cs_bytes(d)
                units += 1
            elif op is PING:
                pings += 1
        for out in p.data_to_send():  # the pongs websockets queued itself
            pong += len(out)
    return units, checksum, pings, pong


# ---- sseclient-py (W9 only) ----

def sseclient_sse(chunks):
    import sseclient
    units = checksum = 0
    for ev in sseclient.SSEClient(iter(chunks)).events():
        d = ev.data
        n = len(d)
        checksum += n + len(ev.event) + len(ev.id or "") + ord(d[0]) + 7 * ord(d[-1])
        units += 1
    return units, checksum, 0, 0


RUNNERS = {
    "pushwire": {"ws": pushwire_ws, "sse": pushwire_sse},
    "wsproto": {"ws": wsproto_ws},
    "websockets": {"ws": websockets_ws},
    "sseclient-py": {"sse": sseclient_sse},
}


def versions():
    out = {"python": platform.python_version()}
    for mod, name in (("pushwire", "pushwire"), ("wsproto", "wsproto"), ("websockets", "websockets"),
                      ("sseclient", "sseclient-py")):
        try:
            from importlib.metadata import version
            out[name] = version(name)
        except Exception:  # noqa: BLE001
            out[name] = "missing"
    try:
        import websockets.speedups  # noqa: F401
        out["websockets_speedups"] = True
    except ImportError:
        out["websockets_speedups"] = False
    return out


def load(dirname, manifest, wid, subset):
    w = manifest["workloads"][wid]
    sub = w["subsets"][subset]
    nbytes = sub["wire_bytes"] if "wire_bytes" in sub else sub.get("file_bytes")
    with open(os.path.join(dirname, w["file"]), "rb") as f:
        data = f.read(nbytes) if nbytes else f.read()
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)], len(data), sub


def measure(fn, chunks, min_time):
    fn(chunks)  # warm-up (checked by the caller's first result)
    passes, wall, cpu = 0, 0.0, 0.0
    result = None
    while wall < min_time or passes == 0:
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn(chunks)
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        passes += 1
    return result, wall / passes, cpu / passes, passes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default="/tmp/pushwire-bench")
    ap.add_argument("--subset", default="full", choices=("full", "tenth", "hundredth"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--workloads", default="W1,W2,W4,W6,W9")
    ap.add_argument("--impls", default="pushwire,wsproto,websockets,sseclient-py")
    ap.add_argument("--out", default=None, help="write the JSON lines here too")
    args = ap.parse_args()
    manifest = json.load(open(os.path.join(args.dir, "manifest.json")))
    impls = args.impls.split(",")
    lines = []
    results = {}  # (w, impl) -> list of (wall, cpu)
    meta = {}
    print(json.dumps({"environment": versions(), "loadavg": open("/proc/loadavg").read().split()[:3]}), flush=True)
    for wid in args.workloads.split(","):
        kind = "sse" if wid == "W9" else "ws"
        chunks, wire, sub = load(args.dir, manifest, wid, args.subset)
        want_units = sub["units"]
        pings_want = sub.get("pings", 0)
        for rnd in range(args.rounds):
            order = impls if rnd % 2 == 0 else impls[::-1]
            for impl in order:
                fn = RUNNERS.get(impl, {}).get(kind)
                if fn is None:
                    continue
                (units, checksum, pings, pong), wall, cpu, passes = measure(fn, chunks, args.min_time)
                mode = "bytes" if manifest["workloads"][wid].get("opcode") == 2 else "chars"
                want = sub["checksum_" + mode]
                ok = units == want_units and checksum == want and pings == pings_want and pong == 10 * pings_want
                line = {"impl": impl, "lang": "python", "workload": wid, "subset": args.subset, "units": units,
                        "seconds": wall, "cpu_seconds": cpu, "units_per_s": units / wall,
                        "mb_per_s": sub["payload_bytes"] / wall / 1e6, "wire_mb_per_s": wire / wall / 1e6,
                        "checksum": checksum, "checksum_mode": mode, "passes": passes,
                        "payload_bytes": sub["payload_bytes"], "wire_bytes": wire, "pings": pings,
                        "pong_bytes": pong, "verified": ok, "round": rnd, "utf8_validated": True}
                print(json.dumps(line), flush=True)
                lines.append(line)
                if not ok:
                    print("MISMATCH %s %s: units %d/%d checksum %d/%d pings %d/%d pong %d" % (
                        impl, wid, units, want_units, checksum, want, pings, pings_want, pong), file=sys.stderr)
                    sys.exit(1)
                results.setdefault((wid, impl), []).append((wall, cpu))
                meta[(wid, impl)] = units
    if args.out:
        with open(args.out, "w") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
    table(args, results, meta)


def table(args, results, meta):
    print()
    print("subset %s, %d rounds, min %.1f s per measurement; medians; loadavg %s" % (
        args.subset, args.rounds, args.min_time, " ".join(open("/proc/loadavg").read().split()[:3])))
    hdr = "| workload | impl | units/s (wall) | units/s (cpu) | x wsproto | x websockets | x sseclient-py |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for wid in args.workloads.split(","):
        med = {}
        for (w, impl), v in results.items():
            if w == wid:
                med[impl] = (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
        for impl, (wall, cpu) in med.items():
            units = meta[(wid, impl)]

            def ratio(peer):
                if peer not in med or impl == peer:
                    return "-"
                return "%.1fx (cpu %.1fx)" % (med[peer][0] / wall, med[peer][1] / cpu)

            print("| %s | %s | %s | %s | %s | %s | %s |" % (
                wid, impl, "{:,.0f}".format(units / wall), "{:,.0f}".format(units / cpu), ratio("wsproto"),
                ratio("websockets"), ratio("sseclient-py")))


if __name__ == "__main__":
    main()
