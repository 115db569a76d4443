#!/usr/bin/python3
"""check.py — offline checks of buzzradar's deployment files.

No Docker engine, Kubernetes cluster, Prometheus or Grafana runs where buzzradar is
built, so this script checks on paper what it can, without network access:

  static    every YAML file parses (docker-compose.yml, deploy/k8s/**, Prometheus and
            Grafana files) and hangs together: compose services, depends_on and
            health checks, mounts that exist, env names, topics; Kubernetes objects,
            selectors, probes (/health, /ready), ports, security context, resources;
            Prometheus rules (groups, for, severity) whose metric names, labels and
            label values are the worker's (worker/worker_metrics.c when present);
            the Grafana dashboard (data sources, targets, metrics); the Dockerfile
            (two Debian 12 stages, packages checked against Debian 12, non-root USER,
            HEALTHCHECK, ENTRYPOINT, OCI labels, sources not hidden by .dockerignore)
  scripts   runs deploy/docker-entrypoint.sh and deploy/healthcheck.sh against a fake
            buzzradar and a local HTTP server, and the shell snippets of
            docker-compose.yml (topic creation, demo replay) against stub Kafka tools
  promtool  `promtool check rules`, `promtool test rules` (deploy/prometheus/
            rules_test.yml) and `promtool check config`: needs promtool (Debian
            package prometheus); skipped without it
  binary    every shared library build/buzzradar needs (ELF NEEDED) belongs to a
            Debian package that the image's runtime stage installs: needs the
            binary, objdump, ldd and dpkg; skipped without them

Usage: check.py [--root DIR] [--binary PATH] [SECTION...]   (default: every section)
Prints one line per problem ("FILE:LINE: what is wrong") and a summary. Exit status:
0 all selected sections passed, 1 problems found, 77 every selected section was
skipped (a tool missing), 2 bad usage or PyYAML missing.
"""

import argparse
import fnmatch
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    sys.stderr.write("check.py: PyYAML is missing: install python3-yaml (make deps)\n")
    sys.exit(2)

# ---- facts the deployment files must agree with ----------------------------------

# Debian 12 (bookworm) packages the Dockerfile installs, with the version that
# `apt-cache policy NAME` reported when they were checked (2026-11-25, amd64). The
# test itself never calls apt: it only compares the Dockerfile with this table.
DEBIAN12_PACKAGES = {
    "build-essential": "12.9",
    "pkg-config": "1.8.1-1",
    "librdkafka-dev": "2.0.2-1",
    "libhiredis-dev": "0.14.1-3",
    "libcjson-dev": "1.7.15-1+deb12u4",
    "libopenblas-dev": "0.3.21+ds-4",
    "libstemmer-dev": "2.2.0-2",
    "zlib1g-dev": "1:1.2.13.dfsg-1",
    "libmicrohttpd-dev": "0.9.75-6",
    "librdkafka1": "2.0.2-1",
    "libhiredis0.14": "0.14.1-3",
    "libcjson1": "1.7.15-1+deb12u4",
    "libopenblas0-pthread": "0.3.21+ds-4",
    "libstemmer0d": "2.2.0-2",
    "zlib1g": "1:1.2.13.dfsg-1",
    "libmicrohttpd12": "0.9.75-6",
    "ca-certificates": "20250419~deb12u2",
    "tini": "0.19.0-1+b3",
}

# Each library the Makefile links (-lNAME): the -dev package the build stage needs
# and the package the runtime stage needs (None: part of libc6, in every image).
MAKEFILE_LIBS = {
    "rdkafka": ("librdkafka-dev", "librdkafka1"),
    "hiredis": ("libhiredis-dev", "libhiredis0.14"),
    "cjson": ("libcjson-dev", "libcjson1"),
    "openblas": ("libopenblas-dev", "libopenblas0-pthread"),
    "stemmer": ("libstemmer-dev", "libstemmer0d"),
    "microhttpd": ("libmicrohttpd-dev", "libmicrohttpd12"),
    "z": ("zlib1g-dev", "zlib1g"),
    "m": (None, None),
}
BUILD_TOOLS = {"build-essential", "pkg-config"}
RUNTIME_EXTRAS = {"ca-certificates", "tini"}  # TLS to brokers; PID 1
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1"}  # in debian:12-slim already

# The worker's metrics (worker/worker_metrics.c, worker/http.c): type, label names,
# and the values of each fixed label.
DLQ_REASONS = {"invalid_json", "missing_id", "missing_text", "empty_text", "too_large", "invalid_utf8",
               "produce_failed", "invalid_label", "other"}
ALERT_TYPES = {
    "misclassification_burst", "negative_surge", "prediction_skew", "vocabulary_drift",
    "confidence_drop", "length_shift", "latency_p95", "error_rate", "monitor_unavailable", "other",
}
KNOWN_METRICS = {
    "buzzradar_consumed_total": ("counter", {}),
    "buzzradar_scored_total": ("counter", {"label": {"negative", "positive"}}),
    "buzzradar_dead_letters_total": ("counter", {"reason": DLQ_REASONS}),
    "buzzradar_produce_errors_total": ("counter", {}),
    "buzzradar_cache_hits_total": ("counter", {}),
    "buzzradar_cache_misses_total": ("counter", {}),
    "buzzradar_redis_errors_total": ("counter", {}),
    "buzzradar_alerts_total": ("counter", {"type": ALERT_TYPES}),
    "buzzradar_feedback_total": ("counter", {"result": {"correct", "misclassified", "unknown"}}),
    "buzzradar_inference_seconds": ("histogram", {}),
    "buzzradar_end_to_end_seconds": ("histogram", {}),
    "buzzradar_batch_size": ("histogram", {}),
    "buzzradar_consumer_lag": ("gauge", {}),
    "buzzradar_assigned_partitions": ("gauge", {}),
    "buzzradar_redis_up": ("gauge", {}),
    "buzzradar_model_info": ("gauge", {"model": None, "version": None}),
    "buzzradar_feedback_retries_total": ("counter", {}),
    "buzzradar_feedback_waiting": ("gauge", {}),
    "buzzradar_http_requests_total": ("counter", {"code": None}),
    "buzzradar_http_rate_limit_fallbacks_total": ("counter", {}),
}
TARGET_LABELS = {"job", "instance", "namespace", "pod"}  # added by Prometheus' scrape

# Environment variables of `buzzradar run` (DESIGN.md, Configuration) and of the
# image's entry point.
KNOWN_ENV = {
    "BUZZRADAR_BROKERS", "BUZZRADAR_REDIS", "BUZZRADAR_GROUP", "BUZZRADAR_THREADS",
    "BUZZRADAR_MODEL", "BUZZRADAR_HTTP", "BUZZRADAR_TOPIC_IN", "BUZZRADAR_TOPIC_OUT",
    "BUZZRADAR_TOPIC_FEEDBACK", "BUZZRADAR_TOPIC_ALERTS", "BUZZRADAR_TOPIC_DLQ",
    "BUZZRADAR_RDKAFKA_DIR",
}
DEFAULT_TOPICS = {"tweets.raw", "tweets.scored", "tweets.feedback", "buzz.alerts", "tweets.dlq"}

HEALTH_PATH, READY_PATH = "/health", "/ready"
HTTP_PORT = 8080
IMAGE_UID = 10001
RDKAFKA_DIR = "/etc/buzzradar/rdkafka"
MODEL_SERVING_MIB = 200  # the serving tables of the shipped BiLSTM
RDKAFKA_PREFETCH_MIB = 64  # librdkafka's default queued.max.messages.kbytes
MIN_GRACE_SECONDS = 30
NAMESPACE = "buzzradar"
PROPERTY_NAME = re.compile(r"^[a-z0-9._-]+$")  # what docker-entrypoint.sh accepts


# ---- reporting --------------------------------------------------------------------


class Report:
    """Problems found, one line each, with the file (relative to the root) and line."""

    def __init__(self, root, echo=True):
        self.root = root
        self.echo = echo  # print each problem as it is found
        self.problems = []

    def rel(self, path):
        return os.path.relpath(path, self.root)

    def problem(self, path, msg, line=None):
        where = self.rel(path) + (f":{line}" if line else "")
        text = f"{where}: {msg}"
        self.problems.append(text)
        if self.echo:
            print(f"  PROBLEM {text}")


class LineDict(dict):
    """A YAML mapping that remembers the line it starts on (1-based)."""

    line = None


class LineLoader(yaml.SafeLoader):
    """yaml.SafeLoader whose mappings are LineDicts: as safe, with line numbers."""


def _construct_line_map(loader, node):
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_line_map)


