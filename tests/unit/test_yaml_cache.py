"""The Tiltfile layer's cache of parsed YAML, and the memo of the kube context."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tiltpy.k8s import cluster
from tiltpy.k8s.objects import YamlError, load_yaml_documents, parse_yaml_stream
from tiltpy.tiltfile.yaml_cache import ParsedYamlCache

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  template:
    spec:
      containers: [{name: web, image: web, env: [{name: DEBUG, value: "off"}, {name: X, value: off}]}]
"""


def test_a_hit_gives_equal_documents_that_are_a_fresh_copy(tmp_path: Path) -> None:
    cache = ParsedYamlCache(str(tmp_path / "c.json"))
    first = cache.documents(DEPLOYMENT)
    assert first == load_yaml_documents(DEPLOYMENT)
    first[0]["metadata"]["name"] = "changed by the caller"
    second = cache.documents(DEPLOYMENT)
    assert second == load_yaml_documents(DEPLOYMENT)
    assert second[0]["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] is False  # YAML 1.1 kept


def test_saved_documents_answer_the_next_process(tmp_path: Path) -> None:
    path = str(tmp_path / "c.json")
    cache = ParsedYamlCache(path)
    cache.documents(DEPLOYMENT)
    cache.save()
    assert os.stat(path).st_mode & 0o077 == 0  # the user's only
    later = ParsedYamlCache(path)
    assert later.documents(DEPLOYMENT) == load_yaml_documents(DEPLOYMENT)
    assert json.loads(Path(path).read_text())["entries"].keys() == {DEPLOYMENT}


def test_only_what_json_gives_back_exactly_and_never_a_secret_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    cache = ParsedYamlCache(str(path))
    timestamp = "kind: ConfigMap\napiVersion: v1\nmetadata: {name: a}\ndata: {at: 2001-12-14}\n"
    int_keys = "kind: ConfigMap\napiVersion: v1\nmetadata: {name: b}\ndata: {1: one}\n"
    secret = "kind: Secret\napiVersion: v1\nmetadata: {name: s}\nstringData: {password: hunter2}\n"
    listed = "kind: List\napiVersion: v1\nitems: [{kind: Secret, apiVersion: v1, metadata: {name: t}}]\n"
    for text in (timestamp, int_keys, secret, listed):
        assert cache.documents(text) == load_yaml_documents(text)
    cache.documents(DEPLOYMENT)
    cache.save()
    assert list(json.loads(path.read_text())["entries"]) == [DEPLOYMENT]
    assert "hunter2" not in path.read_text()


def test_each_project_keeps_only_the_yaml_its_loads_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = ParsedYamlCache()
    old, new = DEPLOYMENT, DEPLOYMENT.replace("replicas: 2", "replicas: 3")
    cache.open_project("/a/Tiltfile")
    cache.documents(old)
    cache.open_project("/b/Tiltfile")  # saves a's file
    cache.documents(old)
    cache.save()
    edited = ParsedYamlCache()
    edited.open_project("/a/Tiltfile")
    assert edited.documents(new)[0]["spec"]["replicas"] == 3  # the file was edited: parsed, and the old text dropped
    edited.save()
    files = {p.name: list(json.loads(p.read_text())["entries"]) for p in (tmp_path / "tiltpy").glob("yaml-*.json")}
    assert sorted(files.values()) == sorted([[new], [old]]) and len(files) == 2


def test_files_not_written_for_a_month_go_when_another_is_written(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "tiltpy").mkdir()
    stale, recent = tmp_path / "tiltpy" / "yaml-documents-00000000.json", tmp_path / "tiltpy" / "yaml-documents-1.json"
    stale.write_text("{}")
    recent.write_text("{}")
    os.utime(stale, (0, 0))
    cache = ParsedYamlCache()
    cache.open_project("/c/Tiltfile")
    cache.documents(DEPLOYMENT)
    cache.save()
    assert not stale.exists() and recent.exists()


def test_invalid_yaml_is_an_error_every_time(tmp_path: Path) -> None:
    cache = ParsedYamlCache(str(tmp_path / "c.json"))
    for _ in range(2):
        with pytest.raises(YamlError, match="invalid YAML"):
            parse_yaml_stream("kind: [unclosed", cache.documents)


def test_a_corrupt_or_foreign_file_is_ignored_and_size_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    assert ParsedYamlCache(str(path)).documents(DEPLOYMENT) == load_yaml_documents(DEPLOYMENT)
    path.write_text(json.dumps({"format": "another version", "entries": {DEPLOYMENT: "[]"}}))
    assert ParsedYamlCache(str(path)).documents(DEPLOYMENT) == load_yaml_documents(DEPLOYMENT)
    small = ParsedYamlCache(str(path), max_bytes=3000)
    texts = [DEPLOYMENT.replace("web", f"web{i}") for i in range(10)]
    for text in texts:
        small.documents(text)
    small.save()
    kept = list(json.loads(path.read_text())["entries"])
    assert kept and kept == texts[-len(kept):] and len(kept) < len(texts)


KUBECONFIG = """apiVersion: v1
kind: Config
current-context: {current}
contexts:
- name: one
  context: {{cluster: c1, user: u, namespace: team}}
- name: two
  context: {{cluster: c2, user: u}}
clusters:
- name: c1
  cluster: {{server: "https://one:6443"}}
- name: c2
  cluster: {{server: "https://two:6443"}}
users:
- name: u
  user: {{token: very-secret}}
"""


def test_the_context_memo_follows_the_kubeconfig_and_holds_no_credentials(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = tmp_path / "kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(config))
    config.write_text(KUBECONFIG.format(current="one"))
    expected = cluster.KubeContext("one", "c1", "team", "https://one:6443")
    assert cluster.current_context() == expected
    assert cluster.current_context() == expected  # from the memo
    assert cluster.current_context("two") == cluster.KubeContext("two", "c2", "default", "https://two:6443")
    memo = (tmp_path / "cache" / "tiltpy" / "kube-contexts.json").read_text()
    assert "very-secret" not in memo and "one" in memo
    config.write_text(KUBECONFIG.format(current="two") + "\n")  # `kubectl config use-context two`
    assert cluster.current_context().name == "two"
    config.unlink()
    assert cluster.current_context() is None


def test_a_repeated_dry_load_does_not_import_pyyaml(tmp_path: Path) -> None:
    """What the caches are for: the second `alpha tiltfile-result` of an unchanged project skips PyYAML."""
    import subprocess
    import sys

    (tmp_path / "k8s.yaml").write_text(DEPLOYMENT)
    (tmp_path / "Tiltfile").write_text("allow_k8s_contexts('one')\nk8s_yaml('k8s.yaml')\n")
    (tmp_path / "kubeconfig").write_text(KUBECONFIG.format(current="one"))
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "KUBECONFIG": str(tmp_path / "kubeconfig")}
    script = ("import sys\nfrom tiltpy.cli.tiltfile_result import run_tiltfile_result\n"
              "assert run_tiltfile_result(tiltfile='Tiltfile', tiltfile_args=[]) == 0\n"
              "print('yaml' in sys.modules, file=sys.stderr)\n")
    runs = [subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert runs[0].stdout == runs[1].stdout and '"web"' in runs[0].stdout
    assert [r.stderr.strip() for r in runs] == ["True", "False"]
