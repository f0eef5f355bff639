"""
Python's answer to the shared-memory map: multiprocessing.shared_memory + NumPy.

A long-lived helper of `bench/scenarios/shared-map.ts`, with the protocol of
`pool_bench.py`: one JSON command per line on stdin, one JSON line back on
stdout. The rows (5 bytes each, from the file the Node.js side wrote) are
loaded into a SharedMemory block as an int32 (rows, 5) ndarray, the counts go
to a second block, and the pool's workers attach to both by name (once per
worker) and count their range of rows with NumPy, in place, as the Node.js
shared map does. `numpy` runs the same count vectorized in this process: the
idiomatic single-process answer. Needs NumPy: the scenario checks for it first.
"""
import json
import math
import multiprocessing as mp
import sys
import time
from multiprocessing import resource_tracker, shared_memory

import numpy as np

# -- in the workers -------------------------------------------------------------------------------

attached = {}


def view(name, shape):
    """The ndarray over block `name`, attached once per worker."""
    if name not in attached:
        shm = shared_memory.SharedMemory(name=name)
        # the parent owns the block: keep the worker's resource tracker from unlinking it at exit
        resource_tracker.unregister(shm._name, "shared_memory")
        attached[name] = (shm, np.ndarray(shape, dtype=np.int32, buffer=shm.buf))
    return attached[name][1]


def count_range(job):
    """how_many_within_range(row, 4, 8) for rows [start, end), written to the output block."""
    input_name, output_name, rows, start, end = job
    data = view(input_name, (rows, 5))
    out = view(output_name, (rows,))
    block = data[start:end]
    out[start:end] = np.count_nonzero((block >= 4) & (block <= 8), axis=1)
    return end - start


# -- in the helper ------------------------------------------------------------------------------

pool = None
size = 1
blocks = {}


def chunksize(rows):
    """The Node.js shared map's default: about 4 ranges per worker, at least 32,768 values a range."""
    return max(1, math.ceil(rows / (4 * size)), math.ceil(32768 / 5))


def unload():
    for shm, _ in blocks.values():
        shm.close()
        shm.unlink()
    blocks.clear()


def handle(cmd):
    global pool, size
    op = cmd["op"]
    if op == "init":
        size = cmd["size"]
        pool = mp.Pool(size)
        pool.map(abs, range(size))
        return {"version": sys.version.split()[0], "numpy": np.__version__, "start_method": mp.get_start_method()}
    if op == "load":
        unload()
        rows = cmd["rows"]
        with open(cmd["path"], "rb") as f:
            raw = np.frombuffer(f.read(5 * rows), dtype=np.uint8)
        data_shm = shared_memory.SharedMemory(create=True, size=rows * 5 * 4)
        data = np.ndarray((rows, 5), dtype=np.int32, buffer=data_shm.buf)
        data[:] = raw.reshape(rows, 5)
        out_shm = shared_memory.SharedMemory(create=True, size=max(1, rows * 4))
        out = np.ndarray((rows,), dtype=np.int32, buffer=out_shm.buf)
        blocks["data"] = (data_shm, data)
        blocks["out"] = (out_shm, out)
        return {"rows": rows}
    if op == "run":
        data_shm, data = blocks["data"]
        out_shm, out = blocks["out"]
        rows = data.shape[0]
        out[:] = 0
        t = time.perf_counter()
        if cmd["method"] == "pool":
            step = chunksize(rows)
            jobs = [(data_shm.name, out_shm.name, rows, s, min(rows, s + step)) for s in range(0, rows, step)]
            pool.map(count_range, jobs, chunksize=1)
        elif cmd["method"] == "numpy":
            out[:] = np.count_nonzero((data >= 4) & (data <= 8), axis=1)
        else:
            raise ValueError(cmd["method"])
        dt = time.perf_counter() - t
        return {"seconds": dt, "checksum": int(out.sum()), "length": int(out.shape[0])}
    if op == "unload":
        unload()
        return {}
    if op == "quit":
        return {"bye": True}
    raise ValueError(op)


def main():
    try:
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
    finally:
        unload()
        if pool is not None:
            pool.terminate()
            pool.join()


if __name__ == "__main__":
    main()
