#!/usr/bin/env python3
"""Checks of the deployment files in deploy/ against the daemon itself.

Usage: check-deploy.py GATEWAYD SOURCE_ROOT WHAT [ARGS...]

WHAT is one of:
  systemd         deploy/lingma-gatewayd.service: Type=notify, hardening, and
                  the values that must agree with the daemon's defaults
  systemd-verify  the same file through `systemd-analyze verify` (skipped,
                  exit 77, without systemd-analyze)
  k8s             deploy/k8s/*.yaml: structure and the values that must agree
                  with the daemon's settings (skipped without PyYAML)
  grafana SIM     deploy/grafana/lingma-gatewayd.json: every query names a
                  metric a live gateway (on lingma-sim SIM) exports
  rules SIM       deploy/prometheus/*.yml: the same for the alert rules

The daemon's defaults come from `lingma-gatewayd --check-config`, never from
a copy in this file: a changed default that a deployment file contradicts
fails here. Exit 0 (pass), 1 (fail) or 77 (skipped).
"""
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)
    return cond


def done():
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("ok")
    sys.exit(0)


def defaults(gatewayd):
    """The daemon's effective defaults, from --check-config."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LINGMA_BIN": "/bin/true"}
    out = subprocess.run([gatewayd, "--check-config"], env=env, check=True,
                         capture_output=True, text=True, timeout=30).stdout
    d = {}
    for line in out.splitlines():
        m = re.match(r'^([A-Z_]+)=("?)(.*?)\2\s+#', line)
        if m:
            d[m.group(1)] = m.group(3)
    for k in ("GATEWAY_DRAIN_TIMEOUT_SEC", "LINGMA_CHAT_TIMEOUT", "GATEWAY_MAX_BODY_BYTES",
              "GATEWAY_QUEUE_TIMEOUT_SEC", "GATEWAY_MAX_CONNECTIONS", "GATEWAY_PORT"):
        if k not in d:
            sys.exit("--check-config did not print %s" % k)
    return d


def unit_file(path):
    """A systemd unit as {section: [(key, value), ...]}."""
    units = {}
    section = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                units.setdefault(section, [])
                continue
            k, _, v = line.partition("=")
            units[section].append((k.strip(), v.strip()))
    return units


def seconds(v):
    """A systemd time span ("45", "45s", "1min 30s") in seconds."""
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", v):
        total += float(num) * {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600,
                               "ms": 0.001}[unit]
    return total


def check_systemd(gatewayd, root):
    d = defaults(gatewayd)
    u = unit_file(os.path.join(root, "deploy", "lingma-gatewayd.service"))
    svc = dict(u.get("Service", []))
    envs = [v for k, v in u.get("Service", []) if k == "Environment"]
    want = {
        "Type": "notify", "NotifyAccess": "main", "NoNewPrivileges": "true",
        "ProtectSystem": "strict", "PrivateTmp": "true", "KillSignal": "SIGTERM",
        "KillMode": "mixed",
    }
    for k, v in want.items():
        check(svc.get(k) == v, "unit: %s=%s (found %r)" % (k, v, svc.get(k)))
    check(seconds(svc.get("WatchdogSec", "0")) > 0, "unit: WatchdogSec set")
    # The drain, then gw_http_stop's 3 s grace, then stopping the children.
    drain = int(d["GATEWAY_DRAIN_TIMEOUT_SEC"])
    check(seconds(svc.get("TimeoutStopSec", "0")) >= drain + 10,
          "unit: TimeoutStopSec >= GATEWAY_DRAIN_TIMEOUT_SEC (%d) + 10" % drain)
    fams = svc.get("RestrictAddressFamilies", "").split()
    for f in ("AF_INET", "AF_INET6", "AF_UNIX"):
        check(f in fams, "unit: RestrictAddressFamilies has %s" % f)
    nofile = int(svc.get("LimitNOFILE", "0"))
    check(nofile >= int(d["GATEWAY_MAX_CONNECTIONS"]) + 1024,
          "unit: LimitNOFILE covers GATEWAY_MAX_CONNECTIONS (%s) and more"
          % d["GATEWAY_MAX_CONNECTIONS"])
    state = svc.get("StateDirectory", "")
    check(state != "", "unit: StateDirectory set (writable under ProtectSystem=strict)")
    check("LINGMA_WORK_DIR=/var/lib/%s" % state in envs,
          "unit: LINGMA_WORK_DIR is the state dir /var/lib/%s" % state)
    check("HUP" in svc.get("ExecReload", ""), "unit: ExecReload sends SIGHUP")
    done()


def check_systemd_verify(gatewayd, root):
    sa = shutil.which("systemd-analyze")
    if not sa:
        print("systemd-analyze not found: skipping")
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(root, "deploy", "lingma-gatewayd.service")
        dst = os.path.join(tmp, "lingma-gatewayd.service")
        with open(src) as f:
            text = f.read()
        # verify checks that ExecStart exists: point it at the built daemon.
        text = text.replace("ExecStart=/usr/local/bin/lingma-gatewayd",
                            "ExecStart=" + os.path.abspath(gatewayd))
        with open(dst, "w") as f:
            f.write(text)
        r = subprocess.run([sa, "verify", "--man=no", dst], capture_output=True, text=True,
                           timeout=60)
        out = (r.stdout + r.stderr).strip()
        print(out)
        check(r.returncode == 0, "systemd-analyze verify exit status %d" % r.returncode)
        # verify only warns (exit 0) about unknown keys and bad values.
        check(dst not in out, "systemd-analyze verify has no complaint about the unit")
    done()


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    gatewayd, root, what = sys.argv[1], sys.argv[2], sys.argv[3]
    rest = sys.argv[4:]
    {
        "systemd": lambda: check_systemd(gatewayd, root),
        "systemd-verify": lambda: check_systemd_verify(gatewayd, root),
    }[what]()


if __name__ == "__main__":
    main()
