"""HMS settings: parsed and checked once at start-up (the keys are documented in
`lab.nodes.hms.__main__`). A bad value raises SettingsError naming the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.nodes.hms import params as P

ROLES = ("initial", "serving", "both")
CM_MODES = ("spv", "download")
DEPROVISION_METHODS = ("factory-reset", "spv")
MECHANISMS = ("0 Expedited", "1 Queued", "2 Logged", "3 Disabled")


class SettingsError(ValueError):
    pass


def _get(d: dict[str, Any], key: str, typ: type | tuple[type, ...], default: Any,
         where: str = "settings") -> Any:
    v = d.get(key, default)
    if v is None:
        return default
    if typ is int and isinstance(v, bool):
        raise SettingsError(f"{where}.{key}: expected int, got {v!r}")
    if not isinstance(v, typ):
        names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise SettingsError(f"{where}.{key}: expected {names}, got {v!r}")
    return v


def _port(d: dict[str, Any], key: str, default: int | None, where: str) -> int | None:
    if key in d and d[key] is None:
        return None  # explicitly off
    v = _get(d, key, int, default, where)
    if v is not None and not 0 <= v <= 65535:
        raise SettingsError(f"{where}.{key}: port {v} out of range 0..65535")
    return v


@dataclass
class PolicyRule:
    """One location rule: where an HNB found at `match` is served."""

    name: str
    match: dict[str, Any] | str  # "*" or {plmn, lac, cell, lat: [lo, hi], lon: [lo, hi]}
    serving_segw: str
    serving_hms_url: str
    hnbgw: str | None = None
    hnbgw_port: int | None = None

    @classmethod
    def from_dict(cls, d: Any, i: int) -> PolicyRule:
        where = f"settings.policy[{i}]"
        if not isinstance(d, dict):
            raise SettingsError(f"{where}: expected an object")
        unknown = set(d) - {"name", "match", "serving_segw", "serving_hms_url", "hnbgw",
                            "hnbgw_port"}
        if unknown:
            raise SettingsError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        match = d.get("match", "*")
        if match != "*":
            if not isinstance(match, dict) or not match:
                raise SettingsError(f"{where}.match: expected \"*\" or an object")
            bad = set(match) - {"plmn", "lac", "cell", "lat", "lon"}
            if bad:
                raise SettingsError(f"{where}.match: unknown key(s) {', '.join(sorted(bad))} "
                                    "(known: plmn, lac, cell, lat, lon)")
            for k in ("lat", "lon"):
                box = match.get(k)
                if box is not None and not (isinstance(box, list) and len(box) == 2
                                            and all(isinstance(x, int | float) for x in box)
                                            and box[0] <= box[1]):
                    raise SettingsError(f"{where}.match.{k}: expected [min, max] in degrees")
            if ("lat" in match) != ("lon" in match):
                raise SettingsError(f"{where}.match: lat and lon go together")
        for k in ("serving_segw", "serving_hms_url"):
            if not isinstance(d.get(k), str) or not d[k]:
                raise SettingsError(f"{where}.{k}: required (string)")
        return cls(name=str(d.get("name", f"rule{i + 1}")), match=match,
                   serving_segw=d["serving_segw"], serving_hms_url=d["serving_hms_url"],
                   hnbgw=_get(d, "hnbgw", str, None, where),
                   hnbgw_port=_port(d, "hnbgw_port", None, where))


@dataclass
class AlarmRule:
    match: dict[str, str] | str  # "*" or {EventType/ProbableCause/PerceivedSeverity/...: v}
    mechanism: str


@dataclass
class FileServerSettings:
    host: str = "0.0.0.0"
    http_port: int | None = 8080
    https_port: int | None = None
    ftp_port: int | None = 2121
    ftps_port: int | None = None
    sftp_port: int | None = 2222
    user: str = "hnb"
    password: str = "hnb-files"
    passive_ports: tuple[int, int] | None = None
    masquerade_address: str | None = None
    max_upload: int = 64 << 20
    auth_failed_delay: float = 1.0  # FTP: pause after a failed login (slows guessing)
    # Base URLs the HMS hands out (Download URL, PM upload URL); default from the ports.
    public_http: str | None = None
    public_ftp: str | None = None
    public_sftp: str | None = None

    @classmethod
    def from_dict(cls, d: Any) -> FileServerSettings:
        w = "settings.files"
        if not isinstance(d, dict):
            raise SettingsError(f"{w}: expected an object")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise SettingsError(f"{w}: unknown key(s) {', '.join(sorted(unknown))}")
        pp = d.get("passive_ports")
        if pp is not None and not (isinstance(pp, list) and len(pp) == 2
                                   and all(isinstance(p, int) for p in pp) and pp[0] <= pp[1]):
            raise SettingsError(f"{w}.passive_ports: expected [first, last]")
        return cls(host=_get(d, "host", str, "0.0.0.0", w),
                   http_port=_port(d, "http_port", 8080, w),
                   https_port=_port(d, "https_port", None, w),
                   ftp_port=_port(d, "ftp_port", 2121, w),
                   ftps_port=_port(d, "ftps_port", None, w),
                   sftp_port=_port(d, "sftp_port", 2222, w),
                   user=_get(d, "user", str, "hnb", w),
                   password=_get(d, "password", str, "hnb-files", w),
                   passive_ports=tuple(pp) if pp else None,  # type: ignore[arg-type]
                   masquerade_address=_get(d, "masquerade_address", str, None, w),
                   max_upload=_get(d, "max_upload", int, 64 << 20, w),
                   auth_failed_delay=float(_get(d, "auth_failed_delay", (int, float), 1.0, w)),
                   public_http=_get(d, "public_http", str, None, w),
                   public_ftp=_get(d, "public_ftp", str, None, w),
                   public_sftp=_get(d, "public_sftp", str, None, w))


@dataclass
class HmsSettings:
    role: str = "serving"
    host: str = "0.0.0.0"
    http_port: int | None = 7547
    https_port: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    api_port: int | None = 7557
    api_token: str = ""
    state_dir: Path = Path("hms-state")
    max_body: int = 1 << 20
    session_timeout: float = 60.0
    max_attempts: int = 3
    auto_register: bool = True
    hold_requests: bool = False
    policy: list[PolicyRule] = field(default_factory=list)
    provisioning: list[Any] = field(default_factory=list)  # rpc.ParameterValue list
    hnbgw: str | None = None
    hnbgw_port: int | None = None
    ipsec: bool | None = None
    ipsec_param: str = P.IPSEC_INDICATOR
    cm_mode: str = "spv"
    alarm_reporting: list[AlarmRule] = field(default_factory=list)
    pm_upload: dict[str, Any] | None = None
    deprovision_method: str = "factory-reset"
    deprovision_params: list[Any] = field(default_factory=list)
    cr_username: str = ""
    cr_password: str = ""
    cpe_username: str = ""  # when set, a CPE must authenticate to the ACS (Digest or Basic)
    cpe_password: str = ""
    files: FileServerSettings = field(default_factory=FileServerSettings)

    @classmethod
    def from_dict(cls, d: dict[str, Any], run_dir: Path | None = None,
                  node: str = "hms") -> HmsSettings:
        w = "settings"
        known = {"role", "host", "http_port", "https_port", "tls_cert", "tls_key", "api_port",
                 "api_token", "state_dir", "max_body", "session_timeout", "max_attempts",
                 "auto_register", "hold_requests", "policy", "provisioning", "cm_mode",
                 "alarm_reporting", "pm_upload", "deprovision", "connection_request",
                 "cpe_auth", "files"}
        unknown = set(d) - known
        if unknown:
            raise SettingsError(f"unknown setting(s) {', '.join(sorted(unknown))} "
                                f"(known: {', '.join(sorted(known))})")
        role = _get(d, "role", str, "serving")
        if role not in ROLES:
            raise SettingsError(f"settings.role: {role!r} not one of {', '.join(ROLES)}")
        token = _get(d, "api_token", str, "")
        if not token:
            raise SettingsError("settings.api_token: required (the operator API's Bearer token)")
        cert, key = _get(d, "tls_cert", str, None), _get(d, "tls_key", str, None)
        https = _port(d, "https_port", None, w)
        if https is not None and not (cert and key):
            raise SettingsError("settings.https_port needs settings.tls_cert and tls_key")
        state = _get(d, "state_dir", str, None)
        state_dir = Path(state) if state else (run_dir or Path(".")) / f"{node}-state"
        policy_raw = _get(d, "policy", list, [])
        policy = [PolicyRule.from_dict(r, i) for i, r in enumerate(policy_raw)]
        if role in ("initial", "both") and not policy:
            raise SettingsError(f"settings.policy: role {role!r} needs at least one rule")
        prov = _get(d, "provisioning", dict, {})
        bad = set(prov) - {"params", "hnbgw", "hnbgw_port", "ipsec", "ipsec_param"}
        if bad:
            raise SettingsError(f"settings.provisioning: unknown key(s) {', '.join(sorted(bad))}")
        try:
            prov_params = P.parameter_list(prov.get("params", {}), "settings.provisioning.params")
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        cm_mode = _get(d, "cm_mode", str, "spv")
        if cm_mode not in CM_MODES:
            raise SettingsError(f"settings.cm_mode: {cm_mode!r} not one of {', '.join(CM_MODES)}")
        alarm_rules = []
        for i, r in enumerate(_get(d, "alarm_reporting", list, [])):
            aw = f"settings.alarm_reporting[{i}]"
            if not isinstance(r, dict) or r.get("mechanism") not in MECHANISMS:
                raise SettingsError(f"{aw}: needs mechanism, one of {', '.join(MECHANISMS)}")
            m = r.get("match", "*")
            if m != "*" and not (isinstance(m, dict) and all(isinstance(v, str)
                                                            for v in m.values())):
                raise SettingsError(f"{aw}.match: expected \"*\" or {{field: value}}")
            alarm_rules.append(AlarmRule(match=m, mechanism=r["mechanism"]))
        pm = _get(d, "pm_upload", dict, None)
        if pm is not None:
            bad = set(pm) - {"enable", "interval", "time", "url", "username", "password"}
            if bad:
                raise SettingsError(f"settings.pm_upload: unknown key(s) {', '.join(sorted(bad))}")
            iv = pm.get("interval", 900)
            if not isinstance(iv, int) or isinstance(iv, bool) or iv <= 0:
                raise SettingsError("settings.pm_upload.interval: expected seconds > 0")
        dep = _get(d, "deprovision", dict, {})
        method = _get(dep, "method", str, "factory-reset", "settings.deprovision")
        if method not in DEPROVISION_METHODS:
            raise SettingsError(f"settings.deprovision.method: {method!r} not one of "
                                f"{', '.join(DEPROVISION_METHODS)}")
        try:
            dep_params = P.parameter_list(dep.get("params", {}), "settings.deprovision.params")
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        cr = _get(d, "connection_request", dict, {})
        cpe = _get(d, "cpe_auth", dict, {})
        if cpe and not (isinstance(cpe.get("username"), str) and cpe["username"]
                        and isinstance(cpe.get("password"), str)):
            raise SettingsError("settings.cpe_auth: needs username and password (strings)")
        ipsec = prov.get("ipsec")
        if ipsec is not None and not isinstance(ipsec, bool):
            raise SettingsError("settings.provisioning.ipsec: expected true/false")
        return cls(
            role=role, host=_get(d, "host", str, "0.0.0.0"),
            http_port=_port(d, "http_port", 7547, w), https_port=https,
            tls_cert=Path(cert) if cert else None, tls_key=Path(key) if key else None,
            api_port=_port(d, "api_port", 7557, w), api_token=token, state_dir=state_dir,
            max_body=_get(d, "max_body", int, 1 << 20),
            session_timeout=float(_get(d, "session_timeout", (int, float), 60.0)),
            max_attempts=_get(d, "max_attempts", int, 3),
            auto_register=_get(d, "auto_register", bool, True),
            hold_requests=_get(d, "hold_requests", bool, False),
            policy=policy, provisioning=prov_params,
            hnbgw=_get(prov, "hnbgw", str, None, "settings.provisioning"),
            hnbgw_port=_port(prov, "hnbgw_port", None, "settings.provisioning"),
            ipsec=ipsec,
            ipsec_param=_get(prov, "ipsec_param", str, P.IPSEC_INDICATOR,
                             "settings.provisioning"),
            cm_mode=cm_mode, alarm_reporting=alarm_rules, pm_upload=pm,
            deprovision_method=method, deprovision_params=dep_params,
            cr_username=_get(cr, "username", str, "", "settings.connection_request"),
            cr_password=_get(cr, "password", str, "", "settings.connection_request"),
            cpe_username=cpe.get("username", ""), cpe_password=cpe.get("password", ""),
            files=FileServerSettings.from_dict(_get(d, "files", dict, {})),
        )
