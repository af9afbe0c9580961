"""The HNB Management System node: `python -m lab.nodes.hms --config FILE`.

One process holds the TR-069 ACS, the operator REST API and the file server (TS 32.583
4.2.1), over one SQLite store in the state directory. Emits node.ready (with the bound
ports and public URLs) once every listener is up; stops cleanly on SIGTERM/SIGINT.

Settings (the node config's "settings" object; a port set to null turns that listener off,
0 picks a free port):

  role              "initial" | "serving" | "both" (initial + serving in one)    "serving"
  host              listen address of ACS and API                               "0.0.0.0"
  http_port         ACS over HTTP                                               7547
  https_port        ACS over HTTPS (needs tls_cert, tls_key)                    null
  tls_cert, tls_key PEM paths of the HMS certificate (HTTPS, FTPS)              null
  api_port          operator REST API (lab.nodes.hms.api)                       7557
  api_token         the API's Bearer token                                      required
  state_dir         SQLite store, files, SSH host key                <run_dir>/<node>-state
  max_body          largest CWMP message accepted, bytes (larger: HTTP 413)     1048576
  session_timeout   seconds a CWMP session may sit idle                         60
  max_attempts      times a request is sent before its task fails               3
  auto_register     admit devices never seen before (false: refuse them with
                    8001 until the operator allows them)                        true
  hold_requests     set HoldRequests=true while the ACS has requests queued     false
  policy            initial role: location rules, first match wins:
                    [{"name", "match": "*" | {"plmn", "lac", "cell" (value or list),
                      "lat": [min, max], "lon": [min, max]} (degrees),
                      "serving_segw", "serving_hms_url", "hnbgw"?, "hnbgw_port"?}]
  provisioning      serving role, registration (5.2.1 step 5.3):
                    {"params": {path: value | {"value", "type"}},
                     "hnbgw": HNB-GW host (FAPGWServer1), "hnbgw_port",
                     "ipsec": true|false (the IPsec usage indicator),
                     "ipsec_param": its path (default "Device.IPsec.Enable")}
  cm_mode           "spv" (SetParameterValues) | "download" (a generated CM file)  "spv"
  alarm_reporting   5.5.1: [{"match": "*" | {EventType|ProbableCause|SpecificProblem|
                      PerceivedSeverity: value}, "mechanism": "0 Expedited" | "1 Queued" |
                      "2 Logged" | "3 Disabled"}]                                []
  pm_upload         5.6.1: {"enable", "interval" (s), "time", "url" (default: the file
                    server's /pm/ over HTTP), "username", "password"}             null (off)
  deprovision       5.4: {"method": "factory-reset" | "spv", "params": {path: value}}
  connection_request {"username", "password"}: set on the device at registration and
                    used for the ACS's connection requests                       {}
  cpe_auth          {"username", "password"}: CPEs must authenticate to the ACS with
                    HTTP Digest (or Basic) using these                           {} (off)
  files             {"host", "http_port" 8080, "https_port" null, "ftp_port" 2121,
                     "ftps_port" null, "sftp_port" 2222, "user", "password",
                     "passive_ports": [first, last], "masquerade_address", "max_upload",
                     "auth_failed_delay" (s, FTP),
                     "public_http", "public_ftp", "public_sftp" (base URLs handed out)}
"""

from __future__ import annotations

import asyncio
import signal
import sys

from lab.nodes.common import load_config, setup_logging
from lab.nodes.hms.server import start_hms
from lab.nodes.hms.settings import SettingsError


async def _main() -> int:
    config = load_config()
    setup_logging(config.node)
    try:
        handle = await start_hms(config)
    except SettingsError as exc:
        print(f"{config.node}: bad settings: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
