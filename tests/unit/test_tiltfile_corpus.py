"""The Tiltfile corpus: tests/tiltfiles/<case>/ holds one or more Tiltfiles
(`Tiltfile`, `*.Tiltfile`) and expected.json, which gives, per Tiltfile, what
Tilt's documented semantics say the load produces: the resources (images with
their contexts, dependencies and live-update steps; objects; port-forwards,
links, labels, resource_deps, trigger modes...), or the error.

expected.json, per Tiltfile name:
  "options":  {"args": [...], "context": "kind-kind", "subcommand": "up",
               "env": {...}, "path": "bin" (prepended to PATH), "extensions": "exts"}
  "error":    a substring the load error must contain (then nothing else is checked)
  "resources": [summary of each manifest, in order]   (compared exactly)
  "enabled":  the enabled resources (null: all)
  "logs", "warnings", "watched": substrings/paths each must appear in
  "settings": {TiltfileResult field: value}

Paths in summaries are relative to the case directory. Run with
TILTPY_CORPUS_UPDATE=1 to print what a Tiltfile gives now (to review by hand
against Tilt's semantics before pasting it into expected.json)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tiltpy.model.manifest import (
    TRIGGER_MODE_MANUAL,
    FallBackOn,
    ImageTarget,
    InitialSync,
    Manifest,
    RestartContainer,
    Run,
    Sync,
    TiltfileResult,
)
from tiltpy.tiltfile.builtins.extensions import SHIPPED_DIR
from tiltpy.tiltfile.loader import load_tiltfile
from tiltpy.tiltfile.state import LoadOptions

CORPUS = Path(__file__).resolve().parent.parent / "tiltfiles"


def _cases() -> list[tuple[str, str]]:
    out = []
    for case in sorted(p for p in CORPUS.iterdir() if (p / "expected.json").is_file()):
        for name in json.loads((case / "expected.json").read_text()):
            out.append((case.name, name))
    return out


class Paths:
    def __init__(self, case: Path) -> None:
        self.case = str(case)

    def rel(self, path: str) -> str:
        if path == "-" or not path:
            return path
        if path.startswith(SHIPPED_DIR):
            return "<tiltpy>/extensions" + path[len(SHIPPED_DIR):]
        if path == self.case:
            return "."
        if path.startswith(self.case + "/"):
            return path[len(self.case) + 1:]
        return path


def _step(step: Any, paths: Paths) -> Any:
    if isinstance(step, Sync):
        return ["sync", paths.rel(step.local_path), step.remote_path]
    if isinstance(step, Run):
        out: list[Any] = ["run", " ".join(step.command[2:]) if step.command[:2] == ("sh", "-c") else list(step.command)]
        if step.triggers:
            out.append([paths.rel(t) for t in step.triggers])
        return out
    if isinstance(step, FallBackOn):
        return ["fall_back_on", [paths.rel(p) for p in step.paths]]
    if isinstance(step, InitialSync):
        return ["initial_sync"]
    if isinstance(step, RestartContainer):
        return ["restart_container"]
    return repr(step)


def _image(target: ImageTarget, paths: Paths) -> dict[str, Any]:
    out: dict[str, Any] = {"ref": target.ref}
    if target.custom_build is not None:
        cb = target.custom_build
        out["custom_build"] = {"command": " ".join(cb.command[2:]) if cb.command[:2] == ("sh", "-c")
                               else list(cb.command), "deps": [paths.rel(d) for d in cb.deps]}
        for key in ("tag", "disable_push", "skips_local_docker"):
            if getattr(cb, key):
                out["custom_build"][key] = getattr(cb, key)
        if cb.outputs_image_ref_to:
            out["custom_build"]["outputs_image_ref_to"] = paths.rel(cb.outputs_image_ref_to)
    elif target.live_update_only:
        out["live_update_only"] = True
    else:
        out["context"] = paths.rel(target.context)
        if target.dockerfile_path:
            out["dockerfile"] = paths.rel(target.dockerfile_path)
    for key in ("image_deps", "build_args", "ignore", "only", "entrypoint", "extra_tags"):
        value = getattr(target, key)
        if value:
            out[key] = dict(value) if key == "build_args" else list(value)
    if target.target:
        out["target"] = target.target
    if target.container_args is not None:
        out["container_args"] = list(target.container_args)
    if target.match_in_env_vars:
        out["match_in_env_vars"] = True
    if target.live_update:
        out["live_update"] = [_step(s, paths) for s in target.live_update]
    if target.restart_file:
        out["restart_file"] = target.restart_file
    return out


def _port_forward(pf: Any) -> str:
    text = f"{pf.local_port}" if pf.container_port is None else f"{pf.local_port}:{pf.container_port}"
    if pf.host:
        text = f"{pf.host}:{text}"
    if pf.name:
        text += f" ({pf.name})"
    return text


def summarize_manifest(m: Manifest, paths: Paths) -> dict[str, Any]:
    out: dict[str, Any] = {"name": m.name}
    if m.image_targets:
        out["images"] = [_image(t, paths) for t in m.image_targets]
    if m.k8s is not None:
        k8s: dict[str, Any] = {"objects": [f"{o.get('kind')}/{(o.get('metadata') or {}).get('name')}"
                                           for o in m.k8s.objects]}
        if m.k8s.image_refs:
            k8s["image_refs"] = list(m.k8s.image_refs)
        if m.k8s.port_forwards:
            k8s["port_forwards"] = [_port_forward(p) for p in m.k8s.port_forwards]
        k8s["readiness"] = m.k8s.pod_readiness
        if m.k8s.extra_pod_selectors:
            k8s["extra_pod_selectors"] = [dict(s) for s in m.k8s.extra_pod_selectors]
        if m.k8s.image_locators:
            k8s["image_locators"] = [{k: v for k, v in vars(loc).items() if v} for loc in m.k8s.image_locators]
        if m.k8s.custom_deploy is not None:
            cd = m.k8s.custom_deploy
            k8s["custom_deploy"] = {
                "apply": " ".join(cd.apply_cmd[2:]) if cd.apply_cmd[:2] == ("sh", "-c") else list(cd.apply_cmd),
                "delete": " ".join(cd.delete_cmd[2:]) if cd.delete_cmd[:2] == ("sh", "-c") else list(cd.delete_cmd),
                "deps": [paths.rel(d) for d in cd.deps],
            }
            if cd.image_deps:
                k8s["custom_deploy"]["image_deps"] = list(cd.image_deps)
        out["k8s"] = k8s
    local = getattr(m, "local", None)
    if local is not None:
        out["local"] = {"cmd": " ".join(local.cmd[2:]) if local.cmd[:2] == ("sh", "-c") else list(local.cmd)}
        if local.serve_cmd:
            out["local"]["serve_cmd"] = " ".join(local.serve_cmd[2:]) if local.serve_cmd[:2] == ("sh", "-c") \
                else list(local.serve_cmd)
        if local.deps:
            out["local"]["deps"] = [paths.rel(d) for d in local.deps]
    for key in ("resource_deps", "labels"):
        if getattr(m, key):
            out[key] = list(getattr(m, key))
    if m.links:
        out["links"] = [link.url if not link.name else f"{link.url} ({link.name})" for link in m.links]
    if m.trigger_mode == TRIGGER_MODE_MANUAL:
        out["trigger_mode"] = "manual"
    if not m.auto_init:
        out["auto_init"] = False
    return out


def summarize(result: TiltfileResult, paths: Paths) -> dict[str, Any]:
    return {"resources": [summarize_manifest(m, paths) for m in result.manifests],
            "enabled": result.enabled_resources}


def _load(case_dir: Path, name: str, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> TiltfileResult:
    for key, value in (options.get("env") or {}).items():
        monkeypatch.setenv(key, value)
    if "path" in options:
        monkeypatch.setenv("PATH", f"{case_dir / options['path']}{os.pathsep}{os.environ.get('PATH', '')}")
    if "only_path" in options:
        monkeypatch.setenv("PATH", str(case_dir / options["only_path"]))
    if "extensions" in options:
        monkeypatch.setenv("TILTPY_EXTENSIONS_DIR", str(case_dir / options["extensions"]))
    else:
        monkeypatch.delenv("TILTPY_EXTENSIONS_DIR", raising=False)
    return load_tiltfile(str(case_dir / name), LoadOptions(
        k8s_context=options.get("context", "docker-desktop"), k8s_namespace=options.get("namespace", "default"),
        subcommand=options.get("subcommand", "up"), args=list(options.get("args", []))))


@pytest.mark.parametrize("case, name", _cases())
def test_corpus(case: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case_dir = CORPUS / case
    expected = json.loads((case_dir / "expected.json").read_text())[name]
    options = expected.get("options", {})
    for tool in options.get("requires", []):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    monkeypatch.chdir(case_dir)
    result = _load(case_dir, name, options, monkeypatch)
    paths = Paths(case_dir)
    if os.environ.get("TILTPY_CORPUS_UPDATE"):
        print(f"\n=== {case}/{name}\nerror: {result.error}\n"
              + json.dumps(summarize(result, paths), indent=2) + f"\nlogs: {result.logs}\nwarnings: {result.warnings}")
    if "error" in expected:
        assert expected["error"] in result.error, result.error
        assert result.manifests == []
        return
    assert result.error == "", result.error
    summary = summarize(result, paths)
    assert summary["resources"] == expected["resources"]
    if "enabled" in expected:
        assert summary["enabled"] == expected["enabled"]
    for line in expected.get("logs", []):
        assert any(line in log for log in result.logs), (line, result.logs)
    for warning in expected.get("warnings", []):
        assert any(warning in w for w in result.warnings), (warning, result.warnings)
    if "no_warnings" in expected:
        assert result.warnings == []
    for watched in expected.get("watched", []):
        assert str(case_dir / watched) in result.watched_files, (watched, result.watched_files)
    for key, value in expected.get("settings", {}).items():
        actual = getattr(result, key)
        actual = actual if isinstance(actual, (str, int, float, bool, list, dict, type(None))) else vars(actual)
        assert actual == value, (key, actual)
