#!/usr/bin/env python3
"""Per-op-type summary of an ORT profile (ONNXLORA_PROFILE=prefix): total kernel time per op type and
provider over all runs in the file, the share of each, and the node count. Peer tooling (device side);
nothing in the product depends on Python. Usage: profile_summary.py <profile.json> [top=25]"""
import collections, json, sys

events = json.load(open(sys.argv[1]))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
time = collections.Counter()
nodes = collections.defaultdict(set)
runs = sum(1 for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
for e in events:
    if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
        key = (e["args"].get("op_name", "?"), e["args"].get("provider", "?"))
        time[key] += e["dur"]
        nodes[key].add(e["name"])
total = sum(time.values()) or 1
print(f"{sys.argv[1]}: {runs} runs, kernel time {total / 1e3 / max(runs, 1):.1f} ms per run")
print(f"{'op':<28} {'provider':<24} {'ms/run':>9} {'share':>7} {'nodes':>6}")
for (op, provider), us in time.most_common(top):
    print(f"{op:<28} {provider:<24} {us / 1e3 / max(runs, 1):>9.2f} {100 * us / total:>6.1f}% {len(nodes[(op, provider)]):>6}")
