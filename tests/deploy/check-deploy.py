#!/usr/bin/env python3
"""Checks of the deployment files in deploy/ against the daemon itself.

Usage: check-deploy.py GATEWAYD SOURCE_ROOT WHAT [ARGS...]

WHAT is one of:
  systemd         deploy/lingma-gatewayd.service: Type=notify, hardening, and
                  the values that must agree with the daemon's defaults
  systemd-verify  the same file through `systemd-analyze verify` (skipped,
                  exit 77, without systemd-analyze)
  balancer        deploy/haproxy, deploy/nginx rendered with their defaults:
                  timeouts, body limit, SSE, checks agree with the daemon's
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
import urllib.error
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


def load_yaml_docs(path):
    import yaml
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def check_k8s(gatewayd, root):
    try:
        import yaml  # noqa: F401
    except ImportError:
        print("PyYAML (python3-yaml) not installed: skipping")
        sys.exit(SKIP)
    d = defaults(gatewayd)
    kdir = os.path.join(root, "deploy", "k8s")
    docs = []
    for name in sorted(os.listdir(kdir)):
        if name.endswith(".yaml"):
            for doc in load_yaml_docs(os.path.join(kdir, name)):
                docs.append((name, doc))
    by_kind = {}
    for name, doc in docs:
        check("apiVersion" in doc and "kind" in doc and "name" in doc.get("metadata", {}),
              "%s: every document has apiVersion, kind, metadata.name" % name)
        by_kind.setdefault(doc["kind"], []).append(doc)
    for kind in ("StatefulSet", "Service", "PodDisruptionBudget", "ConfigMap", "Deployment",
                 "Secret"):
        check(kind in by_kind, "k8s: a %s" % kind)
    if failures:
        done()

    sts = by_kind["StatefulSet"][0]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    check(spec["selector"]["matchLabels"].items() <= labels.items(),
          "StatefulSet: the selector matches the pod labels")
    replicas = spec["replicas"]
    svc = [s for s in by_kind["Service"] if s["metadata"]["name"] == spec["serviceName"]]
    check(len(svc) == 1 and svc[0]["spec"].get("clusterIP") == "None",
          "StatefulSet: serviceName names a headless Service")
    if svc:
        check(svc[0]["spec"]["selector"].items() <= labels.items(),
              "headless Service: its selector matches the pods")
    gw = [c for c in pod["containers"] if c["name"] == "gatewayd"]
    check(len(gw) == 1, "StatefulSet: a container named gatewayd")
    if failures:
        done()
    c = gw[0]
    env = env_of(c)
    known = set(d) | {"POD_INDEX"}
    for name in env:
        check(name in known, "gatewayd env %s is a setting of the daemon (--check-config)" % name)

    def env_value(name):
        e = env.get(name)
        return e.get("value") if e and "value" in e else d.get(name)

    port = int(env_value("GATEWAY_PORT"))
    cports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check(cports.get("http") == port, "container port http = GATEWAY_PORT (%d)" % port)
    host = env_value("GATEWAY_HOST")
    check(host in ("0.0.0.0", "::"), "GATEWAY_HOST listens beyond loopback in a pod")
    # The daemon refuses a public bind without API_KEYS (or --allow-public).
    has_keys = "secretKeyRef" in env.get("API_KEYS", {}).get("valueFrom", {})
    check(has_keys or env_value("GATEWAY_ALLOW_PUBLIC") == "true",
          "API_KEYS from a Secret (a public bind needs them)")
    for probe, path in (("readinessProbe", "/healthz"), ("livenessProbe", "/livez")):
        p = c.get(probe, {}).get("httpGet", {})
        check(p.get("path") == path, "%s: GET %s" % (probe, path))
        check(p.get("port") in ("http", port), "%s on the gateway's port" % probe)
    pre = c.get("lifecycle", {}).get("preStop", {})
    check(bool(pre), "a preStop hook")
    pre_s = 0
    cmd = pre.get("exec", {}).get("command", [])
    if cmd and os.path.basename(cmd[0]) == "sleep":
        pre_s = float(cmd[1])
    elif "sleep" in pre:
        pre_s = float(pre["sleep"]["seconds"])
    drain = int(env_value("GATEWAY_DRAIN_TIMEOUT_SEC"))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    # preStop, then the drain, then 3 s for the error events, then the
    # children: with room to spare.
    check(grace >= pre_s + drain + 3 + 5,
          "terminationGracePeriodSeconds (%s) > preStop (%s) + drain (%d) + 8" % (grace, pre_s,
                                                                                   drain))
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    work = env_value("LINGMA_WORK_DIR")
    claims = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])]
    check(mounts.get(work) in claims, "LINGMA_WORK_DIR %s is a persistent volume" % work)
    # --env-file points into the mounted Secret, at a key the Secret has for
    # every pod ordinal.
    args = c.get("args", [])
    check("--env-file" in args, "the accounts come in through --env-file")
    secrets = {s["metadata"]["name"]: s for s in by_kind["Secret"]}
    if "--env-file" in args:
        path = args[args.index("--env-file") + 1]
        mdir = os.path.dirname(path)
        vol = mounts.get(mdir)
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        sname = vols.get(vol, {}).get("secret", {}).get("secretName")
        check(sname in secrets, "--env-file is read from the mounted Secret")
        check("$(POD_INDEX)" in path, "--env-file is the pod's own (by ordinal)")
        for i in range(replicas):
            key = os.path.basename(path).replace("$(POD_INDEX)", str(i))
            data = secrets.get(sname, {}).get("stringData", {})
            check(key in data, "the Secret has %s for pod %d" % (key, i))
            check("LINGMA_ACCOUNTS=" in data.get(key, ""), "%s sets LINGMA_ACCOUNTS" % key)
    for name in ("API_KEYS", "METRICS_TOKEN"):
        ref = env.get(name, {}).get("valueFrom", {}).get("secretKeyRef", {})
        if ref:
            check(ref.get("key") in secrets.get(ref.get("name"), {}).get("stringData", {}),
                  "%s: its Secret key exists in the example" % name)
    sc = c.get("securityContext", {})
    check(sc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
    check(sc.get("readOnlyRootFilesystem") is True, "a read-only root file system")

    pdb = by_kind["PodDisruptionBudget"][0]["spec"]
    check(pdb["selector"]["matchLabels"].items() <= labels.items(),
          "PodDisruptionBudget selects the gateways")
    check(pdb.get("maxUnavailable") == 1 or (pdb.get("minAvailable", replicas) < replicas),
          "PodDisruptionBudget lets one gateway go at a time")

    # The HAProxy front: its configuration is exactly what render-balancer
    # makes for the StatefulSet's pods, and HAProxy accepts it.
    cm = [m for m in by_kind["ConfigMap"] if "haproxy.cfg" in m.get("data", {})]
    check(len(cm) == 1, "a ConfigMap with haproxy.cfg")
    if cm:
        cfg = cm[0]["data"]["haproxy.cfg"]
        with open(os.path.join(kdir, "haproxy.yaml")) as f:
            m = re.search(r"^#\s+(deploy/render-balancer haproxy .*)$", f.read(), re.M)
        check(m is not None, "haproxy.yaml names its render-balancer command")
        if m:
            argv = m.group(1).split()
            want_hosts = ["%s-%d.%s:%d" % (sts["metadata"]["name"], i, spec["serviceName"],
                                           port) for i in range(replicas)]
            check(argv[-replicas:] == want_hosts and len([a for a in argv if ":" in a and "="
                                                          not in a]) == replicas,
                  "the front lists every pod of the StatefulSet: %s" % " ".join(want_hosts))
            out = subprocess.run([os.path.join(root, argv[0])] + argv[1:], check=True,
                                 capture_output=True, text=True, timeout=30).stdout
            check(out == cfg, "haproxy.cfg is the render-balancer output (render it again)")
            listen = [a for a in argv if a.startswith("LISTEN=")]
            lport = int(listen[0].rsplit(":", 1)[1]) if listen else 8080
            dep = [x for x in by_kind["Deployment"]
                   if any(v.get("configMap", {}).get("name") == cm[0]["metadata"]["name"]
                          for v in x["spec"]["template"]["spec"].get("volumes", []))]
            check(len(dep) == 1, "a Deployment runs HAProxy with that ConfigMap")
            if dep:
                hc = dep[0]["spec"]["template"]["spec"]["containers"][0]
                hports = {p["name"]: p["containerPort"] for p in hc.get("ports", [])}
                check(hports.get("http") == lport, "HAProxy's container port = its LISTEN port")
                hl = dep[0]["spec"]["template"]["metadata"]["labels"]
                front = [s for s in by_kind["Service"] if s["spec"].get("selector", {}).items()
                         <= hl.items() and s["spec"].get("selector")]
                check(len(front) == 1, "a Service in front of HAProxy")
                chat = int(d["LINGMA_CHAT_TIMEOUT"])
                check(dep[0]["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
                      > chat, "HAProxy pods may finish streams as long as a chat (%d s)" % chat)
        haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy"
                                              if os.access("/usr/sbin/haproxy", os.X_OK) else None)
        if haproxy:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "haproxy.cfg")
                with open(path, "w") as f:
                    f.write(cfg.replace("/tmp/haproxy", tmp + "/haproxy"))
                r = subprocess.run([haproxy, "-c", "-f", path], capture_output=True, text=True,
                                   timeout=30)
                check(r.returncode == 0, "haproxy -c accepts the front's configuration: " +
                      r.stderr.strip())
        else:
            print("haproxy not installed: its syntax check of the front is skipped")
    done()


# ---- a live gateway's /metrics -------------------------------------------

def free_port():
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def die_with_us():
    """preexec_fn: the child gets SIGKILL when this process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def http(url, body=None, timeout=10):
    req = urllib.request.Request(url, data=body.encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def live_metrics(gatewayd, sim):
    """Start lingma-gatewayd (two instances) on lingma-sim, make a chat, a
    stream and a 404, and return the /metrics text. The gateway is stopped
    by pid before this returns."""
    import select
    with tempfile.TemporaryDirectory() as work:
        env = {
            "PATH": "/usr/bin:/bin", "HOME": work, "LINGMA_BIN": sim, "LINGMA_WORK_DIR": work,
            "GATEWAY_PORT": "0", "LINGMA_INSTANCE_COUNT": "2", "LOG_LEVEL": "warn",
            "LINGMA_SOCKET_PORT": str(free_port()),
            # The gateway dies with us, and its simulators with it.
            "LINGMA_EXIT_WITH_PARENT": str(os.getpid()),
        }
        p = subprocess.Popen([gatewayd], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, preexec_fn=die_with_us)
        try:
            r, _, _ = select.select([p.stdout], [], [], 15)
            if not r:
                sys.exit("lingma-gatewayd printed no URL in 15 s")
            url = p.stdout.readline().decode().strip()
            end = time.monotonic() + 20
            while http(url + "/healthz")[0] != 200:
                if time.monotonic() > end:
                    sys.exit("lingma-gatewayd never became ready")
                time.sleep(0.02)
            chat = '{"messages":[{"role":"user","content":"hi"}]}'
            check(http(url + "/v1/chat/completions", chat)[0] == 200, "a chat works")
            check(http(url + "/v1/chat/completions", chat[:-1] + ',"stream":true}')[0] == 200,
                  "a stream works")
            http(url + "/nowhere")
            status, text = http(url + "/metrics")
            check(status == 200, "GET /metrics")
            return text
        finally:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def exported(text):
    """{metric name: set of label names} of a Prometheus text exposition;
    histograms give their _bucket, _sum and _count names too."""
    names = {}
    for line in text.splitlines():
        m = re.match(r"^# TYPE (\S+) (\S+)", line)
        if m:
            base, kind = m.groups()
            for n in [base] + ([base + s for s in ("_bucket", "_sum", "_count")]
                               if kind == "histogram" else []):
                names.setdefault(n, set())
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ", line)
        if m and not line.startswith("#"):
            labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
            names.setdefault(m.group(1), set()).update(labels)
    return names


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "inf", "nan"}
# Labels Prometheus adds at scrape time, and the histogram's bucket bound.
SCRAPE_LABELS = {"instance", "job", "le"}


