"""Example specs for tests: the core's own, and plugin authors' (a spec every target can plan)."""

from __future__ import annotations

from typing import Any

EXAMPLE_SPEC: dict[str, Any] = {
    "apiVersion": "cloudserve/v1",
    "kind": "Deployment",
    "metadata": {"name": "churn", "labels": {"team": "growth"}},
    "spec": {
        "versions": {
            "stable": {"model": {"uri": "s3://bucket/churn-v1", "framework": "sklearn"}},
            "candidate": {"model": {"uri": "s3://bucket/churn-v2", "framework": "sklearn"}},
        },
        "traffic": {"stable": 90, "candidate": 10},
    },
}

EXAMPLE_YAML = """\
apiVersion: cloudserve/v1
kind: Deployment
metadata:
  name: churn
  labels: {team: growth}
spec:
  versions:
    stable:
      model: {uri: s3://bucket/churn-v1, framework: sklearn}
    candidate:
      model: {uri: s3://bucket/churn-v2, framework: sklearn}
  traffic: {stable: 90, candidate: 10}
  compute:
    cpu: 2
    memory: 4Gi
    replicas: {min: 1, max: 4}
environments:
  prod:
    spec:
      compute:
        replicas: {min: 2}
"""
