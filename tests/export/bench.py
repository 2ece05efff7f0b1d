"""Export benchmark against a running `hearth serve` holding a data set (see
scripts/bench-export.sh, which starts the server and loads Synthea data first).

Measures, on the server as it is:
  * read-by-id p99 with the load driver, idle;
  * a system export to NDJSON and one to Parquet: resources/s from the worker's own
    "export started" / "export completed" log lines (not the client's polling granularity);
  * read-by-id p99 again while exports run back to back;
  * the server's resident and peak memory (VmRSS, VmHWM) after each step; the exports run
    first, so the peak after them is the exports' own.
Prints one JSON object.
"""

import argparse
import json
import re
import subprocess
import threading
import time
from datetime import datetime

import requests

KICKOFF = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


def export(session, base, params):
    """Runs one export to completion; returns (job id, manifest)."""
    reply = session.get(f"{base}/$export", params=params, headers=KICKOFF)
    reply.raise_for_status()
    status = reply.headers["Content-Location"]
    job = status.rsplit("/", 1)[1]
    while True:
        time.sleep(1.0)
        reply = session.get(status)
        if reply.status_code == 200:
            manifest = reply.json()
            session.delete(status)
            return job, manifest
        if reply.status_code not in (202, 429):
            raise RuntimeError(f"status {reply.status_code}: {reply.text}")


def log_times(log_path, job):
    """Start and end instants of a job from the server's log lines."""
    found = {}
    pattern = re.compile(r"^(\S+Z)\s+INFO .*export (started|completed).*job=" + job)
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = pattern.search(line)
            if m:
                found.setdefault(m.group(2), datetime.fromisoformat(m.group(1).replace("Z", "+00:00")))
    return (found["completed"] - found["started"]).total_seconds()


def read_p99(load_bin, base, token, seconds):
    """Runs the load driver's create and read phases; returns the read phase's requests/s and
    p99 in ms."""
    out = subprocess.run(
        [load_bin, "--base-url", base, "--token", token, "--duration", str(seconds),
         "--max-creates", "2000", "--no-transactions", "--concurrency", "64"],
        check=True, capture_output=True, text=True,
    ).stdout
    figures = {}
    for line in out.splitlines():
        m = re.match(r"\s*(read by id c=\d+\s+requests/s|read p99 ms)\s+([\d,.]+)", line)
        if m:
            key = "rps" if "requests" in m.group(1) else "p99_ms"
            figures[key] = float(m.group(2).replace(",", ""))
    if len(figures) != 2:
        raise RuntimeError(f"no read figures in:\n{out}")
    return figures


def memory(pid):
    """(current RSS, peak RSS) of the process in MiB."""
    found = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM"):
                found[key] = round(int(line.split()[1]) / 1024.0, 1)
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--load-bin", required=True)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {args.token}"

    result = {"memory_loaded": memory(args.pid)}
    for name, params in [("ndjson", {}), ("parquet", {"_outputFormat": "application/vnd.apache.parquet"})]:
        job, manifest = export(session, args.base, params)
        count = sum(f["count"] for f in manifest["output"])
        seconds = log_times(args.log, job)
        result[name] = {"resources": count, "seconds": round(seconds, 3),
                        "resources_per_s": round(count / seconds) if seconds else None,
                        "files": len(manifest["output"]), "memory_after": memory(args.pid)}
    result["read_idle"] = read_p99(args.load_bin, args.base, args.token, args.seconds)
    result["memory_after_read_idle"] = memory(args.pid)
    stop = threading.Event()
    exports = []

    def loop():
        while not stop.is_set():
            exports.append(export(session, args.base, {})[0])

    worker = threading.Thread(target=loop)
    worker.start()
    time.sleep(0.5)
    busy = read_p99(args.load_bin, args.base, args.token, args.seconds)
    stop.set()
    worker.join()
    result["read_during_export"] = busy
    result["exports_during_read"] = len(exports)
    result["memory_end"] = memory(args.pid)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
