#!/usr/bin/env python3 -u
"""Large-state figures for docs/performance.md, measured in one run.

One ServerMain process with three nodes (fsync on, the shipped timing), driven by KVBench:

  1. 10,000 keys: put p99 and eventual-get rate (the baseline).
  2. 1,000,000 keys of 100 bytes: the preload, the eventual-get rate right after it, resident
     memory, puts over the million keys for --put-seconds while snapshots are taken (their p99),
     leader changes during all of it, and the longest holds of a node's thread by snapshot work.
  3. A follower killed and restarted: when it serves Raft again and when its state is loaded.
  4. Catch-up, --catchups times: a follower killed, at least 50,000 writes, restarted; the time
     from the restart until its lastApplied reaches the leader's commit index.

Usage: swift build -c release && python3 docs/bench/large-state.py [--keys N] [--port P]
"""
import argparse, json, os, re, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".build", "release")


def request(port, line, timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall((json.dumps(line) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return json.loads(data)


class Cluster:
    def __init__(self, port, work, extra=None):
        self.port, self.work = port, work
        self.data = os.path.join(work, "data")
        os.makedirs(self.data, exist_ok=True)
        self.log = os.path.join(work, "server.log")
        config = {"nodes": 3, "proxy": {"host": "127.0.0.1", "port": port}, "dataDir": self.data,
                  "fsync": True, "http": {"enabled": False}}
        config.update(extra or {})
        self.config = os.path.join(work, "cluster.json")
        json.dump(config, open(self.config, "w"))
        self.process = subprocess.Popen([os.path.join(BIN, "ServerMain"), "--config", self.config],
                                        stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if request(self.port, {"admin": "status"}).get("leader") is not None:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the cluster never elected a leader")

    def status(self):
        return request(self.port, {"admin": "status"})

    def rss_mb(self):
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0

    def lines(self):
        return open(self.log, errors="replace").read().splitlines()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def bench(port, workload, keys, seconds, preload=True):
    command = [os.path.join(BIN, "KVBench"), "--port", str(port), "--workload", workload, "--keys", str(keys),
               "--duration", str(seconds), "--warmup", "1", "--json"]
    if not preload:
        command.append("--no-preload")
    started = time.time()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["wall_s"] = time.time() - started
    return result


def holds(lines):
    found = [int(m.group(1)) for line in lines for m in [re.search(r"held the node's thread for (\d+) ms", line)] if m]
    return found


def leader_changes(lines):
    return sum(1 for line in lines if "became leader" in line) - 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=7391)
    parser.add_argument("--put-seconds", type=int, default=20)
    parser.add_argument("--catchups", type=int, default=5)
    parser.add_argument("--config", default="{}", help="JSON object of config keys to add, e.g. '{\"traceCapacity\":0}'")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="raftkv-large-")
    print(f"working in {work}")

    small = Cluster(args.port, os.path.join(work, "small"), json.loads(args.config))
    base_put = bench(args.port, "put", 10_000, args.put_seconds)
    base_get = bench(args.port, "get", 10_000, 10)
    small.stop()
    print(f"10k keys: put {base_put['ok_ops_s']:.0f}/s p99 {base_put['latency_ms']['p99']:.1f} ms; "
          f"eventual get {base_get['ok_ops_s']:.0f}/s p99 {base_get['latency_ms']['p99']:.1f} ms")

    big = Cluster(args.port, os.path.join(work, "big"), json.loads(args.config))
    started = time.time()
    get = bench(args.port, "get", args.keys, 10)
    preload_s = get["wall_s"] - 11
    rss_loaded = big.rss_mb()
    print(f"{args.keys} keys: preload {preload_s:.1f} s; eventual get right after {get['ok_ops_s']:.0f}/s "
          f"({100 * get['ok_ops_s'] / base_get['ok_ops_s']:.0f}% of 10k) p99 {get['latency_ms']['p99']:.1f} ms; "
          f"RSS {rss_loaded:.0f} MB")
    before = len([l for l in big.lines() if "snapshot taken" in l])
    put = bench(args.port, "put", args.keys, args.put_seconds, preload=False)
    snapshots = len([l for l in big.lines() if "snapshot taken" in l]) - before
    rss_put = big.rss_mb()
    lines = big.lines()
    held = holds(lines)
    print(f"puts over {args.keys} keys: {put['ok_ops_s']:.0f}/s p99 {put['latency_ms']['p99']:.1f} ms "
          f"({put['latency_ms']['p99'] / base_put['latency_ms']['p99']:.2f}x the 10k p99), p99.9 "
          f"{put['latency_ms']['p999']:.1f} ms, {snapshots} snapshots taken meanwhile; RSS {rss_put:.0f} MB")
    print(f"leader changes since the first election: {leader_changes(lines)}; slow-disk warnings: "
          f"{sum(1 for l in lines if 'slow disk' in l)}; snapshot holds over 10 ms: {len(held)}"
          + (f" (longest {max(held)} ms)" if held else ""))

    status = big.status()
    leader = status["leader"]
    follower = (leader + 1) % 3
    request(args.port, {"admin": "kill", "node": follower})
    mark = len(big.lines())
    asked = time.time()
    request(args.port, {"admin": "restart", "node": follower})
    deadline = time.time() + 30
    loaded = None
    while time.time() < deadline and loaded is None:
        for line in big.lines()[mark:]:
            m = re.search(rf"node {follower} +loaded its state .* in (\d+) ms", line)
            if m:
                loaded = int(m.group(1))
        time.sleep(0.05)
    started_line = next((l for l in big.lines()[mark:] if f"node {follower}" in l and "started:" in l), "")
    # The log's times are UTC wall-clock times of day: from the restart request to the line.
    hours, minutes, seconds = started_line[:12].split(":")
    day = time.gmtime(asked)
    midnight = asked - (day.tm_hour * 3600 + day.tm_min * 60 + day.tm_sec + (asked % 1))
    serving = midnight + int(hours) * 3600 + int(minutes) * 60 + float(seconds) - asked
    print(f"restart of node {follower}: serving Raft {serving:.3f} s after the restart request "
          f"({started_line[13:].split(';')[0].strip()}); state loaded in {loaded} ms")

    for run in range(args.catchups):
        leader = big.status()["leader"]
        follower = (leader + 1) % 3
        request(args.port, {"admin": "kill", "node": follower})
        before = big.status()["nodes"][leader]["commitIndex"]
        while big.status()["nodes"][leader]["commitIndex"] - before < 50_000:
            bench(args.port, "put", args.keys, 3, preload=False)
        behind = big.status()["nodes"][leader]["commitIndex"] - before
        request(args.port, {"admin": "restart", "node": follower})
        asked = time.time()
        while True:
            nodes = big.status()["nodes"]
            if nodes[follower].get("lastApplied", 0) >= nodes[leader]["commitIndex"]:
                break
            if time.time() - asked > 60:
                break
            time.sleep(0.02)
        print(f"catch-up {run + 1}: node {follower}, {behind} writes behind, current {time.time() - asked:.2f} s after its restart")

    lines = big.lines()
    print(f"at the end: leader changes {leader_changes(lines)} (kills included), RSS {big.rss_mb():.0f} MB")
    big.stop()


if __name__ == "__main__":
    main()
