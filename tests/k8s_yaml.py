"""Kubernetes YAML the tests deploy or load."""
from __future__ import annotations

import json

# A Deployment with one container; `.format(name=..., image=...)`. Lines
# appended to it continue the container (10-space indent).
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: main
          image: {image}
"""


def deployment(name: str, image: str, command: str, extra: str = "") -> str:
    """A Deployment running `sh -c command` that stops within a second."""
    text = DEPLOYMENT.format(name=name, image=image).replace(
        "    spec:\n      containers:", "    spec:\n      terminationGracePeriodSeconds: 1\n      containers:")
    return text.lstrip("\n") + f'          command: ["sh", "-c", {json.dumps(command)}]\n' + extra
