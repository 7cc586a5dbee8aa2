"""Offline checks of the dashboards, alerts and scrape configuration (no cluster, no Prometheus).

    python deploy/check_monitoring.py rendered-monitoring.yaml docker-compose.yml

rendered-monitoring.yaml is `kubectl kustomize deploy/k8s-monitoring` (deploy/k8s plus the
operator's objects and the request-rate HPA). Checks:
- every PromQL expression (Grafana dashboard, alert rules, prometheus-adapter rule) parses
  (PyPI promql-parser) and names only metrics of docs/observability.md's tables (histograms
  with _bucket/_sum/_count) or `up`, and only labels those metrics have (plus the target
  labels job, instance, service, namespace, pod, container, endpoint, and le for buckets);
- the PodMonitors and the PrometheusRule validate against the operator's CRD schemas
  (deploy/schemas, unknown fields refused), and the PrometheusRule's groups are those of
  deploy/prometheus/rules/hifive.rules.yml;
- every alert has a severity and a summary and description, the docs it names exist, and the
  alerts the saga needs are there;
- every service's Deployment is annotated for scraping on the port that serves GET /metrics
  (the gateway's management port), the PodMonitors select the same ports, and
  prometheus-compose.yml scrapes the same ports in compose;
- the monitoring HPA keeps CPU 15% and adds the adapter's per-pod request rate;
- the dashboard's panels use the templated data source, and it shows the saga's signals;
- compose runs Prometheus and Grafana only in the `monitoring` profile, with files that exist.
"""

import copy
import json
import re
import sys
from pathlib import Path

import jsonschema
import promql_parser
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SERVICES = ["conference", "pay", "room", "customer-center", "gateway"]
TARGET_LABELS = {"job", "instance", "service", "namespace", "pod", "container", "endpoint"}
DASHBOARD = DEPLOY / "grafana" / "hifive-saga.json"
RULES = DEPLOY / "prometheus" / "rules" / "hifive.rules.yml"
ADAPTER = DEPLOY / "prometheus-adapter" / "values.yaml"
# What the dashboard must show, and what the alerts must watch (issue 13).
DASHBOARD_METRICS = {
    "hifive_bookings_total", "hifive_saga_step_seconds_bucket",
    "http_server_request_duration_seconds_bucket", "hifive_consumer_lag",
    "hifive_outbox_backlog", "hifive_outbox_oldest_age_seconds", "hifive_pay_breaker_state",
    "hifive_pay_breaker_transitions_total", "hifive_pay_bulkhead_in_use", "hifive_refusals_total",
    "hifive_events_dead_lettered_total",
}
ALERT_METRICS = {
    "hifive_consumer_stalled", "hifive_outbox_oldest_age_seconds",
    "hifive_events_dead_lettered_total", "hifive_pay_breaker_state", "up",
    "hifive_saga_step_seconds_bucket",
}
SEVERITIES = {"critical", "warning", "info"}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def catalogue():
    """{metric: (type, labels)} from the tables of docs/observability.md."""
    metrics = {}
    for line in (ROOT / "docs" / "observability.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([a-z_:][a-z0-9_:]*)`", cells[0])
        kind = cells[1]
        labels = set(re.findall(r"`([a-z_][a-z0-9_]*)`", re.sub(r"\([^)]*\)", "", cells[2])))
        for name in names:
            old_kind, old_labels = metrics.get(name, (None, set()))
            if kind == "as above":
                check(old_kind, f"docs/observability.md: {name} 'as above' but not above")
                kind_here = old_kind
            else:
                kind_here = kind
            metrics[name] = (kind_here, old_labels | labels)
    return metrics


def series_labels(metrics, name):
    """Labels a series of that name has, or None when the name is not a known series."""
    if name == "up":
        return set(TARGET_LABELS)
    if name in metrics:
        kind, labels = metrics[name]
        return None if kind == "histogram" else labels | TARGET_LABELS
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and metrics.get(base, ("",))[0] == "histogram":
            extra = {"le"} if suffix == "_bucket" else set()
            return metrics[base][1] | TARGET_LABELS | extra
    return None


