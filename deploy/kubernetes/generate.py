#!/usr/bin/env python3
"""Writes PropDesk's Kubernetes manifests (deploy/kubernetes/*.yaml, a Kustomize base).

    deploy/kubernetes/generate.py           write them
    deploy/kubernetes/generate.py --check   fail if a committed file differs from what it would write

The manifests repeat for each service, so they are written from the table below and from
deploy/broker-users.tsv (the broker users and permissions the local stack and docker-compose
use too), not kept by hand. The test command runs --check and validates the result offline
(deploy/kubernetes/validate).
"""
import pathlib
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NAMESPACE = "propdesk"
# The services' own graceful shutdown (PROPDESK_SHUTDOWN_GRACE_SECONDS, the services' default).
# Kubernetes waits this plus the preStop pause and a margin before SIGKILL.
SHUTDOWN_GRACE_SECONDS = 20
PRE_STOP_SECONDS = 5
TERMINATION_GRACE_SECONDS = SHUTDOWN_GRACE_SECONDS + PRE_STOP_SECONDS + 5

# CPU requests: what each process used at 100 tickets a second, all five running, release build
# (BENCHMARKS.md, "Efficiency, second pass": intake 0.27-0.28 cores, dispatch 0.21-0.22,
# notification 0.17-0.18, escalation 0.11-0.13; billing does no per-ticket work and was idle).
# Memory: escalation's resident set was 45-49 MB with 20,000 deadlines pending (BENCHMARKS,
# "third pass"); the others' was not measured, so they get the same request.
SERVICES = [
    # name, CPU request, memory request, memory limit
    ("intake", "300m", "96Mi", "384Mi"),
    ("dispatch", "250m", "96Mi", "384Mi"),
    ("escalation", "150m", "96Mi", "384Mi"),
    ("notification", "200m", "96Mi", "384Mi"),
    ("billing", "50m", "96Mi", "384Mi"),
]
REPLICAS = 2
HTTP_PORT = 8080
IMAGE = "propdesk/{service}"


def labels(service):
    return {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "propdesk"}


def deployment(service, cpu, memory, memory_limit):
    secret_volume = f"{service}-urls"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service, "namespace": NAMESPACE, "labels": labels(service)},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": labels(service)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels(service)},
                "spec": {
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
                    "topologySpreadConstraints": [{
                        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": labels(service)},
                    }],
                    "containers": [{
                        "name": service,
                        "image": IMAGE.format(service=service),
                        "args": ["serve"],
                        "ports": [{"name": "http", "containerPort": HTTP_PORT}],
                        "envFrom": [{"configMapRef": {"name": "propdesk-settings"}}],
                        "env": [
                            {"name": "PROPDESK_INSTANCE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            # Secrets by reference: each service's own URLs (its PostgreSQL role and
                            # RabbitMQ user), mounted as files, never in the environment.
                            {"name": "PROPDESK_DATABASE_URL_FILE", "value": "/run/secrets/propdesk/database-url"},
                            {"name": "PROPDESK_REPORTS_DATABASE_URL_FILE", "value": "/run/secrets/propdesk/reports-database-url"},
                            {"name": "PROPDESK_AMQP_URL_FILE", "value": "/run/secrets/propdesk/amqp-url"},
                        ],
                        "volumeMounts": [{"name": secret_volume, "mountPath": "/run/secrets/propdesk", "readOnly": True}],
                        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit}},
                        "readinessProbe": {"httpGet": {"path": "/health/ready", "port": "http"}, "periodSeconds": 5, "failureThreshold": 3},
                        "livenessProbe": {"httpGet": {"path": "/health/live", "port": "http"}, "periodSeconds": 10, "failureThreshold": 6},
                        "startupProbe": {"httpGet": {"path": "/health/live", "port": "http"}, "periodSeconds": 2, "failureThreshold": 30},
                        # The endpoints leave the Service before SIGTERM starts the graceful shutdown.
                        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
                        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}},
                    }],
                    "volumes": [{"name": secret_volume, "secret": {"secretName": f"propdesk-{service}-urls", "defaultMode": 0o400}}],
                },
            },
        },
    }


