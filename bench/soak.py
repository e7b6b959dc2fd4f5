#!/usr/bin/env python3
"""Soak clients for `laneway serve` (bench/soak.sh starts the servers).

N concurrent clients send streamed chat completions for a fixed time to the
lanes named with --model (chosen at random per request), with mixed prompt
lengths; a share of them disconnect after the first chunk, a share send bad
requests. Every answer is classified:

  completed     200, the stream ended with a finish_reason and [DONE]
  error_event   200, the stream ended with an error event and [DONE] (a clean end)
  rejected      429 / 503 (the queue was full or the lane was busy): an answer
  bad_request   the 4xx a bad request is meant to get
  disconnected  this client hung up on purpose after the first chunk
  lost          anything else: a 200 whose stream stopped without an ending,
                a bad request that got 200 or 5xx, a connection that failed;
                expected 0

While it runs, it samples the server process (--pid): RSS, open file
descriptors and threads, every --sample seconds. It prints a JSON report.
Standard library only.
"""
import argparse
import http.client
import json
import os
import random
import sys
import threading
import time

WORDS = ("once upon a time there was a little girl who liked to play in the park with her "
         "dog and one day they found a big red ball under a tree").split()


def prompt_of(rng, n_words):
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def proc_sample(pid):
    out = {"t": time.time()}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_bytes"] = int(line.split()[1]) * 1024
                elif line.startswith("Threads:"):
                    out["threads"] = int(line.split()[1])
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError as e:
        out["error"] = str(e)
    return out


BAD_BODIES = [
    b"{not json",
    json.dumps({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}).encode(),
    json.dumps({"messages": "not a list"}).encode(),
    json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": -5}).encode(),
    json.dumps({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}).encode(),
    b"[1, 2, 3]",
]


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.examples = {}
        self.sent = 0

    def add(self, kind, example=None):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if example and kind not in self.examples:
                self.examples[kind] = example[:300]


def one_request(host, port, model, rng, args, tally):
    roll = rng.random()
    conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
    try:
        if roll < args.bad:
            body = rng.choice(BAD_BODIES)
            conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if 400 <= r.status < 500:
                tally.add("bad_request")
            else:
                tally.add("lost", f"bad request got {r.status}: {data[:200]!r}")
            return
        n_words = rng.choice([4, 16, 64, 200])
        body = json.dumps({"model": model, "stream": True, "max_tokens": rng.randint(4, args.max_tokens),
                           "temperature": rng.choice([0, 0.8]),
                           "messages": [{"role": "user", "content": prompt_of(rng, n_words)}]})
        conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status in (429, 503):
            r.read()
            tally.add("rejected")
            return
        if r.status != 200:
            tally.add("lost", f"{model}: status {r.status}: {r.read()[:200]!r}")
            return
        disconnect = roll < args.bad + args.disconnect
        finished = errored = done = False
        while True:
            line = r.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data: "):
                continue
            payload = line[6:]
            if payload == b"[DONE]":
                done = True
                break
            if disconnect:
                conn.sock.close()  # hang up after the first chunk
                tally.add("disconnected")
                return
            event = json.loads(payload)
            if "error" in event:
                errored = True
            for c in event.get("choices", []):
                if c.get("finish_reason"):
                    finished = True
        if done and finished:
            tally.add("completed")
        elif done and errored:
            tally.add("error_event")
        else:
            tally.add("lost", f"{model}: stream ended without an ending (done={done}, errored={errored})")
    except Exception as e:  # a connection that failed or timed out
        tally.add("lost", f"{model}: {type(e).__name__}: {e}")
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--bad", type=float, default=0.05)
    ap.add_argument("--disconnect", type=float, default=0.10)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--sample", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    hostport = args.url.split("://", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    port = int(port)

    tally = Tally()
    samples = [proc_sample(args.pid)]
    stop_at = time.time() + args.seconds

    def client(i):
        rng = random.Random(args.seed * 1000 + i)
        while time.time() < stop_at:
            with tally.lock:
                tally.sent += 1
            one_request(host, port, rng.choice(args.model), rng, args, tally)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    next_sample = t0 + args.sample
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        if time.time() >= next_sample:
            samples.append(proc_sample(args.pid))
            s = samples[-1]
            print(f"soak: {time.time() - t0:6.0f} s  sent {tally.sent}  {dict(sorted(tally.counts.items()))}  "
                  f"rss {s.get('rss_bytes', 0) / 2**20:.1f} MiB  fds {s.get('fds')}  threads {s.get('threads')}",
                  file=sys.stderr, flush=True)
            next_sample += args.sample
    time.sleep(6)  # connections closed (kept upstream connections after 4 s idle), engines idle
    samples.append(proc_sample(args.pid))
    report = {"seconds": round(time.time() - t0, 1), "clients": args.clients, "models": args.model,
              "sent": tally.sent, "outcomes": dict(sorted(tally.counts.items())),
              "lost": tally.counts.get("lost", 0), "examples": tally.examples, "samples": samples}
    warm = samples[1] if len(samples) > 2 else samples[0]
    end = samples[-1]
    if "rss_bytes" in warm and "rss_bytes" in end:
        report["rss_growth_after_warmup"] = round(end["rss_bytes"] / warm["rss_bytes"] - 1, 4)
    report["fds_start_end"] = [samples[0].get("fds"), end.get("fds")]
    report["threads_start_end"] = [samples[0].get("threads"), end.get("threads")]
    print(json.dumps(report, indent=1))
    return 0 if report["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
