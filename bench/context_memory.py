"""Peak memory of building an image from a large context: the context tar is
streamed to the builder, never held whole, so a 1 GiB context must not cost
1 GiB of RSS.

Writes a context of --size-mib (default 1024) of incompressible files, then
builds it in a fresh Python process with tiltpy's DockerBuilder, once with
BuildKit (the default path, through the Docker CLI) and once with the classic
builder (DOCKER_BUILDKIT=0, docker-py streaming to the Engine API). For each,
prints the tiltpy process's peak RSS and the Docker CLI's (a child process).

    source /var/lib/testbed/env && python3 bench/context_memory.py [--size-mib 1024]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.conftest import _testbed_env  # noqa: E402  (PATH like `source /var/lib/testbed/env`)

_testbed_env()

# Runs in the measured process: build once, report peak RSS (KiB on Linux).
BUILD = """
import json, resource, sys, time
from tiltpy.image.docker_builder import DockerBuilder, connect
from tiltpy.model.manifest import ImageTarget
context = sys.argv[1]
target = ImageTarget(ref="tiltpy-bench-context", context=context, dockerfile_path="",
                     dockerfile_contents="FROM busybox\\nRUN du -sh /ctx 2>/dev/null; true\\n")
builder = DockerBuilder.detect(connect())
started = time.monotonic()
built = builder.build(target, {}, lambda line: None, force=True)
print(json.dumps({
    "builder": builder.describe(),
    "seconds": round(time.monotonic() - started, 1),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "children_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    "image": built.local_ref,
}))
"""


def make_context(root: Path, size_mib: int) -> None:
    block = os.urandom(1 << 20)
    files = max(1, size_mib // 64)
    for i in range(files):
        with open(root / f"blob{i:03d}.bin", "wb") as f:
            for j in range(size_mib // files):
                # Vary each MiB so nothing along the way can deduplicate it.
                f.write(j.to_bytes(4, "little") + i.to_bytes(4, "little") + block[8:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    results: dict[str, object] = {"context_mib": args.size_mib}
    with tempfile.TemporaryDirectory(prefix="tiltpy-bench-ctx-") as tmp:
        started = time.monotonic()
        make_context(Path(tmp), args.size_mib)
        results["write_context_seconds"] = round(time.monotonic() - started, 1)
        for name, extra_env in (("buildkit", {}), ("classic", {"DOCKER_BUILDKIT": "0"})):
            env = {**os.environ, **extra_env, "PYTHONPATH": str(REPO)}
            out = subprocess.run([sys.executable, "-c", BUILD, tmp], env=env, capture_output=True, text=True)
            if out.returncode != 0:
                results[name] = {"error": out.stderr.strip().splitlines()[-1:]}
                continue
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
            subprocess.run(["docker", "rmi", "-f", results[name]["image"]], capture_output=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
