"""Whom the SeGW lets in, and why it did not.

Identity policy: an HNB identity is `1<OUI>-<SerialNumber>@<realm>` under the operator's
realm (setting `realm`). strongSwan 5.9.8 matches a remote identity against a pattern with
one leading wildcard only, so the realm part is charon's (remote id `*@<realm>`: any other
identity finds no connection) and the `1<OUI>-<SerialNumber>` part is checked by the SeGW
when the IKE SA comes up (`identity_problem`); an SA that fails it is closed again.

Refusals: the charon log lines of one IKE SA (VICI "log" events carry its unique id) are
explained by the SeGW's rules (`segw_rules`) on the mechanism both ends share
(lab.nodes.charon.explain), e.g. "unknown CA: ...", "HNB certificate expired on ...",
"identity mismatch: ...". The lines quoted are strongSwan 5.9.8's, as a responder logs
them at level 1.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from lab.nodes.charon import Rule, rule
from lab.pki import DEFAULT_REALM, HNB_IDENTITY_RE

__all__ = ["DEFAULT_REALM", "FAILED", "identity_problem", "remote_id", "segw_rules"]

# A line after which charon has given up on the IKE SA's authentication: the moment to say
# why. Causes (unknown CA, validity) are logged before these.
FAILED = re.compile(r"no trusted \S+ public key found|no matching peer config found"
                    r"|no alternative config found|received AUTHENTICATION_FAILED notify"
                    r"|N\(AUTH_FAILED\)")


def remote_id(realm: str) -> str:
    """charon's remote identity pattern for HNBs under `realm`."""
    return f"*@{realm}"


def identity_problem(identity: str, realm: str) -> str | None:
    """Why `identity` is not an HNB identity the SeGW accepts, or None."""
    m = HNB_IDENTITY_RE.match(identity)
    if not m:
        return (f"identity {identity!r} is not of the form 1<OUI>-<SerialNumber>@<realm> "
                "(OUI = 6 hex digits)")
    if m["realm"].lower() != realm.lower():
        return f"identity {identity!r} is not under the operator's realm {realm}"
    return None


# ---- refusals ------------------------------------------------------------------------------

def _time(text: str) -> dt.datetime | None:
    # strongSwan's %T: "Jan 01 00:00:00 2020", "Jan 01 00:00:00 UTC 2020" when in UTC
    utc = " UTC " in text
    try:
        t = dt.datetime.strptime(text.replace(" UTC ", " ").strip(), "%b %d %H:%M:%S %Y")
    except ValueError:
        return None
    return t.replace(tzinfo=dt.UTC) if utc else t.astimezone()  # local, as charon printed


# strptime imports its machinery on first use (milliseconds): do it now, not while the
# SeGW records a refusal (its record races the HNB's own in the evidence)
_time("Jan 01 00:00:00 2000")


def _validity(m: re.Match[str], _: Mapping[str, str]) -> str:
    what = "HNB certificate" if m[1] == "subject" else "issuing CA certificate"
    start, end = _time(m[2]), _time(m[3])
    now = dt.datetime.now(dt.UTC)
    if end is not None and end < now:
        return f"{what} expired on {m[3]} (valid from {m[2]})"
    if start is not None and start > now:
        return f"{what} not yet valid: valid from {m[2]} to {m[3]}"
    return f"{what} not valid now (valid from {m[2]} to {m[3]}): expired or not yet valid"


def _unknown_ca(m: re.Match[str], known: Mapping[str, str]) -> str:
    if "issuer" in known:
        return (f'unknown CA: the HNB certificate "{m[1]}" is issued by "{known["issuer"]}", '
                "not by the operator root CA")
    return f'unknown CA: the HNB certificate "{m[1]}" is not issued by the operator root CA'


def _no_key(m: re.Match[str], known: Mapping[str, str]) -> str:
    claimed, cert = m[2], known.get("cert")
    if cert is None:
        return f"identity mismatch: no trusted certificate proves the claimed identity " \
               f"'{claimed}' (no certificate received)"
    if claimed.lower() not in cert.lower():
        return f"identity mismatch: the HNB claims '{claimed}' in IKE but its certificate " \
               f'is "{cert}"'
    return f"no trusted {m[1]} public key for '{claimed}' (certificate \"{cert}\")"


def segw_rules(realm: str) -> list[Rule]:
    """The SeGW's table: why an HNB's IKE authentication failed."""

    def no_config(_: re.Match[str], known: Mapping[str, str]) -> str:
        who = f"'{known['claimed']}'" if "claimed" in known else "the HNB's identity"
        return (f"identity not accepted: no connection accepts {who} (the SeGW accepts "
                f"1<OUI>-<SerialNumber>@{realm})")

    return [
        rule(r'received end entity cert "([^"]*)"', "cert", fact=True),
        rule(r'^\s*issuer is "([^"]*)"', "issuer", fact=True),
        rule(r"looking for peer configs matching .*\.\.\.[^\[\s]+\[(.*)\]\s*$", "claimed",
             fact=True),
        rule(r"looking for peer configs matching .*\.\.\.([^\[\s]+)\[", "outer", fact=True),
        rule(r'no issuer certificate found for "([^"]*)"', "ca", _unknown_ca,
             needs=("issuer",)),
        rule(r"(subject|issuer) certificate invalid \(valid from (.+?) to (.+?)\)",
             "validity", _validity),
        rule(r"certificate was revoked on (.*), reason: (.*)", "revoked",
             r"HNB certificate revoked on \1 (\2)"),
        rule(r"constraint check failed: (.*)", "constraint",
             r"HNB certificate does not meet the connection's constraints: \1"),
        rule(r"no matching peer config found", "policy", no_config),
        rule(r"signature validation failed", "signature", "the HNB's AUTH signature does "
             "not verify with its certificate's key"),
        rule(r"received AUTHENTICATION_FAILED notify", "peer",
             "the HNB refused the SeGW's credentials (AUTHENTICATION_FAILED)"),
        rule(r"no private key found for '([^']*)'", "key",
             r"the SeGW has no private key for its identity '\1'"),
        rule(r"no trusted (\S+) public key found for '([^']*)'", "identity", _no_key,
             consequence=True),
    ]
