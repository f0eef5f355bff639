"""
Python's multiprocessing.Pool on the benchmark's workloads (stdlib only).

A long-lived helper of `bench/run.ts`: it reads one JSON command per line on
stdin and answers one JSON line on stdout, so that the Python runs interleave
with the Node.js ones in the same benchmark run. The pool lives across
commands, as the Node.js pools do. The rows of scenario 3 come from the file
the Node.js side wrote (5 bytes per row), so both languages see the same data.
"""
import json
import multiprocessing as mp
import os
import sys
import time


def add(a, b):
    return a + b


def how_many_within_range(row, minimum, maximum):
    """The seed's function, verbatim."""
    count = 0
    for n in row:
        if minimum <= n <= maximum:
            count = count + 1
    return count


def how_many_within_range_row(row):
    return how_many_within_range(row, 4, 8)


def cpu(seed, iterations):
    """The same xorshift-multiply chain as bench/work.ts (32-bit arithmetic)."""
    x = (seed ^ 0x9E3779B9) & 0xFFFFFFFF
    acc = 0
    for _ in range(iterations):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        acc = (acc * 31 + (x & 0xFFFF)) & 0xFFFFFFFF
    return acc


def pss_kib(pid):
    """Proportional set size of a process (shared pages split among sharers), or RSS as a fallback."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


pool = None
datasets = {}


def rows_of(name):
    return datasets[name]


def handle(cmd):
    global pool
    op = cmd["op"]
    if op == "init":
        pool = mp.Pool(cmd["size"])
        pool.apply(add, (1, 2))
        return {"version": sys.version.split()[0], "start_method": mp.get_start_method()}
    if op == "load":
        with open(cmd["path"], "rb") as f:
            raw = f.read(5 * cmd["rows"])
        rows = [list(raw[i:i + 5]) for i in range(0, len(raw), 5)]
        datasets[cmd["name"]] = rows
        return {"rows": len(rows)}
    if op == "unload":
        datasets.clear()
        import gc
        gc.collect()
        return {}
    if op == "burst":
        n = cmd["n"]
        t = time.perf_counter()
        results = [pool.apply_async(add, (i, 1)) for i in range(n)]
        total = sum(r.get() for r in results)
        dt = time.perf_counter() - t
        assert total == n * (n - 1) // 2 + n, total
        return {"seconds": dt}
    if op == "apply_seq":
        n = cmd["n"]
        t = time.perf_counter()
        total = 0
        for i in range(n):
            total += pool.apply(add, (i, 1))
        dt = time.perf_counter() - t
        assert total == n * (n - 1) // 2 + n, total
        return {"seconds": dt}
    if op == "seed":
        rows = rows_of(cmd["data"])
        method = cmd["method"]
        chunksize = cmd.get("chunksize")
        if method == "starmap":
            tuples = [(row, 4, 8) for row in rows]
        t = time.perf_counter()
        if method == "sequential":
            results = [how_many_within_range(row, 4, 8) for row in rows]
        elif method == "map":
            results = pool.map(how_many_within_range_row, rows)
        elif method == "starmap":
            results = pool.starmap(how_many_within_range, tuples)
        elif method == "imap":
            results = list(pool.imap(how_many_within_range_row, rows, chunksize))
        else:
            raise ValueError(method)
        dt = time.perf_counter() - t
        return {"seconds": dt, "checksum": sum(results), "length": len(results)}
    if op == "cpu_calibrate":
        n = 200000
        cpu(1, n)
        t = time.perf_counter()
        cpu(2, n)
        per = (time.perf_counter() - t) / n
        return {"iterations": max(1000, int(cmd["target_seconds"] / cmd["tasks"] / per))}
    if op == "cpu":
        args = [(i, cmd["iterations"]) for i in range(cmd["tasks"])]
        t = time.perf_counter()
        if cmd["parallel"]:
            results = pool.starmap(cpu, args)
        else:
            results = [cpu(*a) for a in args]
        dt = time.perf_counter() - t
        return {"seconds": dt, "checksum": sum(results) & 0xFFFFFFFF}
    if op == "startup":
        t = time.perf_counter()
        p = mp.Pool(cmd["size"])
        p.apply(add, (1, 2))
        dt = time.perf_counter() - t
        # let every worker run one task, then read their memory
        p.starmap(cpu, [(i, 20000) for i in range(4 * cmd["size"])], chunksize=1)
        workers = [w.pid for w in p._pool]
        pss = [pss_kib(pid) for pid in workers]
        rss = [rss_kib(pid) for pid in workers]
        p.terminate()
        p.join()
        return {"seconds": dt, "pss_kib": sum(pss) / len(pss), "rss_kib": sum(rss) / len(rss)}
    if op == "quit":
        return {"bye": True}
    raise ValueError(op)


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            reply = {"ok": True, **handle(cmd)}
        except Exception as error:  # report, keep serving
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if cmd.get("op") == "quit":
            break
    if pool is not None:
        pool.terminate()
        pool.join()


if __name__ == "__main__":
    main()
