"""`tiltpy alpha tiltfile-result`: the loaded manifests as JSON, touching
neither Docker nor the cluster."""
from __future__ import annotations

import json
import os
import sys

from tiltpy.model.manifest import to_jsonable
from tiltpy.cli.common import load_options
from tiltpy.tiltfile.loader import load_tiltfile


def run_tiltfile_result(*, tiltfile: str, tiltfile_args: list[str]) -> int:
    result = load_tiltfile(os.path.abspath(tiltfile), load_options("alpha", "", tiltfile_args))
    if result.error:
        print(result.error, file=sys.stderr)
        return 1
    out = {
        "Manifests": [to_jsonable(m) for m in result.manifests],
        "ConfigFiles": result.watched_files,
        "Warnings": result.warnings,
    }
    json.dump(out, sys.stdout, indent=2, default=str)
    print()
    return 0
