"""Benchmark: PM upload time per transport for a 1 MB file, from the registered HNB through
the serving SeGW's tunnel to the serving HMS's file server, median of N uploads each.
Uses the HNB's own upload code (lab.nodes.hnb.transfers) inside the HNB container.

    python -m lab.bench.pm [-n 5] [--kbytes 1024]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lab.lab import running_lab
from scenarios.harness import REGISTRY, Ctx
from scenarios.runner import load_all

ROOT = Path(__file__).resolve().parents[2]
HMS = "203.0.113.21"
URLS = {"http": f"http://{HMS}:8080/pm/", "https": f"https://{HMS}:8443/pm/",
        "ftp": f"ftp://{HMS}:2121/pm/", "ftps": f"ftps://{HMS}:2990/pm/",
        "sftp": f"sftp://{HMS}:2222/pm/"}

INSIDE = """
import asyncio, json, os, ssl, statistics, sys, time
from lab.nodes.hnb import transfers
urls, n, size = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
opts = transfers.TransferOptions(ssl=ssl.create_default_context(
    cafile="/run/hnblab/pki/ca.pem"), timeout=60)
data = os.urandom(size)
async def main():
    out = {}
    for scheme, base in urls.items():
        times = []
        for i in range(n):
            t = time.monotonic()
            await transfers.upload(f"{base}bench-{scheme}-{i}.bin", data, "hnb", "hnb-files",
                                   options=opts)
            times.append(time.monotonic() - t)
        out[scheme] = times
    print(json.dumps(out))
asyncio.run(main())
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--kbytes", type=int, default=1024)
    args = ap.parse_args()
    load_all()
    s = REGISTRY["discovery-intranet"]
    with running_lab(ROOT / "topologies" / "intranet.yaml", name="benchpm") as lab:
        Ctx(lab.name, lab.run_dir, lab.topology, s).power_on_and_register()
        code, out = lab.exec("hnb1", "python", "-c", INSIDE, json.dumps(URLS),
                             str(args.runs), str(args.kbytes * 1024))
        if code != 0:
            raise SystemExit(f"uploads failed: {out}")
        res = json.loads(out.strip().splitlines()[-1])
    mb = args.kbytes / 1024
    print(f"PM upload of a {args.kbytes} KiB file, HNB -> serving HMS through the tunnel, "
          f"median of {args.runs}")
    for scheme, times in res.items():
        times.sort()
        med = times[len(times) // 2]
        print(f"  {scheme:5s} {med * 1000:8.1f} ms  ({mb * 8 / med:6.1f} Mbit/s)  "
              f"min {times[0] * 1000:.1f}  max {times[-1] * 1000:.1f}")


if __name__ == "__main__":
    main()
