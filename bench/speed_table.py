#!/usr/bin/env python3
"""Speed table for the TinyLlama-1.1B shape: laneway bench on synth files of
each type, next to llama.cpp's and ik_llama.cpp's figures from
../shared/reference/bench-llamacpp.md, as ratios of medians.

  bench/speed_table.py [--build build/release] [--reps 5] [--types Q4_0,Q8_0,Q4_K_M,F16]

Set LANEWAY_ISA=avx2 to measure the AVX2 kernels. Models are written once to
build/bench-models/ (random weights, llama-spm tokenizer when available).
"""
import argparse, json, os, re, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build/release")
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--types", default="Q4_0,Q8_0,Q4_K_M,F16")
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
laneway = os.path.join(root, args.build, "src", "cli", "laneway")
shared = os.path.normpath(os.path.join(root, "..", "shared"))
reference = os.environ.get("LANEWAY_REFERENCE", os.path.join(shared, "reference"))
testdata = os.environ.get("LANEWAY_TESTDATA", os.path.join(shared, "testdata"))
models = os.path.join(root, "build", "bench-models")
os.makedirs(models, exist_ok=True)

def reference_tables():
    """{engine: {type: {test: t/s}}} from bench-llamacpp.md."""
    out, engine = {}, None
    try:
        text = open(os.path.join(reference, "bench-llamacpp.md")).read()
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith("## llama.cpp"): engine = "llama.cpp"
        elif line.startswith("## ik_llama.cpp"): engine = "ik_llama.cpp"
        elif line.startswith("## "): engine = None
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if engine and len(cells) >= 4 and re.match(r"^(Q\d|F16|BF16)", cells[0]):
            nums = [c for c in cells[1:] if re.match(r"^[\d.]+$", c)]
            if len(nums) >= 3:
                out.setdefault(engine, {})[cells[0]] = dict(zip(["pp128", "pp512", "tg64"], map(float, nums[-3:])))
    return out

refs = reference_tables()
tokenizer = os.path.join(testdata, "vocab", "ggml-vocab-llama-spm.gguf")
rows = []
for t in args.types.split(","):
    path = os.path.join(models, f"tinyllama-1.1b-{t}.gguf")
    if not os.path.exists(path):
        cmd = [laneway, "synth", "--shape", "tinyllama-1.1b", "--type", t, "-o", path]
        if os.path.exists(tokenizer): cmd += ["--tokenizer", tokenizer]
        subprocess.run(cmd, check=True)
    res = subprocess.run([laneway, "bench", "-m", path, "-p", "128,512", "-n", "64", "-r", str(args.reps),
                          "-t", str(args.threads), "--json"], check=True, capture_output=True, text=True)
    for rec in json.loads(res.stdout):
        test = f"pp{rec['n_prompt']}" if rec["n_prompt"] else f"tg{rec['n_gen']}"
        rows.append((t, test, rec["median_ts"], rec["avg_ts"], rec["stddev_ts"]))

isa = os.environ.get("LANEWAY_ISA", "best")
print(f"laneway bench, TinyLlama-1.1B shape, {args.threads} threads, {args.reps} reps, ISA {isa}")
print(f"| type | test | laneway median t/s | mean ± sd | llama.cpp | ratio | ik_llama.cpp | ratio |")
print(f"|---|---|---|---|---|---|---|---|")
for t, test, med, avg, sd in rows:
    l = refs.get("llama.cpp", {}).get(t, {}).get(test)
    ik = refs.get("ik_llama.cpp", {}).get(t, {}).get(test)
    fmt = lambda v: f"{v:.1f}" if v else "-"
    ratio = lambda v: f"{med / v:.2f}x" if v else "-"
    print(f"| {t} | {test} | {med:.1f} | {avg:.1f} ± {sd:.1f} | {fmt(l)} | {ratio(l)} | {fmt(ik)} | {ratio(ik)} |")