def walk(node, selectors, grouping):
    """Collect the vector selectors and the grouping/matching label lists of an expression."""
    kind = type(node).__name__
    if kind == "VectorSelector":
        selectors.append(node)
    elif kind == "MatrixSelector":
        selectors.append(node.vector_selector)
    elif kind == "AggregateExpr":
        if node.modifier is not None:
            grouping.extend(node.modifier.labels)
        walk(node.expr, selectors, grouping)
        if node.param is not None:
            walk(node.param, selectors, grouping)
    elif kind == "BinaryExpr":
        matching = node.modifier.matching if node.modifier is not None else None
        if matching is not None:
            grouping.extend(matching.labels)
        walk(node.lhs, selectors, grouping)
        walk(node.rhs, selectors, grouping)
    elif kind == "Call":
        for arg in node.args:
            walk(arg, selectors, grouping)
    elif kind in ("ParenExpr", "UnaryExpr", "SubqueryExpr"):
        walk(node.expr, selectors, grouping)
    elif kind not in ("NumberLiteral", "StringLiteral"):
        failures.append(f"PromQL: unexpected node {kind} (update deploy/check_monitoring.py)")


def check_promql(where, expr, metrics):
    """Parse an expression and check its metric and label names against the catalogue."""
    # Grafana's variables: $__rate_interval and friends are durations, the others are values.
    text = re.sub(r"\$__(rate_)?interval|\$\{__(rate_)?interval\}", "5m", expr)
    text = re.sub(r"\$\{?[A-Za-z_]\w*\}?", "x", text)
    try:
        ast = promql_parser.parse(text)
    except Exception as e:  # the parser raises ValueError with the reason
        failures.append(f"{where}: PromQL does not parse ({e}): {expr}")
        return set()
    selectors, grouping = [], []
    walk(ast, selectors, grouping)
    names, known = set(), set()
    for sel in selectors:
        name = sel.name
        check(name, f"{where}: a selector without a metric name: {expr}")
        if not name:
            continue
        names.add(name)
        labels = series_labels(metrics, name)
        if not check(labels is not None,
                     f"{where}: metric {name} is not in docs/observability.md: {expr}"):
            continue
        known |= labels
        for m in sel.matchers.matchers:
            check(m.name in labels | {"__name__"},
                  f"{where}: {name} has no label {m.name!r}: {expr}")
    for label in grouping:
        check(label in known, f"{where}: no metric of the expression has label {label!r}: {expr}")
    return names


def schema_strict(schema):
    """A CRD schema that refuses unknown fields, as `kubectl apply --validate=strict` does."""
    schema = copy.deepcopy(schema)

    def tighten(s):
        if isinstance(s, dict):
            if ("properties" in s and "additionalProperties" not in s
                    and not s.get("x-kubernetes-preserve-unknown-fields")):
                s["additionalProperties"] = False
            for v in s.values():
                tighten(v)
        elif isinstance(s, list):
            for v in s:
                tighten(v)

    tighten(schema)
    schema.pop("$comment", None)
    return schema


def load_schema(kind):
    return schema_strict(json.loads((DEPLOY / "schemas" / f"monitoring.coreos.com_{kind}.json").read_text()))


def container_ports(dep):
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return c, {p.get("name"): p["containerPort"] for p in c.get("ports", [])}


def env_value(container, name):
    for e in container.get("env", []):
        if e["name"] == name:
            return e.get("value")
    return None