def check_expr(where, expr, names):
    """Every metric an expression names is exported, with the labels it
    selects on; it names at least one metric of the gateway."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)        # string literals
    e = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "", e)   # Grafana variables
    e = re.sub(r"\[[^\]]*\]", "", e)                       # ranges
    used = []
    grouping = set()
    for m in re.finditer(r"\b(by|without|on|ignoring)\s*\(([^)]*)\)", e):
        grouping.update(x.strip() for x in m.group(2).split(",") if x.strip())
    e = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", e)
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?\s*(\()?", e):
        name, sel, labels, call = m.group(1), m.group(2), m.group(3), m.group(4)
        if call or name.lower() in PROMQL_WORDS:
            continue
        if re.match(r"^\d", name):
            continue
        used.append(name)
        ok = check(name in names or name == "up",
                   "%s: %s is not exported by lingma-gatewayd" % (where, name))
        if ok and sel and name != "up":
            for label in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", labels):
                check(label in names[name] or label in SCRAPE_LABELS,
                      "%s: %s has no label %s" % (where, name, label))
    check(any(n.startswith("gateway_") or n == "up" for n in used),
          "%s: the expression names a gateway metric" % where)
    known = set().union(*[names.get(n, set()) for n in used]) | SCRAPE_LABELS
    for label in grouping:
        check(label in known, "%s: grouping by %s, which none of its metrics has" % (where,
                                                                                     label))
    return used


def check_grafana(gatewayd, root, sim):
    path = os.path.join(root, "deploy", "grafana", "lingma-gatewayd.json")
    with open(path) as f:
        dash = json.load(f)
    names = exported(live_metrics(gatewayd, sim))
    ids = [p.get("id") for p in dash.get("panels", [])]
    check(len(ids) > 0 and len(ids) == len(set(ids)), "dashboard: panels with unique ids")
    check(dash.get("uid") and dash.get("title"), "dashboard: a uid and a title")
    variables = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    seen = set()
    for p in dash["panels"]:
        check(p.get("datasource", {}).get("uid") == "${datasource}",
              "panel %r: the datasource variable" % p.get("title"))
        check(len(p.get("targets", [])) > 0, "panel %r has queries" % p.get("title"))
        for t in p.get("targets", []):
            seen.update(check_expr("panel %r" % p["title"], t["expr"], names))
            for var in re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", t["expr"]):
                check(var.startswith("__") or var in variables,
                      "panel %r uses an undefined variable $%s" % (p["title"], var))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("definition") or ""
        if q:
            m = re.match(r"label_values\((\w+),\s*(\w+)\)", q)
            check(m and m.group(1) in names, "variable %s: %s" % (v["name"], q))
    # What the issue asks the dashboard to show.
    for metric in ("gateway_requests_total", "gateway_in_flight", "gateway_queued",
                   "gateway_time_to_first_token_seconds_bucket",
                   "gateway_request_duration_seconds_bucket", "gateway_instances",
                   "gateway_pool_instance_restarts_total"):
        check(metric in seen, "the dashboard shows %s" % metric)
    done()


def check_rules(gatewayd, root, sim):
    import yaml
    path = os.path.join(root, "deploy", "prometheus", "lingma-gatewayd.rules.yml")
    with open(path) as f:
        rules = yaml.safe_load(f)
    names = exported(live_metrics(gatewayd, sim))
    alerts = {}
    for g in rules["groups"]:
        for r in g["rules"]:
            alerts[r["alert"]] = r
            check_expr("alert %s" % r["alert"], r["expr"], names)
            check(r.get("labels", {}).get("severity") in ("critical", "warning"),
                  "alert %s has a severity" % r["alert"])
    for a in ("LingmaGatewayNoServingInstance", "LingmaGatewayErrorRatio",
              "LingmaGatewayRejectRatio", "LingmaInstanceRestarts",
              "LingmaGatewaySlowFirstToken"):
        check(a in alerts, "an alert %s" % a)
    done()


def check_balancer(gatewayd, root):
    """The balancer templates rendered with their defaults agree with the
    daemon's: timeouts over chat + queue timeout, the body limit, SSE
    unbuffered, the health path."""
    d = defaults(gatewayd)
    chat, queue = int(d["LINGMA_CHAT_TIMEOUT"]), int(d["GATEWAY_QUEUE_TIMEOUT_SEC"])
    body = int(d["GATEWAY_MAX_BODY_BYTES"])
    render = os.path.join(root, "deploy", "render-balancer")

    def rendered(kind):
        return subprocess.run([render, kind, "gw1:8000", "gw2:8000"], check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def seconds_of(text, directive):
        m = re.search(r"^\s*%s\s+(\d+)s?\s*;?\s*$" % re.escape(directive), text, re.M)
        return int(m.group(1)) if m else None

    hx = rendered("haproxy")
    for t in ("timeout client", "timeout server"):
        v = seconds_of(hx, t)
        check(v is not None and v > chat + queue,
              "haproxy: %s (%s) > LINGMA_CHAT_TIMEOUT + GATEWAY_QUEUE_TIMEOUT_SEC (%d)"
              % (t, v, chat + queue))
    check(re.search(r"^\s*http-check send meth GET uri /healthz\s*$", hx, re.M) is not None,
          "haproxy: checks GET /healthz")
    check(re.search(r"^\s*balance hash var\(txn\.affinity\)", hx, re.M) is not None and
          re.search(r"^\s*hash-type consistent", hx, re.M) is not None,
          "haproxy: consistent hashing on the affinity key")
    check(len(re.findall(r"^\s*server gw\d+ \S+ id \d+", hx, re.M)) == 2,
          "haproxy: one server line per host, with a fixed id")

    ng = rendered("nginx")
    for t in ("proxy_read_timeout", "proxy_send_timeout", "send_timeout"):
        v = seconds_of(ng, t)
        check(v is not None and v > chat + queue,
              "nginx: %s (%s) > chat + queue timeout (%d)" % (t, v, chat + queue))
    m = re.search(r"^\s*client_max_body_size\s+(\d+);", ng, re.M)
    check(m is not None and int(m.group(1)) == body,
          "nginx: client_max_body_size = GATEWAY_MAX_BODY_BYTES (%d)" % body)
    check(re.search(r"^\s*proxy_buffering off;", ng, re.M) is not None, "nginx: SSE unbuffered")
    check(re.search(r"^\s*proxy_next_upstream error http_503 http_429 non_idempotent;", ng,
                    re.M) is not None, "nginx: retries on errors, 503 and 429 only")
    check(len(re.findall(r"^\s*server gw\d:8000 max_fails=", ng, re.M)) == 2,
          "nginx: one server line per host")
    done()


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    gatewayd, root, what = sys.argv[1], sys.argv[2], sys.argv[3]
    rest = sys.argv[4:]
    {
        "systemd": lambda: check_systemd(gatewayd, root),
        "systemd-verify": lambda: check_systemd_verify(gatewayd, root),
        "k8s": lambda: check_k8s(gatewayd, root),
        "balancer": lambda: check_balancer(gatewayd, root),
        "grafana": lambda: check_grafana(gatewayd, root, rest[0]),
        "rules": lambda: check_rules(gatewayd, root, rest[0]),
    }[what]()


if __name__ == "__main__":
    main()
