#!/usr/bin/env bash
# What a hook adds to complete, measured side by side in one run on the
# local store in process (core's BenchmarkHookComplete): complete without
# a hook and with one (upload.complete delivered to a loopback receiver),
# beside the goal's budget spent at the same point: complete without a
# hook followed by one round trip of the same request a delivery sends
# and its HMAC-SHA256; and, alone, that round trip, that HMAC,
# hooks.Sender.Deliver, and complete without a hook followed by Deliver.
# The verdict comes from the "paired" sub-benchmark, which runs the
# four complete calls in one loop in a shuffled order and times each, so
# the machine's drift cancels; the seven calls timed alone, one
# sub-benchmark after another, are shown beside it with their CPU time.
# ROUNDS rounds (default 3) of all, interleaved; medians.
# Prints a Markdown section and, with --write, replaces the "Hooks" section
# of docs/benchmarks.md.
#   ROUNDS=3 BENCHTIME=2s bench/hooks.sh [--write]
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

core_bench BenchmarkHookComplete
result=$(python3 - "$work/out.txt" <<'PY'
import re, statistics, sys
runs, paired, pcpu = {}, [], []
for line in open(sys.argv[1]):
    m = re.match(r"BenchmarkHookComplete/(\S+?)-\d+\s+\d+\s+(.*)", line)
    if not m:
        continue
    vals = dict((u, float(v)) for v, u in re.findall(r"([\d.e+-]+) (\S+)", m.group(2)))
    if m.group(1) == "paired":
        paired.append(vals)
    elif m.group(1) == "paired_cpu":
        pcpu.append(vals)
    else:
        runs.setdefault(m.group(1), []).append((vals["ns/op"], vals["cpu-ns/op"], int(vals["allocs/op"])))
med = {k: statistics.median(v[0] for v in vs) for k, vs in runs.items()}
cpu = {k: statistics.median(v[1] for v in vs) for k, vs in runs.items()}
allocs = {k: vs[0][2] for k, vs in runs.items()}
n = len(paired)
pm = lambda k: statistics.median(p[k] for p in paired)
ratio, dratio = pm("ratio"), pm("deliver-ratio")
print("Paired (%d rounds; in each, every iteration runs the four calls in a fresh random order):" % n)
print()
print("| | µs, median per call |")
print("|---|---:|")
print("| complete, no hook | %.1f |" % (pm("nohook-ns") / 1000))
print("| complete, hook | %.1f |" % (pm("hook-ns") / 1000))
print("| complete, no hook, then the delivery's round trip and HMAC | %.1f |" % (pm("budget-ns") / 1000))
print()
if ratio <= 1:
    verdict = "within the goal"
else:
    verdict = "over the goal by %.0f %%" % (100 * (ratio - 1))
print("The hook adds **%.1f µs** to complete; one round trip of the same request plus its HMAC, made at the "
      "same point, adds %.1f µs. The hook costs **%.3f×** that budget: %s. Per round: %s. `Deliver` "
      "alone at the same point (after a complete without a hook) costs %.3f× the budget (per round: %s)." % (
      pm("added-ns") / 1000, pm("allowed-ns") / 1000, ratio, verdict,
      ", ".join("%.3f" % p["ratio"] for p in paired), dratio,
      ", ".join("%.3f" % p["deliver-ratio"] for p in paired)))
cm = lambda k: statistics.median(p[k] for p in pcpu)
print()
print("In CPU time (the whole process, the receiver included; blocks of 20 calls of each, in a shuffled "
      "order, %d rounds): the hook adds %.1f µs against a budget of %.1f µs, **%.3f×** (per round: %s); "
      "`Deliver` alone %.3f×." % (len(pcpu), cm("added-cpu-ns") / 1000, cm("allowed-cpu-ns") / 1000, cm("ratio"),
      ", ".join("%.3f" % p["ratio"] for p in pcpu), cm("deliver-ratio")))
print()
print("Each call timed alone, one sub-benchmark after another (medians of %d rounds; CPU time of the "
      "whole process, receiver included):" % len(runs.get("no_hook", [])))
print()
rows = [("complete, no hook", "no_hook"), ("complete, hook", "hook"),
        ("complete, no hook, then the delivery's round trip and HMAC in the same iteration", "no_hook_then_loopback"),
        ("complete, no hook, then `Deliver` alone in the same iteration", "no_hook_then_deliver"),
        ("`hooks.Sender.Deliver` alone (same receiver)", "deliver"),
        ("the delivery's round trip alone (same request, plain `http.Client`)", "loopback"),
        ("HMAC-SHA256 signature", "hmac")]
print("| | µs/op | CPU µs/op | allocs/op |")
print("|---|---:|---:|---:|")
for label, k in rows:
    print("| %s | %.1f | %.1f | %d |" % (label, med[k] / 1000, cpu[k] / 1000, allocs[k]))
per = ["%.2f" % ((h[0] - nh[0]) / (b[0] - nh[0])) for h, nh, b in zip(runs["hook"], runs["no_hook"], runs["no_hook_then_loopback"])]
print()
print("Timed this way the same ratio is %.2f× in wall time and %.2f× in CPU, and moves from round to round "
      "(%s) with the machine's drift between sub-benchmarks, which the paired loop cancels." % (
      (med["hook"] - med["no_hook"]) / (med["no_hook_then_loopback"] - med["no_hook"]),
      (cpu["hook"] - cpu["no_hook"]) / (cpu["no_hook_then_loopback"] - cpu["no_hook"]), ", ".join(per)))
PY
)
section="## Hooks

Measured by \`bench/hooks.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, loopback. Complete of
one small single-PUT upload on the local store in process (open the id, HEAD the file, verify),
without and with a hook for \`upload.complete\` whose receiver answers \`{\"media_id\":\"m1\"}\`
at once. Goal: the hook adds no more than one loopback round trip plus the HMAC. The budget is
measured as the application would spend it without Valet's hook code: after the same complete
without a hook, one round trip of the very request a delivery sends (its headers and body,
recorded from one delivery) through a plain \`http.Client\` with the hook's timeout, over a
kept-alive loopback connection, and one HMAC-SHA256 of it.

The verdict comes from a paired loop (\`BenchmarkHookComplete/paired\`): every iteration runs
complete without a hook, complete with the hook, complete followed by \`Deliver\` alone, and
complete followed by the budget's round trip and HMAC, each on a gateway and store of its own, in
an order shuffled afresh, and times each call. The four calls share the machine's state from
moment to moment, so the ratio moves by about ±0.01 between rounds; the seven sub-benchmarks
timed one after another move by ±0.3 on this machine, and a fixed order of the four biases them
(a call right after a loopback round trip runs slower). A second loop (\`paired cpu\`) runs the
same four in blocks of 20 calls, shuffled, and reads the process's CPU clock around each block.

$result

What a delivery does besides the budget's round trip: it encodes the payload (plain ASCII strings
copied without escaping, in a buffer sized for it), derives the webhook-id (one SHA-256 of the
store, type and upload id, in a stack buffer), signs with a pooled HMAC state, arms its one
timeout, checks the answer (kept as it is when it has no white space) and counts the metrics; it
skips what \`http.Client\` adds (one \`Transport.RoundTrip\` per attempt, the URL parsed once when
the hook is compiled, no header clone). The hook's path in core then returns the answer in the
complete response. A hook configured for other events costs complete nothing measurable (ratio
0.001 in the paired loop)."
python3 bench/write_section.py ${write:+"$write"} "Hooks" "$section"
