"""`tiltpy alpha tiltfile-result`: Tilt's top-level shape, args after `--`,
exit code 5 with the error on stderr."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tiltpy.cli.main import main


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_prints_manifests_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "Dockerfile", "FROM busybox\n")
    _write(tmp_path, "k.yml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n"
           "  selector: {matchLabels: {app: app}}\n  template:\n    metadata: {labels: {app: app}}\n"
           "    spec: {containers: [{name: c, image: app-image}]}\n")
    _write(tmp_path, "Tiltfile", """
config.define_string('mode')
cfg = config.parse()
print('mode', cfg.get('mode'), config.tilt_subcommand)
k8s_yaml('k.yml')
docker_build('app-image', '.', live_update=[sync('.', '/app')])
k8s_resource('app', port_forwards=8000, labels=['web'], links=['http://localhost:8000'])
""")
    code = main(["alpha", "tiltfile-result", "-f", str(tmp_path / "Tiltfile"), "--", "--mode", "fast"])
    out = capsys.readouterr()
    assert code == 0, out.err
    data = json.loads(out.out)
    [manifest] = data["Manifests"]
    assert manifest["Name"] == "app"
    assert manifest["ImageTargets"][0]["Ref"] == "app-image"
    assert manifest["ImageTargets"][0]["Context"] == str(tmp_path)
    assert manifest["ImageTargets"][0]["LiveUpdate"][0] == {"Step": "Sync", "LocalPath": str(tmp_path),
                                                            "RemotePath": "/app"}
    assert manifest["K8s"]["Objects"][0]["kind"] == "Deployment"
    assert manifest["K8s"]["PortForwards"][0]["LocalPort"] == 8000
    assert manifest["Labels"] == ["web"] and manifest["Links"][0]["Url"] == "http://localhost:8000"
    assert data["EnabledManifests"] == ["app"]
    assert str(tmp_path / "Tiltfile") in data["ConfigFiles"]
    assert data["ConfigValues"] == {"mode": "fast"}
    assert data["UpdateSettings"]["MaxParallelUpdates"] == 3 and data["Error"] is None
    for key in ("Warnings", "FeatureFlags", "TeamID", "Secrets", "DockerPruneSettings", "VersionSettings",
                "WatchSettings", "DefaultRegistry", "CISettings"):
        assert key in data


def test_tiltfile_error_exits_5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "Tiltfile", "print('before')\nfail('broken on purpose')\n")
    code = main(["alpha", "tiltfile-result", "-f", str(tmp_path / "Tiltfile")])
    out = capsys.readouterr()
    assert code == 5
    assert out.out == ""
    assert "broken on purpose" in out.err and "before" in out.err


def test_subcommand_is_alpha_tiltfile_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "Tiltfile", "print(config.tilt_subcommand)\n")
    assert main(["alpha", "tiltfile-result", "-f", str(tmp_path / "Tiltfile")]) == 0
    capsys.readouterr()


def test_object_set_holds_the_api_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "Tiltfile", """
local_resource('app', 'true')
v1alpha1.ui_button(name='hello', text='Hello', location=v1alpha1.ui_component_location(
    component_id='app', component_type='Resource'))
v1alpha1.cmd(name='btn-hello', args=['echo', 'hi'], start_on=v1alpha1.start_on_spec(ui_buttons=['hello']))
""")
    code = main(["alpha", "tiltfile-result", "-f", str(tmp_path / "Tiltfile")])
    out = capsys.readouterr()
    assert code == 0, out.err
    objects = {o["kind"]: o for o in json.loads(out.out)["ObjectSet"]}
    assert objects["UIButton"] == {"apiVersion": "tilt.dev/v1alpha1", "kind": "UIButton",
                                   "metadata": {"name": "hello"},
                                   "spec": {"location": {"componentID": "app", "componentType": "Resource"},
                                            "text": "Hello"}}
    assert objects["Cmd"]["spec"] == {"args": ["echo", "hi"], "dir": str(tmp_path),
                                      "startOn": {"startAfter": None, "uiButtons": ["hello"]}}


def test_imports_only_what_loading_needs(tmp_path: Path) -> None:
    """A dry load must stay quick: no web server, Docker client, HTTP clients,
    event loop or engine imported for it."""
    import subprocess
    import sys

    _write(tmp_path, "Dockerfile", "FROM busybox\n")
    _write(tmp_path, "Tiltfile", "docker_build('app-image', '.')\nlocal_resource('x', 'true')\n")
    probe = ("import sys\nfrom tiltpy.cli.main import main\n"
             f"code = main(['alpha', 'tiltfile-result', '-f', {str(tmp_path / 'Tiltfile')!r}])\n"
             "heavy = ('asyncio', 'docker', 'httpx', 'starlette', 'uvicorn', 'websockets', 'watchfiles',\n"
             "         'urllib.request', 'tiltpy.engine', 'tiltpy.web', 'tiltpy.k8s.client', 'concurrent.futures')\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy\n"
             "             or any(m.startswith(h + '.') for h in heavy)), file=sys.stderr)\n"
             "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
