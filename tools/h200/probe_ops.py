#!/usr/bin/env python3
"""fp16 / bf16 kernel coverage of the CUDA EP for OnnxLora's graphs, checked rather than assumed.

For each dtype it imports the tiny-llama fixture with `onnxlora import --dtype`, runs `onnxlora parity
--device cuda` (eval graph + LoRA training graph with the generated backward) with ORT profiling on,
and reports per op type which execution provider ran it (CUDAExecutionProvider or a CPU fallback),
plus any session-load error, which names the op and type that has no kernel on either provider.
Writes probe-<dtype>.json and a summary table to stdout. Peer tool: not part of the product.
"""
import argparse, glob, json, os, subprocess, collections

ap = argparse.ArgumentParser()
ap.add_argument("--app", required=True)
ap.add_argument("--fixture", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--dtypes", default="float16,bfloat16")
a = ap.parse_args()
cli = os.path.join(a.app, "onnxlora")
for dtype in a.dtypes.split(","):
    model = f"/tmp/probe-{dtype}"
    subprocess.run([cli, "import", os.path.join(a.fixture, "base"), "-o", model, "--dtype", dtype],
                   check=True, stdout=subprocess.DEVNULL)
    prefix = f"/tmp/probe-prof-{dtype}"
    for f in glob.glob(prefix + "*.json"):
        os.remove(f)
    env = dict(os.environ, ONNXLORA_PROFILE=prefix)
    r = subprocess.run([cli, "parity", "--device", "cuda", "--model", model, "--adapter", os.path.join(a.fixture, "adapter"),
                        "--batch", os.path.join(a.fixture, "reference.safetensors"), "--compare"],
                       env=env, capture_output=True, text=True, timeout=240)
    ops = collections.defaultdict(collections.Counter)
    for f in glob.glob(prefix + "*.json"):
        for e in json.load(open(f)):
            args = e.get("args", {})
            if e.get("cat") == "Node" and "provider" in args and e.get("name", "").endswith("_kernel_time"):
                ops[args.get("op_name", "?")][args["provider"]] += 1
    report = {"dtype": dtype, "exit_code": r.returncode,
              "error": [l for l in (r.stdout + r.stderr).splitlines() if "rror" in l][-5:],
              "ops": {op: dict(c) for op, c in sorted(ops.items())},
              "cpu_fallback": sorted(op for op, c in ops.items() if any(p != "CUDAExecutionProvider" for p in c)),
              "parity": [l for l in r.stdout.splitlines() if l.startswith(("PASS", "FAIL"))
                         and not l.split()[1].startswith("grad.")]}
    json.dump(report, open(os.path.join(a.out, f"probe-{dtype}.json"), "w"), indent=1)
    print(f"== {dtype}: exit {r.returncode}; {len(ops)} op types profiled; CPU fallback: {report['cpu_fallback'] or 'none'}")
    for l in report["error"]:
        print("   error:", l)
    for l in report["parity"]:
        print("  ", l)
