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


def deployment(name: str, image: str, command: str, extra: str = "", namespace: str = "") -> str:
    """A Deployment running `sh -c command` that stops within a second."""
    text = DEPLOYMENT.format(name=name, image=image).replace(
        "    spec:\n      containers:", "    spec:\n      terminationGracePeriodSeconds: 1\n      containers:")
    if namespace:
        text = text.replace(f"  name: {name}\n", f"  name: {name}\n  namespace: {namespace}\n", 1)
    return text.lstrip("\n") + f'          command: ["sh", "-c", {json.dumps(command)}]\n' + extra


def httpd_deployment(name: str, image: str, port: int = 8000, namespace: str = "") -> str:
    """A Deployment serving /www with busybox httpd on `port` (declared as its containerPort)."""
    return deployment(name, image, f"exec httpd -f -p {port} -h /www",
                      extra=f"          ports: [{{containerPort: {port}}}]\n", namespace=namespace)
