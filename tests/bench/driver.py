#!/usr/bin/env python3
"""`make bench`: runs pwbench for every implementation, several rounds, alternating the
order each round, then prints one table of medians and writes the JSON lines.

  build/bench/table.txt      the table printed at the end
  build/bench/rounds.jsonl   every line pwbench printed (memcpy lines included)
  build/bench/results.jsonl  one object per implementation and workload: the runner
                             contract's fields, medians over the rounds, plus
                             ratio_memcpy / ratio_best_peer / rounds
  build/bench/scaling.jsonl  the scaling and memory report (pwbench --scaling)

Ratios are taken per round against the memcpy measured in the same process just
before the implementation (ratio_memcpy), then the median over rounds; ratio_best_peer
compares median units/s with the faster of wslay and Beast on that workload.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

PEERS = ("wslay", "beast")
ORDER = ("W1", "W2", "W3", "W3b", "W4", "W5", "W6", "W7", "W8", "W9")
# Issue 5's targets, printed beside the pushwire rows (information, not a test).
TARGETS = {
    "W1": "10x wslay, 7x beast", "W2": "0.9x memcpy", "W3": "1.0x memcpy in place",
    "W3b": "1.0x memcpy in place", "W4": "0.9x memcpy", "W5": "0.8x memcpy",
    "W6": "10x wslay", "W7": "10x beast", "W8": "0.5x memcpy", "W9": "0.3x memcpy",
}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def environment(binary):
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    return {
        "cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
        "compiler": sh("${CXX:-g++} --version | head -n1"),
        "flags": "-O3 -DNDEBUG (meson buildtype=release), no -march",
        "peers": sh("dpkg-query -W -f='${Package} ${Version}; ' libwslay1 libboost-dev 2>/dev/null"),
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "binary": binary,
    }


def run(binary, args):
    p = subprocess.run([binary] + args, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return p.returncode, lines


def fmt_rate(x):
    if x is None:
        return "-"
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return "%.2f%s" % (x / div, suf)
    return "%.1f" % x


def fmt_ratio(x):
    return "-" if x is None else "%.2f" % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--dir", default="/tmp/pushwire-bench")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--subset", default="full")
    ap.add_argument("--min-time", default="0.5")
    ap.add_argument("--workloads", default="")
    ap.add_argument("--impls", default="")
    ap.add_argument("--no-scaling", action="store_true")
    a = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    rc = subprocess.run(["sh", os.path.join(here, "prepare.sh"), a.dir]).returncode
    if rc != 0:
        sys.exit("bench: workloads not ready (tests/bench/prepare.sh exit %d)" % rc)

    impls = []
    for line in sh("%s --list" % a.bin).splitlines():
        name, _, status = line.partition("\t")
        if status == "ok" or status.startswith("partial"):
            impls.append(name)
            if status != "ok":
                print("bench: %s runs only in part: %s" % (name, status))
        else:
            print("bench: %s skipped: %s" % (name, status))
    if a.impls:
        impls = [i for i in impls if i in a.impls.split(",")]
    if not impls:
        sys.exit("bench: no implementation available")

    os.makedirs(a.out, exist_ok=True)
    env = environment(a.bin)
    print("bench: %s, %s cores, %s; load %s" % (env["cpu"], env["cores"], env["compiler"], " ".join(env["loadavg"])))
    print("bench: %d rounds of %s on the %s subsets, --min-time %s" % (a.rounds, ", ".join(impls), a.subset, a.min_time))

    raw = []
    failures = []
    for r in range(a.rounds):
        order = impls[r % len(impls):] + impls[:r % len(impls)]
        for impl in order:
            args = ["--impl", impl, "--subset", a.subset, "--min-time", a.min_time, "--dir", a.dir,
                    "--round", str(r + 1)]
            if a.workloads:
                args += ["--workloads", a.workloads]
            code, lines = run(a.bin, args)
            raw.extend(lines)
            bad = [l for l in lines if l.get("verified") is False]
            failures.extend(bad)
            if code != 0 and not bad:
                failures.append({"impl": impl, "error": "pwbench exited %d" % code})
            print("  round %d/%d %-17s %d results%s" % (r + 1, a.rounds, impl,
                  sum(1 for l in lines if l.get("verified")), "" if not bad else ", %d FAILED" % len(bad)),
                  flush=True)
    env["loadavg_end"] = open("/proc/loadavg").read().split()[:3]

    with open(os.path.join(a.out, "rounds.jsonl"), "w") as f:
        for l in raw:
            f.write(json.dumps(l) + "\n")

    # Pair each implementation line with the memcpy line printed just before it.
    samples = {}   # (workload, impl) -> list of lines
    ratios = {}    # (workload, impl) -> list of memcpy_seconds / impl_seconds
    ratios_cpu = {}  # the same with CPU seconds (less sensitive to preemption)
    prev = None
    for l in raw:
        if not l.get("verified"):
            prev = None
            continue
        key = (l["workload"], l["impl"])
        samples.setdefault(key, []).append(l)
        if l["impl"] == "memcpy":
            prev = l
        elif prev is not None and prev["workload"] == l["workload"] and prev["round"] == l["round"]:
            ratios.setdefault(key, []).append(prev["seconds"] / l["seconds"])
            if prev.get("cpu_seconds") and l.get("cpu_seconds"):
                ratios_cpu.setdefault(key, []).append(prev["cpu_seconds"] / l["cpu_seconds"])
            prev = None

    med = {}
    for key, ls in samples.items():
        secs = statistics.median(x["seconds"] for x in ls)
        first = ls[0]
        m = {k: v for k, v in first.items() if k not in ("round", "passes", "seconds", "units_per_s", "mb_per_s",
                                                        "wire_mb_per_s", "cpu_seconds")}
        if all(x.get("cpu_seconds") for x in ls):
            m["cpu_seconds"] = statistics.median(x["cpu_seconds"] for x in ls)
        cpu = [x["cpu_seconds"] / x["seconds"] for x in ls if x.get("cpu_seconds") and x["seconds"] > 0]
        if cpu:
            m["cpu_share"] = statistics.median(cpu)
        m.update(seconds=secs, units_per_s=first["units"] / secs, mb_per_s=first["payload_bytes"] / secs / 1e6,
                 wire_mb_per_s=first["wire_bytes"] / secs / 1e6, passes=sum(x["passes"] for x in ls),
                 rounds=len(ls), seconds_min=min(x["seconds"] for x in ls), seconds_max=max(x["seconds"] for x in ls))
        if key in ratios:
            m["ratio_memcpy"] = statistics.median(ratios[key])
        if key in ratios_cpu:
            m["ratio_memcpy_cpu"] = statistics.median(ratios_cpu[key])
        if key[1] == "memcpy":
            m["ratio_memcpy"] = m["ratio_memcpy_cpu"] = 1.0
        med[key] = m
    for wl in ORDER:
        peers = [med[(wl, p)] for p in PEERS if (wl, p) in med]
        if not peers:
            continue
        best = max(peers, key=lambda m: m["units_per_s"])
        for (w, impl), m in med.items():
            if w == wl and impl != "memcpy":
                m["best_peer"] = best["impl"]
                m["ratio_best_peer"] = m["units_per_s"] / best["units_per_s"]

    names = ["memcpy"] + impls
    with open(os.path.join(a.out, "results.jsonl"), "w") as f:
        f.write(json.dumps(dict(env, kind="environment")) + "\n")
        for wl in ORDER:
            for impl in names:
                if (wl, impl) in med:
                    f.write(json.dumps(med[(wl, impl)]) + "\n")

    table = []
    out = table.append
    out("Medians of %d rounds (%s subsets). x memcpy: paired with the memcpy run just before, same process."
        % (a.rounds, a.subset))
    hdr = "%-4s %-17s %10s %10s %10s %8s %8s %8s %5s  %s" % (
        "wl", "impl", "units/s", "MB/s", "wire MB/s", "x memcpy", "(cpu)", "x best", "cpu%", "best peer / target")
    out(hdr)
    out("-" * len(hdr))
    for wl in ORDER:
        rows = [impl for impl in names if (wl, impl) in med]
        for impl in rows:
            m = med[(wl, impl)]
            note = ""
            if impl == "pushwire" or impl.startswith("pushwire-"):
                note = "%s; target %s" % (m.get("best_peer", "no peer"), TARGETS.get(wl, ""))
            cpu = "%3.0f" % (100 * m["cpu_share"]) if "cpu_share" in m else "-"
            out("%-4s %-17s %10s %10.1f %10.1f %8s %8s %8s %5s  %s" % (
                wl, impl, fmt_rate(m["units_per_s"]), m["mb_per_s"], m["wire_mb_per_s"],
                fmt_ratio(m.get("ratio_memcpy")), fmt_ratio(m.get("ratio_memcpy_cpu")),
                fmt_ratio(m.get("ratio_best_peer")), cpu, note))
        if rows:
            out("")
    out("(cpu): the same ratio from thread CPU time; cpu%: CPU time over wall time in the timed passes")
    out("(well below 100: the process was preempted, its wall-clock figures are pessimistic).")
    out("load average before/after: %s / %s" % (" ".join(env["loadavg"]), " ".join(env["loadavg_end"])))
    print()
    print("\n".join(table))
    with open(os.path.join(a.out, "table.txt"), "w") as f:
        f.write("\n".join(table) + "\n")
    print("wrote %s/table.txt, results.jsonl (medians) and rounds.jsonl (every round)" % a.out)

    if not a.no_scaling:
        print()
        print("Scaling and memory (pushwire; report only):")
        sys.stdout.flush()
        code = subprocess.run([a.bin, "--scaling", "--dir", a.dir, "--json",
                               os.path.join(a.out, "scaling.jsonl")]).returncode
        if code != 0:
            failures.append({"impl": "pushwire", "error": "scaling checks were not exact"})

    if failures:
        print()
        for f in failures:
            print("FAILED: %s %s: %s" % (f.get("impl"), f.get("workload", ""), f.get("error")))
        sys.exit(1)


if __name__ == "__main__":
    main()