def service_resource(service):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service, "namespace": NAMESPACE, "labels": labels(service)},
        "spec": {"selector": labels(service), "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http"}]},
    }


def disruption_budget(service):
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": service, "namespace": NAMESPACE, "labels": labels(service)},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels(service)}},
    }


def broker_users():
    """User, Permission and TopicPermission (RabbitMQ Messaging Topology Operator) per line of
    deploy/broker-users.tsv, with its SHARED placeholder expanded as the local stack does."""
    lines = [l.split("\t") for l in (ROOT / "deploy/broker-users.tsv").read_text().splitlines()
             if l and not l.startswith("#")]
    shared = next(l[1] for l in lines if l[0] == "SHARED")
    docs = []
    for user, configure, write, read, topics in (l for l in lines if l[0] != "SHARED"):
        name = user.removeprefix("propdesk-")
        cluster = {"name": "propdesk-broker"}
        docs.append({
            "apiVersion": "rabbitmq.com/v1beta1", "kind": "User",
            "metadata": {"name": user, "namespace": NAMESPACE},
            "spec": {"rabbitmqClusterReference": cluster, "tags": [],
                     # A Secret with keys username and password, made outside these manifests.
                     "importCredentialsSecret": {"name": f"propdesk-broker-{name}"}},
        })
        docs.append({
            "apiVersion": "rabbitmq.com/v1beta1", "kind": "Permission",
            "metadata": {"name": user, "namespace": NAMESPACE},
            "spec": {"rabbitmqClusterReference": cluster, "vhost": "propdesk", "userReference": {"name": user},
                     "permissions": {"configure": configure.replace("SHARED", shared),
                                     "write": write.replace("SHARED", shared),
                                     "read": read.replace("SHARED", shared)}},
        })
        docs.append({
            "apiVersion": "rabbitmq.com/v1beta1", "kind": "TopicPermission",
            "metadata": {"name": user, "namespace": NAMESPACE},
            "spec": {"rabbitmqClusterReference": cluster, "vhost": "propdesk", "userReference": {"name": user},
                     "permissions": {"exchange": "propdesk.events", "write": topics, "read": ".*"}},
        })
    return docs


def render(docs, header):
    body = "---\n".join(yaml.safe_dump(d, sort_keys=False, allow_unicode=True, width=120) for d in docs)
    return f"# {header}\n# Written by deploy/kubernetes/generate.py; edit that, not this file.\n" + body


def files():
    out = {}
    out["services.yaml"] = render(
        [doc for s in SERVICES for doc in (deployment(*s), service_resource(s[0]), disruption_budget(s[0]))],
        "The five services: a Deployment (two replicas, probes on the health endpoints), a Service and a PodDisruptionBudget each.")
    out["broker-users.yaml"] = render(
        broker_users(), "Each service's RabbitMQ user and permissions (from deploy/broker-users.tsv), for the Messaging Topology Operator.")
    out["settings.yaml"] = render([{
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "propdesk-settings", "namespace": NAMESPACE},
        "data": {
            "PROPDESK_HTTP_HOST": "0.0.0.0",
            "PROPDESK_HTTP_PORT": str(HTTP_PORT),
            "PROPDESK_LOG_LEVEL": "info",
            # Migrations run once, in the migration Job, not as each replica starts.
            "PROPDESK_MIGRATE_ON_START": "false",
            "PROPDESK_SHUTDOWN_GRACE_SECONDS": str(SHUTDOWN_GRACE_SECONDS),
        },
    }], "The settings every service shares (README, Configuration).")
    return out


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, text in files().items():
        path = HERE / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"deploy/kubernetes: {', '.join(stale)} differ from what generate.py writes; run deploy/kubernetes/generate.py",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