def line_of(obj):
    return getattr(obj, "line", None)


def load_yaml_docs(rep, path):
    """Every document of a YAML file (None documents dropped), or None on error."""
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.load_all(f, Loader=LineLoader) if d is not None]
    except OSError as e:
        rep.problem(path, f"cannot read: {e.strerror}")
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        rep.problem(path, f"invalid YAML: {getattr(e, 'problem', e)}", mark.line + 1 if mark else None)
    return None


def dig(obj, *keys, default=None):
    for k in keys:
        if isinstance(obj, dict) and k in obj:
            obj = obj[k]
        elif isinstance(obj, list) and isinstance(k, int) and -len(obj) <= k < len(obj):
            obj = obj[k]
        else:
            return default
    return obj


def parse_memory_mib(q):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i?|)", str(q))
    if not m:
        return None
    scale = {"": 1 / 2**20, "K": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20, "T": 1e12 / 2**20,
             "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024**2}
    return float(m.group(1)) * scale[m.group(2)]


def parse_cpu(q):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", str(q))
    if not m:
        return None
    return float(m.group(1)) / (1000 if m.group(2) else 1)


def compose_interpolate(text, env):
    """docker compose's interpolation of ${VAR}, ${VAR:-default}, $VAR and $$."""

    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("bare")
        value = env.get(name)
        if m.group("default") is not None and not value:
            return m.group("default")
        return value or ""

    pattern = r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    return re.sub(pattern, sub, text)


# ---- PromQL ------------------------------------------------------------------------

PROMQL_KEYWORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "and", "or", "unless", "on", "ignoring",
    "group_left", "group_right", "bool", "offset", "rate", "irate", "increase", "delta", "deriv",
    "histogram_quantile", "absent", "round", "topk", "bottomk", "label_values", "up", "time",
    "vector", "scalar", "clamp_min", "clamp_max", "abs", "predict_linear", "avg_over_time",
    "max_over_time", "min_over_time", "sum_over_time", "le", "inf", "nan",
}


