"""Benchmark: PM upload time per transport for a 1 MB file, from the registered HNB through
the serving SeGW's tunnel to the serving HMS's file server, median of N uploads each.
Uses the HNB's own code inside the HNB container: a TS 32.435 measCollec file padded with
counters to the size asked (lab.pmfile, checked to parse back), uploaded by
lab.nodes.hnb.transfers.

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
import asyncio, json, ssl, sys, time
from datetime import UTC, datetime, timedelta
from lab import pmfile as pm
from lab.nodes.hnb import transfers
urls, n, size = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
opts = transfers.TransferOptions(ssl=ssl.create_default_context(
    cafile="/run/hnblab/pki/ca.pem"), timeout=60)
end = datetime.now(UTC).replace(second=0, microsecond=0)
begin = end - timedelta(minutes=15)
values = pm.sample_counters()
# about 80 bytes of XML per extra counter (measType + r): pad to the size asked
values.update({f"VS.bench.{i}": i for i in range(max(0, size // 80))})
data = pm.build_meas_collec(begin, end, "hnb1", values)
assert len(pm.parse_meas_collec(data).counters()) == len(values)
name = pm.meas_file_name(begin, end, "hnb1")
print(json.dumps({"bytes": len(data)}))
async def main():
    out = {}
    for scheme, base in urls.items():
        times = []
        for i in range(n):
            t = time.monotonic()
            await transfers.upload(f"{base}{scheme}-{i}-{name}", data, "hnb", "hnb-files",
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
        lines = out.strip().splitlines()
        size = json.loads(lines[-2])["bytes"]
        res = json.loads(lines[-1])
    mb = size / 1024 / 1024
    print(f"PM upload of a {size} byte measCollec file, HNB -> serving HMS through the "
          f"tunnel, median of {args.runs}")
    for scheme, times in res.items():
        times.sort()
        med = times[len(times) // 2]
        print(f"  {scheme:5s} {med * 1000:8.1f} ms  ({mb * 8 / med:6.1f} Mbit/s)  "
              f"min {times[0] * 1000:.1f}  max {times[-1] * 1000:.1f}")


if __name__ == "__main__":
    main()