def main(rendered, compose_file):
    metrics = catalogue()
    check(len(metrics) >= 25, f"docs/observability.md: only {len(metrics)} metrics read from its tables")
    for name, (kind, _) in metrics.items():
        check(kind in ("counter", "gauge", "histogram"), f"docs/observability.md: {name}: type {kind!r}")
    check("/metrics" in (ROOT / "hifive-common" / "src" / "metrics.rs").read_text(),
          "hifive-common does not serve /metrics")

    docs = [d for d in yaml.safe_load_all(Path(rendered).read_text()) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        check(d.get("metadata", {}).get("namespace") == "hifive" or d["kind"] == "Namespace",
              f"{d['kind']} {d['metadata']['name']}: not in namespace hifive")

    # --- Scrape targets: annotations, PodMonitors, compose ---------------------------------
    metrics_port = {}
    for name, dep in by_kind.get("Deployment", {}).items():
        ann = dep["spec"]["template"]["metadata"].get("annotations", {})
        c, ports = container_ports(dep)
        if name not in SERVICES:
            check(ann.get("prometheus.io/scrape") == "false",
                  f"{name}: serves no /metrics, so prometheus.io/scrape must be \"false\"")
            continue
        port_name = "management" if name == "gateway" else "http"
        port = ports.get(port_name)
        metrics_port[name] = (port_name, port)
        if name == "gateway":
            check(str(port) == env_value(c, "MANAGEMENT_PORT"),
                  "gateway: container port management must be MANAGEMENT_PORT")
        check(ann.get("prometheus.io/scrape") == "true", f"{name}: prometheus.io/scrape must be \"true\"")
        check(ann.get("prometheus.io/port") == str(port),
              f"{name}: prometheus.io/port must be {port} (its {port_name} port)")
        check(ann.get("prometheus.io/path") == "/metrics", f"{name}: prometheus.io/path must be /metrics")
    check(set(metrics_port) == set(SERVICES), f"Deployments of {set(SERVICES) - set(metrics_port)} missing")

    pod_monitor_schema = load_schema("podmonitors")
    scraped = {}
    for name, pm in by_kind.get("PodMonitor", {}).items():
        check(pm["apiVersion"] == "monitoring.coreos.com/v1", f"PodMonitor {name}: apiVersion")
        for err in jsonschema.Draft7Validator(pod_monitor_schema).iter_errors(pm):
            failures.append(f"PodMonitor {name}: {'.'.join(map(str, err.absolute_path))}: {err.message}")
        sel = pm["spec"]["selector"]
        apps = set(sel.get("matchLabels", {}).values()) if "matchLabels" in sel else set()
        for expr in sel.get("matchExpressions", []):
            if expr["key"] == "app" and expr["operator"] == "In":
                apps |= set(expr["values"])
        for endpoint in pm["spec"]["podMetricsEndpoints"]:
            relabeled = {r.get("targetLabel") for r in endpoint.get("relabelings", [])}
            check({"job", "service"} <= relabeled, f"PodMonitor {name}: must set job and service")
            check(endpoint.get("honorLabels") is True, f"PodMonitor {name}: honorLabels (the services' own `service`)")
            for app in apps:
                scraped.setdefault(app, []).append((endpoint.get("port"), endpoint.get("path")))
    for service, (port_name, _) in metrics_port.items():
        check(scraped.get(service) == [(port_name, "/metrics")],
              f"PodMonitors must scrape {service} once, on port {port_name} /metrics (got {scraped.get(service)})")
    check(set(scraped) <= set(SERVICES), f"PodMonitors select {set(scraped) - set(SERVICES)}")

    policy = by_kind.get("NetworkPolicy", {}).get("pay-ingress-prometheus")
    check(policy is not None and policy["spec"]["podSelector"]["matchLabels"] == {"app": "pay"},
          "no NetworkPolicy letting Prometheus scrape pay")

    prom_k8s = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    prom_compose = yaml.safe_load((DEPLOY / "prometheus" / "prometheus-compose.yml").read_text())
    for where, prom in [("prometheus.yml", prom_k8s), ("prometheus-compose.yml", prom_compose)]:
        for rule_file in prom.get("rule_files", []):
            check((DEPLOY / "prometheus" / rule_file).is_file(), f"{where}: rule file {rule_file} missing")
        check(prom.get("rule_files"), f"{where}: loads no rules")
        (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "hifive"] or [None]
        check(job and job.get("honor_labels") is True, f"{where}: job hifive with honor_labels")
    (job,) = prom_k8s["scrape_configs"]
    relabels = {(tuple(r.get("source_labels", [])), r.get("target_label"), r.get("action", "replace"))
                for r in job["relabel_configs"]}
    ann = "__meta_kubernetes_pod_annotation_prometheus_io_"
    for needed in [((ann + "scrape",), None, "keep"), ((ann + "path",), "__metrics_path__", "replace"),
                   (("__address__", ann + "port"), "__address__", "replace"),
                   (("__meta_kubernetes_namespace",), "namespace", "replace"),
                   (("__meta_kubernetes_pod_name",), "pod", "replace"),
                   (("__meta_kubernetes_pod_label_app",), "service", "replace")]:
        check(needed in relabels, f"prometheus.yml: relabelling {needed} missing")
    check(job["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["hifive"],
          "prometheus.yml: discovers pods in namespace hifive")

    compose = yaml.safe_load(Path(compose_file).read_text())
    services = compose["services"]
    targets = {}
    for sc in prom_compose["scrape_configs"][0]["static_configs"]:
        for t in sc["targets"]:
            targets[sc["labels"]["service"]] = t
    for service in SERVICES:
        env = services.get(service, {}).get("environment", {})
        port = env.get("MANAGEMENT_PORT", "9088") if service == "gateway" else "8080"
        check(targets.get(service) == f"{service}:{port}",
              f"prometheus-compose.yml: {service} must be scraped at {service}:{port}, not {targets.get(service)}")
        check("profiles" not in services.get(service, {}), f"compose: {service} must run without a profile")
    for name in ["prometheus", "grafana"]:
        s = services.get(name)
        if not check(s is not None, f"compose: no {name} service"):
            continue
        check(s.get("profiles") == ["monitoring"], f"compose: {name} only in the monitoring profile")
        for volume in s.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                check((ROOT / source).exists(), f"compose: {name} mounts {source}, which does not exist")
    command = " ".join(services.get("prometheus", {}).get("command", []))
    check("--config.file=/etc/prometheus/prometheus-compose.yml" in command,
          "compose: prometheus must run deploy/prometheus/prometheus-compose.yml")
    datasources = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    check(datasources["datasources"][0]["url"] == "http://prometheus:9090", "grafana: data source is compose's prometheus")
    providers = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "hifive.yml").read_text())
    check(any(v.endswith(":" + providers["providers"][0]["options"]["path"] + ":ro")
              for v in services.get("grafana", {}).get("volumes", [])),
          "grafana: the dashboard provider's path is not mounted")

    # --- Alert rules ---------------------------------------------------------------------------
    rules = yaml.safe_load(RULES.read_text())
    prometheus_rule = by_kind.get("PrometheusRule", {}).get("hifive")
    if check(prometheus_rule is not None, "no PrometheusRule hifive"):
        for err in jsonschema.Draft7Validator(load_schema("prometheusrules")).iter_errors(prometheus_rule):
            failures.append(f"PrometheusRule: {'.'.join(map(str, err.absolute_path))}: {err.message}")
        check(prometheus_rule["spec"]["groups"] == rules["groups"],
              "PrometheusRule hifive differs from deploy/prometheus/rules/hifive.rules.yml")
    watched = set()
    duration = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
    for group in rules["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            check(set(rule) <= {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"},
                  f"rule {name}: unknown fields {set(rule)}")
            where = f"rule {name}"
            watched |= check_promql(where, rule["expr"], metrics)
            if "for" in rule:
                check(duration.match(rule["for"]), f"{where}: for {rule['for']!r} is not a duration")
            if "alert" in rule:
                check(rule.get("labels", {}).get("severity") in SEVERITIES, f"{where}: severity one of {SEVERITIES}")
                ann_ = rule.get("annotations", {})
                check(ann_.get("summary") and ann_.get("description"), f"{where}: needs summary and description")
                for doc in re.findall(r"docs/[\w-]+\.md", ann_.get("description", "")):
                    check((ROOT / doc).is_file(), f"{where}: names {doc}, which does not exist")
    check(ALERT_METRICS <= watched, f"alert rules do not watch {ALERT_METRICS - watched}")

    # --- Dashboard -----------------------------------------------------------------------------
    try:
        dashboard = json.loads(DASHBOARD.read_text())
    except json.JSONDecodeError as e:
        failures.append(f"{DASHBOARD.relative_to(ROOT)}: not JSON: {e}")
        dashboard = {"panels": []}
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    check(variables.get("datasource", {}).get("type") == "datasource"
          and variables["datasource"].get("query") == "prometheus",
          "dashboard: needs a datasource variable of type prometheus")
    for v in variables.values():
        if v["type"] == "query":
            query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
            if check(m, f"dashboard: variable {v['name']}: expected label_values(expr, label)"):
                names = check_promql(f"dashboard variable {v['name']}", m.group(1), metrics)
                check(all(m.group(2) in (series_labels(metrics, n) or set()) for n in names),
                      f"dashboard variable {v['name']}: no label {m.group(2)}")
    shown, ids = set(), []

    def panels(items):
        for p in items:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(dashboard["panels"]):
        ids.append(p["id"])
        if p["type"] == "row":
            continue
        where = f"dashboard panel {p['title']!r}"
        check(p.get("datasource", {}).get("uid") == "${datasource}", f"{where}: data source must be ${{datasource}}")
        check(p.get("targets"), f"{where}: no query")
        for t in p.get("targets", []):
            check(t.get("datasource", {}).get("uid") == "${datasource}", f"{where}: query's data source")
            shown |= check_promql(where, t["expr"], metrics)
    check(len(ids) == len(set(ids)), "dashboard: panel ids are not unique")
    check(DASHBOARD_METRICS <= shown, f"dashboard does not show {DASHBOARD_METRICS - shown}")
    check(any("histogram_quantile(0.99" in t["expr"] for p in panels(dashboard["panels"])
              for t in p.get("targets", []) if "hifive_saga_step_seconds" in t["expr"]),
          "dashboard: the saga's p99")

    # --- Request-rate autoscaling --------------------------------------------------------------
    adapter = yaml.safe_load(ADAPTER.read_text())
    custom = {}
    for rule in adapter["rules"]["custom"]:
        where = f"prometheus-adapter rule {rule['name']['as']}"
        names = check_promql(where, rule["seriesQuery"], metrics)
        series = re.sub(r"[\^$]", "", rule["name"]["matches"])
        check(names == {series}, f"{where}: name.matches must be the seriesQuery's metric")
        query = (rule["metricsQuery"].replace("<<.Series>>", series)
                 .replace("<<.LabelMatchers>>", 'namespace="hifive",pod=~"conference-.*"')
                 .replace("<<.GroupBy>>", "pod"))
        check_promql(where, query, metrics)
        overrides = rule["resources"]["overrides"]
        check(overrides.get("pod") == {"resource": "pod"} and overrides.get("namespace") == {"resource": "namespace"},
              f"{where}: maps the pod and namespace labels")
        custom[rule["name"]["as"]] = series
    hpa = by_kind.get("HorizontalPodAutoscaler", {}).get("conference")
    if check(hpa is not None, "monitoring: no HPA for conference"):
        spec = hpa["spec"]
        check((spec["minReplicas"], spec["maxReplicas"]) == (1, 10), "monitoring HPA: min 1, max 10")
        kinds = {m["type"]: m for m in spec["metrics"]}
        cpu = kinds.get("Resource", {}).get("resource", {})
        check(cpu.get("name") == "cpu" and cpu.get("target", {}).get("averageUtilization") == 15,
              "monitoring HPA: keeps CPU 15%")
        pods = kinds.get("Pods", {}).get("pods", {})
        check(pods.get("metric", {}).get("name") in custom,
              f"monitoring HPA: its Pods metric must be one prometheus-adapter serves ({sorted(custom)})")
        check(pods.get("target", {}).get("type") == "AverageValue", "monitoring HPA: Pods target AverageValue")

    if failures:
        print("dashboards, alerts and scraping: %d problems" % len(failures))
        for f in failures:
            print("  -", f)
        sys.exit(1)
    print("dashboards, alerts and scraping: %d metrics in the catalogue, %d alert rules, "
          "%d dashboard panels, PodMonitors and PrometheusRule against their CRD schemas: ok"
          % (len(metrics), sum(len(g["rules"]) for g in rules["groups"]), len(ids)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