def promql_strip(expr):
    """expr without its string literals, comments and Grafana $variables."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"#.*", "", expr)
    return re.sub(r"\$\{?\w+\}?", "", expr)


def check_promql(rep, path, line, expr, recorded):
    """Metric names, label names and fixed label values of one PromQL expression."""
    bare = promql_strip(expr)
    for name in set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare)):
        if ":" in name:
            if name not in recorded:
                rep.problem(path, f"'{name}' is not a recording rule of deploy/prometheus/rules.yml", line)
        elif name.startswith("buzzradar_") and metric_base(name) is None:
            rep.problem(path, f"unknown metric '{name}' (not exported by the worker)", line)
    for name, body in re.findall(r"\b(buzzradar_[A-Za-z0-9_]*)\s*\{([^}]*)\}", expr):
        base = metric_base(name)
        if base is None:
            continue
        labels = KNOWN_METRICS[base][1]
        for label, op, value in re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', body):
            if label == "le" and name.endswith("_bucket"):
                continue
            if label in TARGET_LABELS:
                continue
            if label not in labels:
                rep.problem(path, f"metric '{name}' has no label '{label}'", line)
                continue
            allowed = labels[label]
            if allowed is None or "$" in value:
                continue
            values = value.split("|") if op in ("=~", "!~") else [value]
            for v in values:
                if re.fullmatch(r"[A-Za-z0-9_]+", v) and v not in allowed:
                    rep.problem(path, f"'{name}{{{label}=\"{v}\"}}' never exists: {label} is one of {sorted(allowed)}",
                                line)


def metric_base(name):
    """The worker metric a sample name belongs to (histogram suffixes allowed), or None."""
    if name in KNOWN_METRICS:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base in KNOWN_METRICS and KNOWN_METRICS[base][0] == "histogram":
            return base
    return None


# ---- static checks -------------------------------------------------------------------


class Deploy:
    """The deployment files of one repository, loaded once."""

    def __init__(self, root, rep):
        self.root = root
        self.rep = rep
        self.p = lambda *parts: os.path.join(root, *parts)

    # -- worker sources: keep the tables above honest once the code exists ----------
    def check_against_sources(self):
        src = self.p("worker", "worker_metrics.c")
        if os.path.exists(src):
            names = set()
            for f in sorted(os.listdir(self.p("worker"))):
                if f.endswith(".c"):
                    with open(self.p("worker", f), encoding="utf-8") as fh:
                        names |= set(re.findall(r'prom_\w+_register\(\s*\w+,\s*"(buzzradar_\w+)"', fh.read()))
            for name in sorted(set(KNOWN_METRICS) - names):
                self.rep.problem(__file__, f"KNOWN_METRICS lists '{name}', which no worker/*.c registers")
            for name in sorted(names - set(KNOWN_METRICS)):
                self.rep.problem(__file__, f"the worker registers '{name}': add it to KNOWN_METRICS")
        else:
            print("  note: worker/worker_metrics.c not in this tree: metric names checked against KNOWN_METRICS only")
        run = self.p("worker", "cli_run.c")
        text = open(run, encoding="utf-8").read() if os.path.exists(run) else ""
        if text and "not implemented yet" not in text:
            sources = ""
            for d in ("worker", "consumers", "producers"):
                for f in sorted(os.listdir(self.p(d))) if os.path.isdir(self.p(d)) else []:
                    if f.endswith((".c", ".h")):
                        with open(self.p(d, f), encoding="utf-8") as fh:
                            sources += fh.read()
            for name in sorted(KNOWN_ENV - {"BUZZRADAR_RDKAFKA_DIR"}):
                if f'"{name}"' not in sources:
                    self.rep.problem(__file__, f"{name} is used by the deployment files but read by no worker source")
        else:
            print("  note: `buzzradar run` not implemented in this tree: environment names checked against DESIGN.md")

    # -- Dockerfile ----------------------------------------------------------------
    def dockerfile(self):
        path = self.p("deploy", "Dockerfile")
        try:
            raw = open(path, encoding="utf-8").read().split("\n")
        except OSError as e:
            self.rep.problem(path, f"cannot read: {e.strerror}")
            return None
        instrs, buf, start = [], "", None
        for n, line in enumerate(raw, 1):
            s = line.strip()
            if not buf and (not s or s.startswith("#")):
                continue
            if buf and s.startswith("#"):
                continue
            start = start or n
            if s.endswith("\\"):
                buf += s[:-1] + " "
                continue
            buf += s
            word, _, rest = buf.partition(" ")
            instrs.append((start, word.upper(), rest.strip()))
            buf, start = "", None
        args = {}
        stages = []  # (line, image, name, [instructions])
        for n, word, rest in instrs:
            if word == "ARG" and not stages:
                k, _, v = rest.partition("=")
                args[k] = v
            elif word == "FROM":
                m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
                image = re.sub(r"\$\{(\w+)\}", lambda x: args.get(x.group(1), ""), m.group(1)) if m else rest
                stages.append((n, image, m.group(2) if m else None, []))
            elif stages:
                stages[-1][3].append((n, word, rest))
            else:
                self.rep.problem(path, f"{word} before the first FROM", n)
        if len(stages) != 2:
            self.rep.problem(path, f"expected two stages (build, runtime), found {len(stages)}")
            return None
        for n, image, name, _ in stages:
            if image != "debian:12-slim":
                self.rep.problem(path, f"stage '{name}' is based on '{image}', not debian:12-slim", n)
        build, runtime = stages
        if build[2] != "build":
            self.rep.problem(path, "the first stage must be named 'build' (FROM ... AS build)", build[0])

        def installs(stage):
            pkgs, n0 = set(), None
            for n, word, rest in stage[3]:
                if word == "RUN":
                    for m in re.finditer(r"apt-get install ((?:-\S+\s+)*)((?:[a-z0-9][a-z0-9.+-]*\s*)+)", rest):
                        pkgs |= set(m.group(2).split())
                        n0 = n0 or n
            return pkgs, n0

        lib_flags = self.makefile_libs()
        build_pkgs, bn = installs(build)
        run_pkgs, rn = installs(runtime)
        for pkg in sorted(build_pkgs | run_pkgs):
            if pkg not in DEBIAN12_PACKAGES:
                self.rep.problem(path, f"package '{pkg}' was not checked against Debian 12: verify it with "
                                 "`apt-cache policy` and add it to DEBIAN12_PACKAGES in tests/deploy/check.py",
                                 bn if pkg in build_pkgs else rn)
        want_build = BUILD_TOOLS | {MAKEFILE_LIBS[l][0] for l in lib_flags if l in MAKEFILE_LIBS} - {None}
        want_run = RUNTIME_EXTRAS | {MAKEFILE_LIBS[l][1] for l in lib_flags if l in MAKEFILE_LIBS} - {None}
        for lib in lib_flags:
            if lib not in MAKEFILE_LIBS:
                self.rep.problem(path, f"the Makefile links -l{lib}: add its Debian packages to both stages and to "
                                 "MAKEFILE_LIBS in tests/deploy/check.py")
        for pkg in sorted(want_build - build_pkgs):
            self.rep.problem(path, f"build stage does not install '{pkg}'", bn)
        for pkg in sorted(build_pkgs - want_build):
            self.rep.problem(path, f"build stage installs '{pkg}', which the Makefile does not need", bn)
        for pkg in sorted(want_run - run_pkgs):
            self.rep.problem(path, f"runtime stage does not install '{pkg}'", rn)
        for pkg in sorted(run_pkgs - want_run):
            self.rep.problem(path, f"runtime stage installs '{pkg}', which nothing needs", rn)
        if any(p.endswith("-dev") or p in BUILD_TOOLS for p in run_pkgs):
            self.rep.problem(path, "runtime stage installs build packages", rn)

        brun = " ".join(rest for _, w, rest in build[3] if w == "RUN")
        if not re.search(r"\bmake\b[^&|;]*\bbuild/buzzradar\b", brun):
            self.rep.problem(path, "build stage does not run `make build/buzzradar`", build[0])
        if "build/.deps-ok" not in brun:
            self.rep.problem(path, "build stage does not mark the dependencies as installed (build/.deps-ok): "
                             "make would run scripts/deps.sh and install the test tools", build[0])

        def all_of(stage, word):
            return [(n, rest) for n, w, rest in stage[3] if w == word]

        copies = all_of(build, "COPY") + all_of(runtime, "COPY")
        from_build = [rest for _, rest in all_of(runtime, "COPY") if rest.startswith("--from=build")]
        for needed in ("/src/build/buzzradar", "/src/model/pretrained/"):
            if not any(needed in c.split() for c in from_build):
                self.rep.problem(path, f"runtime stage does not copy {needed} from the build stage", runtime[0])
        sources = []
        for n, rest in copies:
            parts = [x for x in rest.split() if not x.startswith("--")]
            if rest.startswith("--from"):
                continue
            for src in parts[:-1]:
                sources.append((n, src))
                if src != "." and not os.path.exists(self.p(src)):
                    self.rep.problem(path, f"COPY source '{src}' does not exist", n)
        for n, src in sources:
            if src != "." and not os.access(self.p(src), os.X_OK) and src.endswith(".sh"):
                self.rep.problem(path, f"'{src}' is not executable", n)
        self.dockerignore(["Makefile", "scripts/deps.sh", "model/util.c", "worker/main.c",
                           "model/pretrained/bilstm.model", "deploy/docker-entrypoint.sh", "deploy/healthcheck.sh"])

        users = all_of(runtime, "USER")
        if not users:
            self.rep.problem(path, "no USER in the runtime stage: the worker would run as root", runtime[0])
        else:
            n, user = users[-1]
            uid = user.split(":")[0]
            if uid in ("root", "0"):
                self.rep.problem(path, "USER is root", n)
            elif uid != str(IMAGE_UID):
                self.rep.problem(path, f"USER {user}: expected the numeric uid {IMAGE_UID} (Kubernetes' runAsNonRoot "
                                 "can only verify numeric users)", n)
            if f"--uid {IMAGE_UID}" not in " ".join(r for _, r in all_of(runtime, "RUN")):
                self.rep.problem(path, f"no user with uid {IMAGE_UID} is created (useradd --uid {IMAGE_UID})", n)
        hc = all_of(runtime, "HEALTHCHECK")
        if not hc:
            self.rep.problem(path, "no HEALTHCHECK", runtime[0])
        else:
            n, rest = hc[-1]
            m = re.search(r"CMD\s+(\[.*\])", rest)
            try:
                cmd = json.loads(m.group(1)) if m else None
            except ValueError:
                cmd = None
            if not cmd:
                self.rep.problem(path, "HEALTHCHECK must use the exec form CMD [\"...\"]", n)
            elif cmd[0] != "/usr/local/bin/buzzradar-healthcheck" or not any(
                    "deploy/healthcheck.sh" in r and "buzzradar-healthcheck" in r for _, r in copies):
                self.rep.problem(path, "HEALTHCHECK does not run deploy/healthcheck.sh (buzzradar-healthcheck)", n)
        ep = all_of(runtime, "ENTRYPOINT")
        try:
            entry = json.loads(ep[-1][1]) if ep else None
        except ValueError:
            entry = None
        if not isinstance(entry, list):
            self.rep.problem(path, "ENTRYPOINT missing or not in exec form", ep[-1][0] if ep else runtime[0])
        elif entry[-1] != "/usr/local/bin/docker-entrypoint.sh":
            self.rep.problem(path, "ENTRYPOINT does not end with the entry point script", ep[-1][0])
        cmd = all_of(runtime, "CMD")
        if not cmd or cmd[-1][1].replace(" ", "") != '["run"]':
            self.rep.problem(path, 'CMD must be ["run"]', cmd[-1][0] if cmd else runtime[0])
        envs = " ".join(r for _, r in all_of(runtime, "ENV"))
        if f"BUZZRADAR_HTTP=0.0.0.0:{HTTP_PORT}" not in envs:
            self.rep.problem(path, f"the image must set BUZZRADAR_HTTP=0.0.0.0:{HTTP_PORT} (the worker's default "
                             "listens on the loopback only)", runtime[0])
        if str(HTTP_PORT) not in " ".join(r for _, r in all_of(runtime, "EXPOSE")):
            self.rep.problem(path, f"EXPOSE {HTTP_PORT} missing", runtime[0])
        labels = " ".join(r for _, r in all_of(runtime, "LABEL"))
        for key in ("title", "description", "version", "revision"):
            if f"org.opencontainers.image.{key}=" not in labels:
                self.rep.problem(path, f"OCI label org.opencontainers.image.{key} missing", runtime[0])
        return build_pkgs, run_pkgs

    def makefile_libs(self):
        path = self.p("Makefile")
        try:
            text = open(path, encoding="utf-8").read()
        except OSError as e:
            self.rep.problem(path, f"cannot read: {e.strerror}")
            return []
        m = re.search(r"^LIBS\s*:?=(.*)$", text, re.M)
        if not m:
            self.rep.problem(path, "no LIBS line: cannot tell which libraries the image needs")
            return []
        return re.findall(r"-l(\S+)", m.group(1))

    def dockerignore(self, needed):
        path = self.p(".dockerignore")
        try:
            lines = open(path, encoding="utf-8").read().split("\n")
        except OSError:
            self.rep.problem(path, "missing: the whole tree (build/, .git) would be sent to the daemon")
            return
        rules = []
        for n, line in enumerate(lines, 1):
            s = line.strip()
            if s and not s.startswith("#"):
                neg = s.startswith("!")
                rules.append((n, neg, s.lstrip("!").strip("/")))
        for want in needed:
            excluded, by = False, None
            parts = want.split("/")
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            for n, neg, pat in rules:
                regex = fnmatch.translate(pat).replace(".*", "[^/]*").replace("[^/]*[^/]*", ".*")
                if any(re.fullmatch(regex, pre) for pre in prefixes):
                    excluded, by = not neg, n
            if excluded:
                self.rep.problem(path, f"hides '{want}', which the image build needs", by)
        for must in ("build", ".git"):
            if not any(pat == must and not neg for _, neg, pat in rules):
                self.rep.problem(path, f"does not exclude '{must}'")

    # -- docker-compose.yml -----------------------------------------------------------
    def compose(self):
        path = self.p("docker-compose.yml")
        docs = load_yaml_docs(self.rep, path)
        if not docs:
            return None
        doc = docs[0]
        services = doc.get("services") if isinstance(doc, dict) else None
        if not isinstance(services, dict) or not services:
            self.rep.problem(path, "no services")
            return None
        own_image = None
        hostports = {}
        for name, svc in services.items():
            ln = line_of(svc)
            if not isinstance(svc, dict) or not (svc.get("image") or svc.get("build")):
                self.rep.problem(path, f"service '{name}' has neither image nor build", ln)
                continue
            b = svc.get("build")
            if isinstance(b, dict) and b.get("dockerfile") == "deploy/Dockerfile":
                own_image = own_image or svc.get("image")
            elif b:
                self.rep.problem(path, f"service '{name}' builds something else than deploy/Dockerfile", ln)
            deps = svc.get("depends_on") or {}
            for dep, cond in (deps.items() if isinstance(deps, dict) else ((d, None) for d in deps)):
                if dep not in services:
                    self.rep.problem(path, f"service '{name}' depends on unknown service '{dep}'", ln)
                    continue
                c = cond.get("condition") if isinstance(cond, dict) else None
                if c not in (None, "service_started", "service_healthy", "service_completed_successfully"):
                    self.rep.problem(path, f"service '{name}': unknown depends_on condition '{c}'", line_of(cond))
                dsvc = services[dep]
                has_hc = "healthcheck" in dsvc or dig(dsvc, "build", "dockerfile") == "deploy/Dockerfile"
                if c == "service_healthy" and not has_hc:
                    self.rep.problem(path, f"service '{name}' waits for '{dep}' to be healthy, which has no healthcheck",
                                     line_of(cond))
                if c == "service_completed_successfully" and dsvc.get("restart", "no") != "no":
                    self.rep.problem(path, f"'{dep}' must not restart: '{name}' waits for it to complete", ln)
            hc = svc.get("healthcheck")
            if hc is not None and not (isinstance(hc.get("test"), list) and hc["test"][0] in ("CMD", "CMD-SHELL")):
                self.rep.problem(path, f"service '{name}': healthcheck.test must be a CMD or CMD-SHELL list", line_of(hc))
            for v in svc.get("volumes") or []:
                src = str(v).split(":")[0]
                if src.startswith("./") and not os.path.exists(self.p(src)):
                    self.rep.problem(path, f"service '{name}' mounts '{src}', which does not exist", ln)
            for p in svc.get("ports") or []:
                host = str(p).rsplit(":", 1)[0]
                if host in hostports:
                    self.rep.problem(path, f"host port {host} used by '{hostports[host]}' and '{name}'", ln)
                hostports[host] = name
        workers = {n: s for n, s in services.items() if isinstance(s, dict) and own_image and s.get("image") == own_image}
        if len(workers) < 2:
            self.rep.problem(path, f"expected two worker services of the buzzradar image, found {len(workers)}")
        kafka_adv = compose_interpolate(str(dig(services, "kafka", "environment", "KAFKA_ADVERTISED_LISTENERS") or ""), {})
        advertised = set(re.findall(r"://([^,]+)", kafka_adv))
        for name, svc in workers.items():
            env = svc.get("environment") or {}
            ln = line_of(env) or line_of(svc)
            for k in env:
                if k not in KNOWN_ENV:
                    self.rep.problem(path, f"service '{name}': unknown variable {k}", ln)
            for k in ("BUZZRADAR_BROKERS", "BUZZRADAR_REDIS", "BUZZRADAR_GROUP", "BUZZRADAR_HTTP"):
                if k not in env:
                    self.rep.problem(path, f"service '{name}' does not set {k}", ln)
            brokers = str(env.get("BUZZRADAR_BROKERS", ""))
            for b in filter(None, brokers.split(",")):
                if b not in advertised:
                    self.rep.problem(path, f"service '{name}': broker {b} is not an advertised Kafka listener "
                                     f"({', '.join(sorted(advertised)) or 'none'})", ln)
            m = re.fullmatch(r"redis://([^:/]+)(?::(\d+))?(?:/\d+)?", str(env.get("BUZZRADAR_REDIS", "")))
            if not m or m.group(1) not in services:
                self.rep.problem(path, f"service '{name}': BUZZRADAR_REDIS must be redis://SERVICE:PORT/DB", ln)
            if str(env.get("BUZZRADAR_HTTP")) != f"0.0.0.0:{HTTP_PORT}":
                self.rep.problem(path, f"service '{name}': BUZZRADAR_HTTP must be 0.0.0.0:{HTTP_PORT}", ln)
            if not any(str(p).endswith(f":{HTTP_PORT}") for p in svc.get("ports") or []):
                self.rep.problem(path, f"service '{name}' does not publish its HTTP port {HTTP_PORT}", ln)
            if not str(svc.get("stop_grace_period", "10s")).rstrip("s").isdigit() or \
                    int(str(svc.get("stop_grace_period", "10s")).rstrip("s")) < MIN_GRACE_SECONDS:
                self.rep.problem(path, f"service '{name}': stop_grace_period under {MIN_GRACE_SECONDS}s cuts the "
                                 "SIGTERM drain short", ln)
            deps = svc.get("depends_on") or {}
            if "redis" not in deps or "kafka-init" not in deps:
                self.rep.problem(path, f"service '{name}' must wait for redis and kafka-init", ln)
        topics_env = compose_interpolate(str(dig(services, "kafka-init", "environment", "TOPICS") or ""), {})
        specs = dict(s.split(":", 1) for s in topics_env.split() if ":" in s)
        if set(specs) != DEFAULT_TOPICS:
            self.rep.problem(path, f"kafka-init creates {sorted(specs)}, not the topics of DESIGN.md {sorted(DEFAULT_TOPICS)}",
                             line_of(services.get("kafka-init")))
        self.compose_doc = doc
        self.compose_workers = workers
        self.raw_partitions = int(specs.get("tweets.raw", "0") or 0)
        self.prometheus_config(self.p("deploy", "prometheus", "prometheus.yml"), workers)
        self.grafana(services)
        return doc

    def prometheus_config(self, path, workers):
        docs = load_yaml_docs(self.rep, path)
        if not docs:
            return
        jobs = {j.get("job_name"): j for j in docs[0].get("scrape_configs") or []}
        job = jobs.get("buzzradar")
        if not job:
            self.rep.problem(path, "no scrape job named 'buzzradar' (the rules select up{job=\"buzzradar\"})")
            return
        targets = {t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []}
        want = {f"{w}:{HTTP_PORT}" for w in workers}
        if targets != want:
            self.rep.problem(path, f"job buzzradar scrapes {sorted(targets)}, the compose workers are {sorted(want)}",
                             line_of(job))
        if job.get("metrics_path", "/metrics") != "/metrics":
            self.rep.problem(path, "the workers serve /metrics", line_of(job))
        if "/etc/prometheus/rules.yml" not in (docs[0].get("rule_files") or []):
            self.rep.problem(path, "rule_files does not load /etc/prometheus/rules.yml")

    def grafana(self, services):
        g = services.get("grafana") or {}
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in g.get("volumes") or []}
        dsdir = mounts.get("/etc/grafana/provisioning/datasources")
        uid = None
        if not dsdir:
            self.rep.problem(self.p("docker-compose.yml"), "grafana: no provisioned data source", line_of(g))
        else:
            for f in sorted(os.listdir(self.p(dsdir))):
                docs = load_yaml_docs(self.rep, self.p(dsdir, f)) or [{}]
                for ds in docs[0].get("datasources") or []:
                    if ds.get("type") == "prometheus":
                        uid = ds.get("uid")
                        if ds.get("url") != "http://prometheus:9090":
                            self.rep.problem(self.p(dsdir, f), "the data source must point at http://prometheus:9090",
                                             line_of(ds))
        provdir = mounts.get("/etc/grafana/provisioning/dashboards")
        paths = []
        for f in sorted(os.listdir(self.p(provdir))) if provdir else []:
            for prov in (load_yaml_docs(self.rep, self.p(provdir, f)) or [{}])[0].get("providers") or []:
                paths.append(dig(prov, "options", "path"))
        dash_mount = next((c for c, h in mounts.items() if h.endswith("buzzradar-dashboard.json")), None)
        if not dash_mount or not any(p and dash_mount.startswith(p.rstrip("/") + "/") for p in paths):
            self.rep.problem(self.p("docker-compose.yml"), "grafana: the dashboard is not mounted under a provider's path",
                             line_of(g))
        self.dashboard(uid)

    def dashboard(self, provisioned_uid):
        path = self.p("deploy", "grafana", "buzzradar-dashboard.json")
        try:
            dash = json.load(open(path, encoding="utf-8"))
        except (OSError, ValueError) as e:
            self.rep.problem(path, f"not valid JSON: {e}")
            return
        for key in ("uid", "title", "panels", "schemaVersion"):
            if key not in dash:
                self.rep.problem(path, f"no '{key}'")
        variables = {v.get("name"): v for v in dig(dash, "templating", "list", default=[])}
        dsvar = variables.get("datasource")
        if not dsvar or dsvar.get("type") != "datasource" or dsvar.get("query") != "prometheus":
            self.rep.problem(path, "no 'datasource' variable of type datasource (prometheus)")
        elif provisioned_uid and dig(dsvar, "current", "value") != provisioned_uid:
            self.rep.problem(path, f"the datasource variable defaults to '{dig(dsvar, 'current', 'value')}', "
                             f"the provisioned data source's uid is '{provisioned_uid}'")
        ids, recorded = set(), self.recorded_names()
        for p in dash.get("panels") or []:
            title = p.get("title", "?")
            if p.get("type") == "row":
                continue
            if p.get("id") in ids:
                self.rep.problem(path, f"panel '{title}': duplicate id {p.get('id')}")
            ids.add(p.get("id"))
            if dig(p, "datasource", "uid") != "${datasource}":
                self.rep.problem(path, f"panel '{title}' does not use the ${{datasource}} variable")
            gp = p.get("gridPos") or {}
            if not all(isinstance(gp.get(k), int) for k in "xywh") or gp["x"] + gp["w"] > 24:
                self.rep.problem(path, f"panel '{title}': bad gridPos {gp}")
            targets = p.get("targets") or []
            if not targets:
                self.rep.problem(path, f"panel '{title}' has no targets")
            refs = [t.get("refId") for t in targets]
            if len(set(refs)) != len(refs) or None in refs:
                self.rep.problem(path, f"panel '{title}': refIds must be present and distinct")
            for t in targets:
                if not t.get("expr"):
                    self.rep.problem(path, f"panel '{title}': target {t.get('refId')} has no expr")
                else:
                    check_promql(self.rep, path, None, t["expr"], recorded)

    # -- Prometheus rules ------------------------------------------------------------------
    def recorded_names(self):
        if not hasattr(self, "_recorded"):
            self._recorded = set()
            docs = load_yaml_docs(Report(self.root, echo=False), self.p("deploy", "prometheus", "rules.yml")) or [{}]
            for g in docs[0].get("groups") or []:
                for r in g.get("rules") or []:
                    if isinstance(r, dict) and r.get("record"):
                        self._recorded.add(r["record"])
        return self._recorded

    def rules(self):
        path = self.p("deploy", "prometheus", "rules.yml")
        docs = load_yaml_docs(self.rep, path)
        if not docs:
            return
        groups = docs[0].get("groups") if isinstance(docs[0], dict) else None
        if not groups:
            self.rep.problem(path, "no groups")
            return
        recorded, alerts = self.recorded_names(), {}
        for g in groups:
            if not g.get("name") or not g.get("rules"):
                self.rep.problem(path, "a group needs a name and rules", line_of(g))
                continue
            for r in g["rules"]:
                ln = line_of(r)
                if not isinstance(r.get("expr"), str) or not r["expr"].strip():
                    self.rep.problem(path, "rule without expr", ln)
                    continue
                check_promql(self.rep, path, ln, r["expr"], recorded)
                if "record" in r:
                    if not re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", r["record"]):
                        self.rep.problem(path, f"recording rule '{r['record']}' is not named level:metric:operations", ln)
                    continue
                name = r.get("alert")
                if not name:
                    self.rep.problem(path, "rule is neither record nor alert", ln)
                    continue
                if name in alerts:
                    self.rep.problem(path, f"alert {name} defined twice", ln)
                alerts[name] = r
                sev = dig(r, "labels", "severity")
                if sev not in ("critical", "warning"):
                    self.rep.problem(path, f"alert {name}: labels.severity must be critical or warning, not {sev!r}", ln)
                if "for" in r and not re.fullmatch(r"\d+[smhd]", str(r["for"])):
                    self.rep.problem(path, f"alert {name}: bad 'for' {r['for']!r}", ln)
                for key in ("summary", "description"):
                    if not dig(r, "annotations", key):
                        self.rep.problem(path, f"alert {name}: no annotations.{key}", ln)
                at = dig(r, "labels", "alert_type")
                if at is not None and at not in ALERT_TYPES:
                    self.rep.problem(path, f"alert {name}: alert_type '{at}' is not an alert of DESIGN.md", ln)
        # DESIGN.md's alerts, with their thresholds and durations.
        design = [
            ("BuzzradarLatencyP95Critical", r"> 0\.2(00)?\b", "10m", "critical", "job:buzzradar_end_to_end_seconds:p95_5m"),
            ("BuzzradarLatencyP95Warning", r"> 0\.150?\b", "30m", "warning", "job:buzzradar_end_to_end_seconds:p95_5m"),
            ("BuzzradarErrorRate", r"> 0\.05\b", None, "critical", "job:buzzradar_error_ratio:rate1h"),
            ("BuzzradarRedisDown", r"buzzradar_redis_up == 0", None, None, None),
            ("BuzzradarWorkerDown", r'up\{job="buzzradar"\} == 0', None, "critical", None),
            ("BuzzradarAbsent", r"absent\(", None, "critical", None),
            ("BuzzradarConsumerLagGrowing", r"deriv\(", None, None, None),
            ("BuzzradarNegativeSurge", r'type="negative_surge"', None, "critical", None),
            ("BuzzradarMisclassificationBurst", r'type="misclassification_burst"', None, "critical", None),
        ]
        for name, pattern, dur, sev, uses in design:
            r = alerts.get(name)
            if not r:
                self.rep.problem(path, f"alert {name} missing (DESIGN.md)")
                continue
            if not re.search(pattern, r["expr"]):
                self.rep.problem(path, f"alert {name}: expr does not match /{pattern}/", line_of(r))
            if dur and r.get("for") != dur:
                self.rep.problem(path, f"alert {name}: for must be {dur}", line_of(r))
            if sev and dig(r, "labels", "severity") != sev:
                self.rep.problem(path, f"alert {name}: severity must be {sev}", line_of(r))
            if uses and uses not in r["expr"]:
                self.rep.problem(path, f"alert {name} must use {uses}", line_of(r))
        rec = {r["record"]: r["expr"] for g in groups for r in g.get("rules") or [] if "record" in r}
        p95 = rec.get("job:buzzradar_end_to_end_seconds:p95_5m", "")
        if not re.search(r"histogram_quantile\(0\.95,.*buzzradar_end_to_end_seconds_bucket", p95):
            self.rep.problem(path, "job:buzzradar_end_to_end_seconds:p95_5m must be histogram_quantile(0.95, ...bucket)")
        if "[1h]" not in rec.get("job:buzzradar_error_ratio:rate1h", ""):
            self.rep.problem(path, "job:buzzradar_error_ratio:rate1h must cover one hour (DESIGN.md)")
        test = self.p("deploy", "prometheus", "rules_test.yml")
        tdocs = load_yaml_docs(self.rep, test) or [{}]
        tested = {t.get("alertname") for c in tdocs[0].get("tests") or [] for t in c.get("alert_rule_test") or []
                  if t.get("exp_alerts")}
        for name in sorted(set(alerts) - tested):
            self.rep.problem(test, f"no test shows alert {name} firing")

    # -- Kubernetes ----------------------------------------------------------------------
    def k8s(self):
        base = self.p("deploy", "k8s")
        objs = {}  # (kind, name) -> (path, obj)
        kust = None
        for dirpath, _, files in sorted(os.walk(base)):
            for f in sorted(files):
                path = os.path.join(dirpath, f)
                if not f.endswith((".yaml", ".yml")):
                    self.rep.problem(path, "not a YAML file")
                    continue
                for d in load_yaml_docs(self.rep, path) or []:
                    ln = line_of(d)
                    if not isinstance(d, dict):
                        self.rep.problem(path, "document is not a mapping", ln)
                        continue
                    for key in ("apiVersion", "kind"):
                        if not d.get(key):
                            self.rep.problem(path, f"object without {key}", ln)
                    if d.get("kind") == "Kustomization":
                        kust = (path, d)
                        continue
                    name = dig(d, "metadata", "name")
                    if not name:
                        self.rep.problem(path, "object without metadata.name", ln)
                        continue
                    if d.get("kind") != "Namespace" and dig(d, "metadata", "namespace") != NAMESPACE:
                        self.rep.problem(path, f"{d.get('kind')}/{name} is not in namespace {NAMESPACE}", ln)
                    key = (d.get("kind"), name)
                    if key in objs and not (objs[key][0] != path and "example" in path + objs[key][0]):
                        self.rep.problem(path, f"{key[0]}/{name} defined twice", ln)
                    objs.setdefault(key, (path, d))
                    if key[0] == "Secret":
                        objs[("Secret", name)] = (path, d)
        if not kust:
            self.rep.problem(base, "no kustomization.yaml")
        else:
            listed = set(kust[1].get("resources") or [])
            top = {f for f in os.listdir(base) if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml"}
            for f in sorted(listed - top):
                self.rep.problem(kust[0], f"resource {f} does not exist", line_of(kust[1]))
            for f in sorted(top - listed):
                self.rep.problem(kust[0], f"{f} is not listed in resources (optional objects belong in extras/)")
            if kust[1].get("namespace") != NAMESPACE:
                self.rep.problem(kust[0], f"namespace must be {NAMESPACE}")

        def get(kind, name=None):
            for (k, n), v in objs.items():
                if k == kind and (name is None or n == name):
                    return v
            self.rep.problem(base, f"no {kind}{'/' + name if name else ''}")
            return None, None

        for kind in ("Namespace", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
                     "HorizontalPodAutoscaler", "ServiceMonitor", "Secret"):
            get(kind)
        dpath, dep = get("Deployment", "buzzradar")
        if not dep:
            return
        spec = dep.get("spec") or {}
        tmpl = dig(spec, "template", "metadata", "labels", default={})
        sel = dig(spec, "selector", "matchLabels", default={})
        if not sel or any(tmpl.get(k) != v for k, v in sel.items()):
            self.rep.problem(dpath, "selector.matchLabels does not match the pod template's labels", line_of(spec))
        if spec.get("replicas") != 2:
            self.rep.problem(dpath, "replicas must be 2", line_of(spec))
        pod = dig(spec, "template", "spec", default={})
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if not isinstance(grace, int) or grace < MIN_GRACE_SECONDS:
            self.rep.problem(dpath, f"terminationGracePeriodSeconds must leave {MIN_GRACE_SECONDS}s or more to drain",
                             line_of(pod))
        psc = pod.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True or psc.get("runAsUser") != IMAGE_UID:
            self.rep.problem(dpath, f"pod securityContext: runAsNonRoot true and runAsUser {IMAGE_UID} (the image's uid)",
                             line_of(psc))
        if dig(psc, "seccompProfile", "type") != "RuntimeDefault":
            self.rep.problem(dpath, "pod securityContext: seccompProfile RuntimeDefault (restricted policy)", line_of(psc))
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        containers = pod.get("containers") or []
        if len(containers) != 1:
            self.rep.problem(dpath, "expected one container", line_of(pod))
        for c in containers:
            ln = line_of(c)
            ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
            if ports.get("http") != HTTP_PORT:
                self.rep.problem(dpath, f"container port 'http' must be {HTTP_PORT}", ln)
            for probe, want in (("livenessProbe", HEALTH_PATH), ("readinessProbe", READY_PATH),
                                ("startupProbe", HEALTH_PATH)):
                hg = dig(c, probe, "httpGet")
                if not hg:
                    self.rep.problem(dpath, f"no {probe}.httpGet", ln)
                    continue
                if hg.get("path") != want:
                    self.rep.problem(dpath, f"{probe} must GET {want}, not {hg.get('path')}", line_of(hg))
                if hg.get("port") not in ports and hg.get("port") not in ports.values():
                    self.rep.problem(dpath, f"{probe} port {hg.get('port')} is not a container port", line_of(hg))
            env = {e.get("name"): e.get("value") for e in c.get("env") or []}
            for k in env:
                if k not in KNOWN_ENV:
                    self.rep.problem(dpath, f"unknown variable {k}", ln)
            if env.get("BUZZRADAR_HTTP") != f"0.0.0.0:{HTTP_PORT}":
                self.rep.problem(dpath, f"BUZZRADAR_HTTP must be 0.0.0.0:{HTTP_PORT} for probes and Prometheus", ln)
            for src in c.get("envFrom") or []:
                if "configMapRef" in src:
                    _, cm = get("ConfigMap", dig(src, "configMapRef", "name"))
                    if cm:
                        self.configmap(objs[("ConfigMap", cm["metadata"]["name"])][0], cm)
                elif "secretRef" in src and dig(src, "secretRef", "optional") is not True:
                    self.rep.problem(dpath, "a secretRef in envFrom must be optional (the example is not applied)", ln)
            if c.get("args") != ["run"]:
                self.rep.problem(dpath, 'args must be ["run"]', ln)
            res = c.get("resources") or {}
            for kind, parse, unit in (("memory", parse_memory_mib, "MiB"), ("cpu", parse_cpu, "")):
                req, lim = dig(res, "requests", kind), dig(res, "limits", kind)
                if req is None:
                    self.rep.problem(dpath, f"no resources.requests.{kind}", line_of(res))
                    continue
                if parse(req) is None or (lim is not None and parse(lim) is None):
                    self.rep.problem(dpath, f"bad {kind} quantity", line_of(res))
                    continue
                if lim is not None and parse(lim) < parse(req):
                    self.rep.problem(dpath, f"{kind} limit below its request", line_of(res))
                if kind == "memory" and parse(req) < MODEL_SERVING_MIB + RDKAFKA_PREFETCH_MIB:
                    self.rep.problem(dpath, f"memory request {req} is below the model's {MODEL_SERVING_MIB} MiB plus "
                                     f"librdkafka's {RDKAFKA_PREFETCH_MIB} MiB prefetch", line_of(res))
            if dig(res, "limits", "memory") is None:
                self.rep.problem(dpath, "no memory limit", line_of(res))
            sc = c.get("securityContext") or {}
            if sc.get("readOnlyRootFilesystem") is not True or sc.get("allowPrivilegeEscalation") is not False \
                    or dig(sc, "capabilities", "drop") != ["ALL"]:
                self.rep.problem(dpath, "container securityContext: read-only root, no privilege escalation, drop ALL",
                                 line_of(sc) or ln)
            mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
            for mp, name in mounts.items():
                if name not in volumes:
                    self.rep.problem(dpath, f"volumeMount {mp} uses undefined volume {name}", ln)
            rd = volumes.get(mounts.get(RDKAFKA_DIR))
            if not rd or dig(rd, "secret", "optional") is not True:
                self.rep.problem(dpath, f"{RDKAFKA_DIR} must be an optional Secret volume (librdkafka properties)", ln)
            else:
                self.kafka_secret(objs.get(("Secret", dig(rd, "secret", "secretName"))))
            if "/tmp" not in mounts:
                self.rep.problem(dpath, "a read-only root needs a writable /tmp volume", ln)
        pod_labels = tmpl
        spath, svc = get("Service", "buzzradar")
        if svc:
            ss = svc.get("spec") or {}
            if not ss.get("selector") or any(pod_labels.get(k) != v for k, v in ss["selector"].items()):
                self.rep.problem(spath, "selector does not select the Deployment's pods", line_of(ss))
            names = [p.get("name") for p in ss.get("ports") or []]
            if not any(p.get("targetPort") in ("http", HTTP_PORT) for p in ss.get("ports") or []):
                self.rep.problem(spath, "no port targets the container's http port", line_of(ss))
            mpath, mon = get("ServiceMonitor")
            if mon:
                ms = mon.get("spec") or {}
                lab = dig(svc, "metadata", "labels", default={})
                if any(lab.get(k) != v for k, v in dig(ms, "selector", "matchLabels", default={}).items()):
                    self.rep.problem(mpath, "selector does not select the Service", line_of(ms))
                for ep in ms.get("endpoints") or []:
                    if ep.get("port") not in names or ep.get("path", "/metrics") != "/metrics":
                        self.rep.problem(mpath, "endpoint must scrape the Service's http port at /metrics", line_of(ep))
                if svc["metadata"]["name"] != "buzzradar":
                    self.rep.problem(mpath, "the job label (the Service's name) must be buzzradar for the rules")
        ppath, pdb = get("PodDisruptionBudget")
        if pdb and any(pod_labels.get(k) != v for k, v in dig(pdb, "spec", "selector", "matchLabels", default={}).items()):
            self.rep.problem(ppath, "selector does not select the Deployment's pods", line_of(pdb))
        hpath, hpa = get("HorizontalPodAutoscaler")
        if hpa:
            hs = hpa.get("spec") or {}
            ref = hs.get("scaleTargetRef") or {}
            if ref.get("kind") != "Deployment" or ref.get("name") != "buzzradar":
                self.rep.problem(hpath, "scaleTargetRef must be Deployment/buzzradar", line_of(hs))
            lo, hi = hs.get("minReplicas", 1), hs.get("maxReplicas")
            if not isinstance(hi, int) or lo > hi or lo < 2:
                self.rep.problem(hpath, "need 2 <= minReplicas <= maxReplicas", line_of(hs))
            elif getattr(self, "raw_partitions", 0) and hi > self.raw_partitions:
                self.rep.problem(hpath, f"maxReplicas {hi} exceeds the {self.raw_partitions} partitions of tweets.raw: "
                                 "the extra workers would idle", line_of(hs))
            if not any(dig(m, "resource", "name") == "cpu" for m in hs.get("metrics") or []):
                self.rep.problem(hpath, "no CPU metric", line_of(hs))
        kpath, keda = objs.get(("ScaledObject", "buzzradar"), (None, None))
        if keda:
            md = dig(keda, "spec", "triggers", 0, "metadata", default={})
            if md.get("topic") != "tweets.raw" or md.get("consumerGroup") != "buzzradar":
                self.rep.problem(kpath, "the kafka trigger must watch tweets.raw for group buzzradar", line_of(keda))

    def configmap(self, path, cm):
        for k, v in (cm.get("data") or {}).items():
            if not isinstance(v, str):
                self.rep.problem(path, f"data.{k} must be a string (Kubernetes rejects {type(v).__name__})", line_of(cm))
            if k not in KNOWN_ENV:
                self.rep.problem(path, f"unknown variable {k}", line_of(cm))
        for k in ("BUZZRADAR_BROKERS", "BUZZRADAR_REDIS", "BUZZRADAR_GROUP", "BUZZRADAR_THREADS"):
            if k not in (cm.get("data") or {}):
                self.rep.problem(path, f"{k} missing", line_of(cm))

    def kafka_secret(self, found):
        if not found:
            self.rep.problem(self.p("deploy", "k8s"), "no example of the librdkafka Secret the Deployment mounts")
            return
        path, sec = found
        data = {**(sec.get("stringData") or {}), **(sec.get("data") or {})}
        for k in data:
            if not PROPERTY_NAME.match(k):
                self.rep.problem(path, f"key '{k}' is not a librdkafka property name: the entry point would skip it",
                                 line_of(sec))
        for k in ("security.protocol", "sasl.mechanisms", "sasl.username", "sasl.password"):
            if k not in data:
                self.rep.problem(path, f"the SASL example lacks {k}", line_of(sec))

    def run(self):
        self.check_against_sources()
        self.dockerfile()
        self.rules()
        self.compose()
        self.k8s()


# ---- scripts: the image's shell scripts and the compose snippets, run for real ----------


def run_cmd(argv, env=None, timeout=20, **kw):
    return subprocess.run(argv, env=env, timeout=timeout, capture_output=True, text=True, **kw)


def check_entrypoint(root, rep):
    script = os.path.join(root, "deploy", "docker-entrypoint.sh")
    if not os.access(script, os.X_OK):
        rep.problem(script, "not executable (git update-index --chmod=+x)")
        return
    with tempfile.TemporaryDirectory(prefix="bz-entry-") as tmp:
        bindir, out = os.path.join(tmp, "bin"), os.path.join(tmp, "argv")
        os.mkdir(bindir)
        fake = os.path.join(bindir, "buzzradar")
        with open(fake, "w") as f:
            f.write('#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done > "$ARGV_OUT"\n')
        os.chmod(fake, 0o755)
        props = os.path.join(tmp, "rdkafka")
        os.mkdir(props)
        # What a Kubernetes Secret volume looks like: ..data/ with the files, links to it.
        data = os.path.join(props, "..2026_01_01_00_00_00.000")
        os.mkdir(data)
        files = {"sasl.username": "buzzradar\n", "sasl.password": "p a$s'w\"d\n\n", "bad name": "x",
                 "ssl.ca.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}
        for k, v in files.items():
            with open(os.path.join(data, k), "w") as f:
                f.write(v)
        os.symlink(os.path.basename(data), os.path.join(props, "..data"))
        for k in files:
            os.symlink(os.path.join("..data", k), os.path.join(props, k))
        os.mkdir(os.path.join(props, "subdir"))
        env = dict(os.environ, PATH=bindir + ":/usr/bin:/bin", ARGV_OUT=out, BUZZRADAR_RDKAFKA_DIR=props, LC_ALL="C")
        cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
        fromfiles = ["-X", "sasl.password=p a$s'w\"d", "-X", "sasl.username=buzzradar", "-X", f"ssl.ca.pem={cert}"]
        cases = [
            (["run", "--threads", "4", "-X", "sasl.username=override"], None,
             ["run"] + fromfiles + ["--threads", "4", "-X", "sasl.username=override"]),
            (["tail", "--count", "3"], None, ["tail"] + fromfiles + ["--count", "3"]),
            (["run"], None, ["run"] + fromfiles),
            (["predict", "bad flight", "-X"], None, ["predict", "bad flight", "-X"]),
            (["run", "--group", "g"], os.path.join(tmp, "missing"), ["run", "--group", "g"]),
            ([], None, []),
        ]
        for args, folder, want in cases:
            e = dict(env, BUZZRADAR_RDKAFKA_DIR=folder) if folder else env
            if os.path.exists(out):
                os.unlink(out)
            r = run_cmd([script] + args, env=e)
            got = open(out).read().split("\0")[:-1] if os.path.exists(out) else None
            if r.returncode != 0 or got != want:
                rep.problem(script, f"with arguments {args}: buzzradar got {got} (exit {r.returncode}), expected {want}")
            skipped = "skipping" in r.stderr and "bad name" in r.stderr
            if args[:1] in (["run"], ["tail"]) and not folder and not skipped:
                rep.problem(script, "a file whose name is not a property must be skipped with a warning")


class _HealthHandler(http.server.BaseHTTPRequestHandler):
    status = 200
    paths = []

    def do_GET(self):  # noqa: N802 - the http.server API
        type(self).paths.append(self.path)
        body = b'{"status":"ok"}'
        self.send_response(type(self).status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except ConnectionError:
            pass  # the health check reads the status line and hangs up

    def log_message(self, *args):
        pass


def check_healthcheck(root, rep):
    script = os.path.join(root, "deploy", "healthcheck.sh")
    if not os.access(script, os.X_OK):
        rep.problem(script, "not executable")
        return
    if not shutil.which("bash"):
        rep.problem(script, "bash is missing")
        return
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HealthHandler)
    port = server.server_address[1]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts, never answers
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: connection refused
    try:
        env = dict(os.environ)
        env.pop("BUZZRADAR_HTTP", None)
        cases = [
            ("200 on /health", 200, [f"127.0.0.1:{port}"], {}, 0),
            ("address from BUZZRADAR_HTTP=0.0.0.0:PORT", 200, [], {"BUZZRADAR_HTTP": f"0.0.0.0:{port}"}, 0),
            ("address from BUZZRADAR_HTTP=:PORT", 200, [], {"BUZZRADAR_HTTP": f":{port}"}, 0),
            ("503", 503, [f"127.0.0.1:{port}"], {}, 1),
            ("500", 500, [f"localhost:{port}"], {}, 1),
            ("nothing listening", 200, [f"127.0.0.1:{closed.getsockname()[1]}"], {}, 1),
            ("bad address", 200, ["127.0.0.1:http"], {}, 1),
        ]
        for what, status, args, extra, want in cases:
            _HealthHandler.status, _HealthHandler.paths = status, []
            r = run_cmd([script] + args, env=dict(env, **extra), timeout=10)
            if r.returncode != want:
                rep.problem(script, f"{what}: exit {r.returncode}, expected {want} ({r.stderr.strip()})")
            if want == 0 and _HealthHandler.paths != [HEALTH_PATH]:
                rep.problem(script, f"{what}: requested {_HealthHandler.paths}, expected [{HEALTH_PATH}]")
        start = time.monotonic()
        r = run_cmd([script, f"127.0.0.1:{silent.getsockname()[1]}"], env=env, timeout=10)
        took = time.monotonic() - start
        # The image's HEALTHCHECK --timeout is 5 s: the script must give up before.
        if r.returncode != 1 or took > 4.5:
            rep.problem(script, f"a server that never answers: exit {r.returncode} after {took:.1f}s, expected 1 "
                        "within the HEALTHCHECK timeout")
    finally:
        server.shutdown()
        server.server_close()
        silent.close()
        closed.close()


def check_compose_snippets(root, rep):
    path = os.path.join(root, "docker-compose.yml")
    docs = load_yaml_docs(rep, path)
    if not docs:
        return
    services = docs[0].get("services") or {}
    with tempfile.TemporaryDirectory(prefix="bz-compose-") as tmp:
        # kafka-init: the topics and their partitions, through a stub kafka-topics.sh.
        init = services.get("kafka-init") or {}
        log = os.path.join(tmp, "topics.log")
        stub = os.path.join(tmp, "kafka-topics.sh")
        with open(stub, "w") as f:
            f.write(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\n')
        os.chmod(stub, 0o755)
        cmd = compose_interpolate((init.get("command") or [""])[0], {}).replace("/opt/kafka/bin/kafka-topics.sh", stub)
        env = {k: compose_interpolate(str(v), {}) for k, v in (init.get("environment") or {}).items()}
        r = run_cmd(list(init.get("entrypoint") or []) + [cmd], env=dict(os.environ, **env))
        created = {}
        for line in open(log).read().splitlines() if os.path.exists(log) else []:
            if "--create" in line:
                m = re.search(r"--topic (\S+) --partitions (\d+) --replication-factor 1\b", line)
                if not m or "--if-not-exists" not in line:
                    rep.problem(path, f"kafka-init: unexpected command '{line}'", line_of(init))
                else:
                    created[m.group(1)] = int(m.group(2))
        if r.returncode != 0 or set(created) != DEFAULT_TOPICS or min(created.values() or [0]) < 1:
            rep.problem(path, f"kafka-init created {created} (exit {r.returncode}: {r.stderr.strip()[:200]}), "
                        f"expected the topics {sorted(DEFAULT_TOPICS)}", line_of(init))
        elif created["tweets.raw"] < 2:
            rep.problem(path, "tweets.raw needs a partition per worker at least", line_of(init))
        # replay: every line reaches the console producer, in order (the first 40 demo
        # tweets: one `sleep` per line makes the whole file slow); and every demo tweet
        # is a valid tweets.raw message.
        demo_file = os.path.join(root, "scripts", "demo", "airparadis.jsonl")
        lines = open(demo_file, encoding="utf-8").read().splitlines()
        for n, line in enumerate(lines, 1):
            try:
                tweet = json.loads(line)
            except ValueError:
                tweet = None
            if not isinstance(tweet, dict) or not tweet.get("id") or not tweet.get("text"):
                rep.problem(demo_file, "not a tweet with id and text", n)
        sample = os.path.join(tmp, "sample.jsonl")
        with open(sample, "w", encoding="utf-8") as f:
            f.write("\n".join(lines[:40]) + "\n")
        replay = services.get("replay") or {}
        got = os.path.join(tmp, "produced")
        stub = os.path.join(tmp, "kafka-console-producer.sh")
        with open(stub, "w") as f:
            f.write(f'#!/bin/sh\ncat > {got}\n')
        os.chmod(stub, 0o755)
        cmd = compose_interpolate((replay.get("command") or [""])[0], {})
        cmd = cmd.replace("/opt/kafka/bin/kafka-console-producer.sh", stub)
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in replay.get("volumes") or []}
        env = {k: compose_interpolate(str(v), {}) for k, v in (replay.get("environment") or {}).items()}
        in_container = env.get("REPLAY_FILE", "")
        if not any(in_container.startswith(c + "/") and os.path.exists(os.path.join(root, h, in_container[len(c) + 1:]))
                   for c, h in mounts.items()):
            rep.problem(path, f"replay: REPLAY_FILE {in_container} is not a mounted file", line_of(replay))
        env.update(REPLAY_INTERVAL="0", REPLAY_FILE=sample)
        r = run_cmd(list(replay.get("entrypoint") or []) + [cmd], env=dict(os.environ, **env))
        want = open(sample, encoding="utf-8").read()
        have = open(got, encoding="utf-8").read() if os.path.exists(got) else ""
        if r.returncode != 0 or have.splitlines() != want.splitlines():
            rep.problem(path, f"replay sent {len(have.splitlines())} of {len(want.splitlines())} tweets "
                        f"(exit {r.returncode}: {r.stderr.strip()[:200]})", line_of(replay))


# ---- promtool -------------------------------------------------------------------------


def check_promtool(root, rep, promtool):
    prom = os.path.join(root, "deploy", "prometheus")
    rules = os.path.join(prom, "rules.yml")
    r = run_cmd([promtool, "check", "rules", rules], timeout=60)
    if r.returncode != 0:
        rep.problem(rules, "promtool check rules: " + (r.stdout + r.stderr).strip().replace("\n", " | "))
    r = run_cmd([promtool, "test", "rules", "rules_test.yml"], cwd=prom, timeout=120)
    if r.returncode != 0:
        rep.problem(os.path.join(prom, "rules_test.yml"), "promtool test rules:\n" + (r.stdout + r.stderr).strip())
    with tempfile.TemporaryDirectory(prefix="bz-prom-") as tmp:
        for name in ("prometheus.yml", "scrape-kubernetes.yml"):
            src = os.path.join(prom, name)
            text = open(src, encoding="utf-8").read().replace("/etc/prometheus/rules.yml", rules)
            dst = os.path.join(tmp, name)
            with open(dst, "w", encoding="utf-8") as f:
                f.write(text)
            r = run_cmd([promtool, "check", "config", dst], timeout=60)
            if r.returncode != 0 and "field kubernetes_sd_configs not found" in r.stdout + r.stderr:
                # Debian builds Prometheus without Kubernetes service discovery.
                print(f"  note: this promtool has no Kubernetes discovery: {name} checked as YAML only")
                continue
            if r.returncode != 0:
                rep.problem(src, "promtool check config: " + (r.stdout + r.stderr).strip().replace("\n", " | "))


# ---- binary: the runtime packages cover every shared library --------------------------


def check_binary(root, rep, binary):
    dockerfile = os.path.join(root, "deploy", "Dockerfile")
    pkgs = Deploy(root, Report(root, echo=False)).dockerfile()
    if not pkgs:
        rep.problem(dockerfile, "cannot read the runtime packages")
        return
    runtime = pkgs[1] | BASE_IMAGE_PACKAGES
    out = run_cmd(["objdump", "-p", binary]).stdout
    needed = re.findall(r"^\s*NEEDED\s+(\S+)", out, re.M)
    if not needed:
        rep.problem(binary, "objdump shows no NEEDED library: not a dynamic executable?")
        return
    # Where the dynamic loader finds each library, as ldd reports it.
    cache = dict(re.findall(r"^\s*(\S+) => (/\S+)", run_cmd(["ldd", binary]).stdout, re.M))
    for soname in needed:
        if re.match(r"lib(a|ub|t|l|hwa)san\.so", soname):
            continue  # sanitizer builds: their runtimes are not image dependencies
        lib = cache.get(soname)
        if not lib:
            rep.problem(binary, f"{soname}: the dynamic loader does not find it (ldd)")
            continue
        owner = None
        for cand in dict.fromkeys([lib, os.path.realpath(lib)]):
            for alt in (cand, re.sub(r"^/usr/lib/", "/lib/", cand), re.sub(r"^/lib/", "/usr/lib/", cand)):
                r = run_cmd(["dpkg", "-S", alt])
                if r.returncode == 0:
                    owner = r.stdout.split(":")[0].strip()
                    break
            if owner:
                break
        if not owner:
            rep.problem(binary, f"{soname} ({lib}): no Debian package owns it")
        elif owner not in runtime:
            rep.problem(dockerfile, f"{binary} needs {soname} from package {owner}, which the runtime stage does "
                        "not install")
        else:
            print(f"  ok {soname} <- {owner}")


# ---- main --------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sections", nargs="*", choices=["static", "scripts", "promtool", "binary", []],
                    help="what to check (default: everything)")
    ap.add_argument("--root", default=os.environ.get("BUZZRADAR_ROOT")
                    or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    ap.add_argument("--binary", default=os.environ.get("BUZZRADAR_BIN"))
    args = ap.parse_args()
    sections = args.sections or ["static", "scripts", "promtool", "binary"]
    root = os.path.abspath(args.root)
    rep = Report(root)
    ran = skipped = 0
    for s in sections:
        print(f"== {s}")
        if s == "static":
            Deploy(root, rep).run()
        elif s == "scripts":
            check_entrypoint(root, rep)
            check_healthcheck(root, rep)
            check_compose_snippets(root, rep)
        elif s == "promtool":
            promtool = os.environ.get("PROMTOOL") or shutil.which("promtool")
            if not promtool:
                print("  skipped: promtool not found (Debian package prometheus)")
                skipped += 1
                continue
            check_promtool(root, rep, promtool)
        elif s == "binary":
            tools = [t for t in ("objdump", "ldd", "dpkg") if not shutil.which(t)]
            if not args.binary or not os.path.exists(args.binary) or tools:
                why = f"{', '.join(tools)} missing" if tools else f"no binary ({args.binary or 'BUZZRADAR_BIN unset'})"
                print(f"  skipped: {why}")
                skipped += 1
                continue
            check_binary(root, rep, args.binary)
        ran += 1
    print(f"deploy checks: {len(rep.problems)} problem(s), {ran} section(s) run, {skipped} skipped")
    if rep.problems:
        return 1
    return 77 if ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
