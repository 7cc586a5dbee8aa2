"""Offline checks of the deployment wiring (no cluster, no Docker engine needed).

Reads the rendered Kubernetes manifests (`kubectl kustomize deploy/k8s`) and
docker-compose.yml, and the services' sources, and asserts that every service is deployed
with probes on the paths it serves, the settings it reads, its database and its volume.

    python deploy/check.py rendered.yaml docker-compose.yml
"""

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ["conference", "pay", "room", "customer-center", "gateway"]
ON_POSTGRES = {"conference", "pay"}
ON_VOLUME = {"room", "customer-center"}
# Read by the code but deliberately left to their defaults in a cluster.
OPTIONAL = {
    "KAFKA_DEBUG": "librdkafka debugging",
    "PAY_LATENCY_MS": "overload simulation, off in production",
    "PAY_CAPACITY": "overload simulation, off in production",
    "PAY_ADMIN_ENABLED": "overload simulation, off in production",
    "KAFKA_GROUP": "defaults to the service name",
    "KAFKA_GROUP_INSTANCE_ID": "Deployments use dynamic membership (real Kafka rebalances)",
    "CONSUMER_ADMIN_ENABLED": "consumer fault injection for tests, off in production",
    "SERVICE_TOKEN_SECRET": "only conference and pay use it, from the hifive-service Secret (checked below)",
    "WEB_DIR": "set by the image (ENV WEB_DIR=/srv/web, the built page)",
    "WEB_OIDC_ISSUER": "the issuer's URL as browsers reach it: cluster-specific (compose sets it)",
    "WEB_OIDC_CLIENT_ID": "the web page's sign-in, with WEB_DIR (default hifive-web)",
    "WEB_OIDC_SCOPE": "the web page's sign-in, with WEB_DIR (default openid)",
}
NEEDS_SERVICE_SECRET = {"conference", "pay"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ENV_READ = re.compile(r'env_(?:or|parse|millis)\(\s*"([A-Z0-9_]+)"|env::var\(\s*"([A-Z0-9_]+)"')

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def env_read(crate):
    """Environment variables a crate's sources read (plus the common config it uses)."""
    sources = list((ROOT / crate / "src").rglob("*.rs"))
    text = "\n".join(p.read_text() for p in sources)
    if "CommonConfig::from_env" in text:
        for name in ["config.rs", "db.rs", "kafka.rs", "auth/mod.rs"]:
            text += (ROOT / "hifive-common" / "src" / name).read_text()
    elif "ServerConfig::from_env" in text:
        text += (ROOT / "hifive-common" / "src" / "config.rs").read_text()
        if "AuthConfig::from_env" in text:  # the gateway's /system/health checks tokens
            text += (ROOT / "hifive-common" / "src" / "auth" / "mod.rs").read_text()
    names = {a or b for a, b in ENV_READ.findall(text)}
    if "CommonConfig::from_env" in text:
        names.add("DATABASE_URL")
    return names


def served_paths():
    text = "".join(p.read_text() for p in (ROOT / "hifive-common" / "src" / "http").glob("*.rs"))
    return set(re.findall(r'\.route\(\s*"(/[^"]+)"', text))


def main(rendered, compose_file):
    docs = [d for d in yaml.safe_load_all(Path(rendered).read_text()) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        name = d["metadata"]["name"]
        base = re.sub(r"-[a-z0-9]{10}$", "", name)  # generated ConfigMap/Secret hash suffix
        check(DNS_LABEL.match(base) and len(name) <= 63, f"{d['kind']} {name}: not a valid name")

    configmaps = by_kind.get("ConfigMap", {})
    config = next((c for n, c in configmaps.items() if n.startswith("hifive-config")), None)
    check(config is not None, "no hifive-config ConfigMap")
    config_keys = set((config or {}).get("data", {}))
    for key in ["PAY_URL", "KAFKA_TOPIC", "KAFKA_BROKERS", "PAY_TIMEOUT_MS", "BREAKER_OPEN_MS"]:
        check(key in config_keys, f"ConfigMap lacks {key}")
    secrets = by_kind.get("Secret", {})
    check(any(n.startswith("hifive-db") for n in secrets), "no hifive-db Secret")
    paths = served_paths()
    pvcs = by_kind.get("PersistentVolumeClaim", {})

    for service in SERVICES:
        dep = by_kind.get("Deployment", {}).get(service)
        check(dep is not None, f"no Deployment {service}")
        if dep is None:
            continue
        svc = by_kind.get("Service", {}).get(service)
        check(svc is not None and svc["spec"]["selector"].get("app") == service,
              f"no Service selecting {service}")
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        check(c.get("args") == [service], f"{service}: container must run `{service}`")
        port = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        check(port.get("http") == 8080, f"{service}: must expose http on 8080")
        for probe, path in [("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")]:
            got = c.get(probe, {}).get("httpGet", {})
            check(got.get("path") == path, f"{service}: {probe} must GET {path}")
            check(got.get("path") in paths, f"{service}: {probe} path {got.get('path')} is not served")
            check(got.get("port") in ("http", 8080), f"{service}: {probe} on the wrong port")
        # The kubelet SIGKILLs after terminationGracePeriodSeconds, counted from the preStop hook:
        # the service's own bounded stop must fit in what is left.
        grace = pod.get("terminationGracePeriodSeconds", 30)
        pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        pause = float(pre_stop[-1]) if pre_stop[:1] == ["sleep"] else 0.0
        stop_ms = float(config_keys and config["data"].get("SHUTDOWN_GRACE_MS", 6000) or 6000)
        check(pause + stop_ms / 1000 + 2 <= grace,
              f"{service}: preStop {pause}s + SHUTDOWN_GRACE_MS does not fit in terminationGracePeriodSeconds {grace}")
        res = c.get("resources", {})
        check("requests" in res and "limits" in res, f"{service}: needs resource requests and limits")
        env_names = {e["name"] for e in c.get("env", [])}
        from_config = any(
            s.get("configMapRef", {}).get("name", "").startswith("hifive-config")
            for s in c.get("envFrom", [])
        )
        provided = env_names | (config_keys if from_config else set())
        if service in ON_VOLUME:
            provided -= {"DATABASE_URL"}  # comes from DATA_DIR
        for name in sorted(env_read(service) - set(OPTIONAL)):
            if name == "DATABASE_URL" and service not in ON_POSTGRES:
                continue
            check(name in provided, f"{service}: reads {name} but the Deployment does not set it")
        if service in NEEDS_SERVICE_SECRET:
            secret = [e for e in c.get("env", []) if e["name"] == "SERVICE_TOKEN_SECRET"]
            ref = secret[0].get("valueFrom", {}).get("secretKeyRef", {}) if secret else {}
            check(ref.get("name", "").startswith("hifive-service"),
                  f"{service}: SERVICE_TOKEN_SECRET must come from the hifive-service Secret")
        if service in ON_POSTGRES:
            (db,) = [e for e in c.get("env", []) if e["name"] == "DATABASE_URL"]
            ref = db.get("valueFrom", {}).get("secretKeyRef", {})
            check(ref.get("name", "").startswith("hifive-db"),
                  f"{service}: DATABASE_URL must come from the hifive-db Secret")
        strategy = dep["spec"].get("strategy", {})
        if service in ON_VOLUME:
            mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
            check(mounts.get("data") == config["data"].get("DATA_DIR"),
                  f"{service}: its volume must be mounted at DATA_DIR")
            claims = [v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", [])
                      if "persistentVolumeClaim" in v]
            check(claims and all(cl in pvcs for cl in claims), f"{service}: needs its PVC")
            check(strategy.get("type") == "Recreate", f"{service}: one writer: Recreate")
        else:
            ru = strategy.get("rollingUpdate", {})
            check(strategy.get("type") == "RollingUpdate" and ru.get("maxUnavailable") == 0,
                  f"{service}: rolling update must keep serving (maxUnavailable 0)")

    hpa = by_kind.get("HorizontalPodAutoscaler", {}).get("conference")
    check(hpa is not None, "no HorizontalPodAutoscaler for conference")
    if hpa:
        spec = hpa["spec"]
        check(spec["scaleTargetRef"]["name"] == "conference", "HPA must scale conference")
        check((spec["minReplicas"], spec["maxReplicas"]) == (1, 10), "HPA: min 1, max 10")
        target = spec["metrics"][0]["resource"]
        check(target["name"] == "cpu" and target["target"]["averageUtilization"] == 15,
              "HPA: CPU 15%")
    for name in ["kafka", "postgres"]:
        check(name in by_kind.get("StatefulSet", {}), f"no StatefulSet {name}")
    pay_policy = by_kind.get("NetworkPolicy", {}).get("pay-ingress")
    check(pay_policy is not None, "no NetworkPolicy keeping pay to conference and the gateway")
    if pay_policy:
        allowed = set(pay_policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"])
        check(allowed == {"conference", "gateway"}, f"pay-ingress admits {allowed}")

    compose = yaml.safe_load(Path(compose_file).read_text())["services"]
    for service in SERVICES:
        s = compose.get(service)
        check(s is not None, f"compose: no service {service}")
        if not s:
            continue
        check("healthcheck" in s, f"compose: {service} needs a healthcheck")
        env = s.get("environment", {})
        if service in ON_POSTGRES:
            check(str(env.get("DATABASE_URL", "")).startswith("postgres://"),
                  f"compose: {service} must run on Postgres")
        if service in ON_VOLUME:
            check(any(str(v).endswith(":/data") for v in s.get("volumes", [])),
                  f"compose: {service} needs its data volume")
        for dep, cond in (s.get("depends_on") or {}).items():
            check(cond.get("condition") == "service_healthy",
                  f"compose: {service} must wait for {dep} to be healthy")
    check(compose.get("gateway", {}).get("ports") == ["8088:8080"], "compose: gateway on 8088")
    # The development issuer's sign-in has no password (ISSUER_SIGN_IN): in compose it is on
    # and published on loopback only; in a cluster it stays off.
    issuer = compose.get("issuer") or {}
    if str((issuer.get("environment") or {}).get("ISSUER_SIGN_IN", "off")).lower() == "on":
        check(all(str(p).startswith("127.0.0.1:") for p in issuer.get("ports", [])),
              "compose: an issuer with ISSUER_SIGN_IN=on must be published on 127.0.0.1 only")
    k8s_issuer = by_kind.get("Deployment", {}).get("issuer")
    if k8s_issuer:
        for c in k8s_issuer["spec"]["template"]["spec"]["containers"]:
            sign_in = {e["name"]: e.get("value") for e in c.get("env", [])}.get("ISSUER_SIGN_IN")
            check(str(sign_in or "off").lower() == "off",
                  "issuer: ISSUER_SIGN_IN must stay off in a cluster (no password on its sign-in)")
    for service in NEEDS_SERVICE_SECRET:
        env = (compose.get(service) or {}).get("environment", {})
        check(len(str(env.get("SERVICE_TOKEN_SECRET", ""))) >= 32,
              f"compose: {service} needs SERVICE_TOKEN_SECRET (32 characters or more)")
    for service in ["conference", "pay", "room", "gateway"]:
        env = (compose.get(service) or {}).get("environment", {})
        check(env.get("AUTH_JWKS_URL") and env.get("AUTH_ISSUER"),
              f"compose: {service} needs AUTH_JWKS_URL and AUTH_ISSUER")

    if failures:
        print("deployment wiring: %d problems" % len(failures))
        for f in failures:
            print("  -", f)
        sys.exit(1)
    print("deployment wiring: %d objects, 5 services checked: ok" % len(docs))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
