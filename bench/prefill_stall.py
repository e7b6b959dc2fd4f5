#!/usr/bin/env python3
"""Inter-token latency of a running stream while a long prompt arrives on
another slot of the same lane (issue 19's chunked-prefill figure).

  bench/prefill_stall.py LANEWAY_BINARY MODEL.gguf [--prompt-tokens 8192] [--batches 8192,512] [--runs 3]

For each --batch value it starts `laneway serve` with two slots, streams one
long answer on slot 1, sends an N-token prompt to slot 2 once that stream is
running, and records the gaps between the stream's tokens while the prompt
is being evaluated. --batch >= N evaluates the prompt in one step (how every
prompt was evaluated before chunking); a smaller --batch chunks it. Prints
the median over runs of the p50, p99 and largest gap, in milliseconds.
"""
import argparse, http.client, json, re, statistics, subprocess, sys, threading, time


def start_server(binary, model, ctx, batch):
    p = subprocess.Popen([binary, "serve", "-m", model, "--port", "0", "--slots", "2", "--ctx", str(ctx),
                          "--batch", str(batch)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = None
    for line in p.stdout:
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
        if port and "lanes settled" in line:
            break
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, port


def stream_gaps(port, stop_at, out):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = {"prompt": "Once upon a time", "max_tokens": 4000, "stream": True, "temperature": 0, "ignore_eos": True}
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    last = None
    while True:
        line = r.fp.readline()
        if not line:
            break
        if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
            continue
        now = time.perf_counter()
        if last is not None:
            out.append((now, now - last))
        last = now
        if stop_at[0] is not None and now > stop_at[0]:
            break
    c.close()


def one_run(port, prompt_tokens):
    gaps, stop_at = [], [None]
    t = threading.Thread(target=stream_gaps, args=(port, stop_at, gaps))
    t.start()
    while len(gaps) < 20:  # the stream runs
        time.sleep(0.01)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = {"prompt": [10 + i % 400 for i in range(prompt_tokens)], "max_tokens": 1, "temperature": 0}
    t0 = time.perf_counter()
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = c.getresponse()
    answer = resp.read()
    if resp.status != 200:
        raise SystemExit(f"the long prompt failed: {resp.status} {answer[:300]}")
    t1 = time.perf_counter()
    stop_at[0] = t1 + 0.05
    t.join()
    during = sorted(g for (at, g) in gaps if t0 <= at <= t1 + 0.05)
    if not during:
        return None
    p = lambda q: during[min(len(during) - 1, int(q * len(during)))] * 1000
    return p(0.5), p(0.99), during[-1] * 1000, t1 - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("model")
    ap.add_argument("--prompt-tokens", type=int, default=8192)
    ap.add_argument("--batches", default="8192,512")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    ctx = a.prompt_tokens + 4096
    print(f"# {a.prompt_tokens}-token prompt on slot 2 while slot 1 streams; gaps between slot 1's tokens (ms)")
    print("batch | p50 | p99 | max | prompt took (s)")
    for batch in [int(b) for b in a.batches.split(",")]:
        p, port = start_server(a.binary, a.model, ctx, batch)
        try:
            rows = [r for r in (one_run(port, a.prompt_tokens) for _ in range(a.runs)) if r]
        finally:
            p.terminate()
            p.wait()
        med = lambda i: statistics.median(r[i] for r in rows)
        print(f"{batch} | {med(0):.1f} | {med(1):.1f} | {med(2):.1f} | {med(3):.2f}")


if __name__ == "__main__":
    sys.exit(main())
