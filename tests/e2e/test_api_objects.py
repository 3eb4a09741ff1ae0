"""Tilt's API objects do what they do in Tilt, driven through `tiltpy up`:
a cmd_button (the real ext://uibutton) runs its command with the inputs of
a click, its output in the resource's log; a cmd restarts on its file
watch; kubernetes_apply deploys and kubernetes_discovery follows the pod;
`tiltpy get KIND` lists them in Tilt's JSON shape."""
from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.harness import Up, kubectl_json, tiltpy
from tests.extension_repos import upstream_extensions  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e
PORT = 10371


def _get(project: Path, *args: str) -> dict:
    result = tiltpy("get", *args, "-o", "json", "--port", str(PORT), cwd=project)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _post(path: str, body: dict) -> dict:
    with urllib.request.urlopen(f"http://localhost:{PORT}/api/token", timeout=10) as response:
        token = json.loads(response.read())["token"]
    request = urllib.request.Request(f"http://localhost:{PORT}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "X-Tiltpy-Token": token},
                                     method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait(predicate, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_cmd_button_cmd_file_watch_and_get(testbed: dict, tmp_path: Path, upstream_extensions: Path) -> None:
    project = tmp_path / "objects"
    (project / "src").mkdir(parents=True)
    (project / "Tiltfile").write_text(f"""
v1alpha1.extension_repo(name='default', url='{upstream_extensions.as_uri()}')
load('ext://uibutton', 'cmd_button', 'text_input', 'bool_input', 'choice_input')
local_resource('web', serve_cmd='sleep 3600')
cmd_button('greet', resource='web', argv=['sh', '-c', 'echo "greeting $WHO loud=$LOUD color=$COLOR"'],
           text='Greet', inputs=[text_input('WHO', default='world'),
                                 bool_input('LOUD', true_string='yes', false_string='no'),
                                 choice_input('COLOR', choices=['red', 'blue'])])
v1alpha1.file_watch(name='src-watch', watched_paths=['src'])
v1alpha1.cmd(name='server', args=['sh', '-c', 'echo "server started $(cat src/version)"; sleep 3600'],
             restart_on=v1alpha1.restart_on_spec(file_watches=['src-watch']),
             annotations={{'tilt.dev/resource': 'web'}})
v1alpha1.config_map(name='settings', data={{'mode': 'dev'}})
""")
    (project / "src" / "version").write_text("v1")
    up = Up(project, "--port", str(PORT))
    try:
        up.wait_for(r"web +│ server started v1", timeout=120)
        buttons = _get(project, "uibutton")
        assert buttons["kind"] == "List"
        [button] = buttons["items"]
        assert button["metadata"]["name"] == "greet" and button["spec"]["text"] == "Greet"
        assert button["spec"]["location"] == {"componentType": "Resource", "componentID": "web"}
        assert [i["name"] for i in button["spec"]["inputs"]] == ["WHO", "LOUD", "COLOR"]
        cmd = _get(project, "cmd", "btn-greet")
        assert cmd["spec"]["startOn"]["uiButtons"] == ["greet"] and "waiting" in cmd["status"]
        assert _get(project, "configmap", "settings")["data"] == {"mode": "dev"}
        assert _get(project, "filewatch/src-watch")["spec"]["watchedPaths"] == [str(project / "src")]

        # A click, as the dashboard sends it: the command runs with the inputs.
        _post("/api/uibutton", {"name": "greet", "inputs": [
            {"name": "WHO", "text": {"value": "tiltpy"}}, {"name": "LOUD", "bool": {"value": True}},
            {"name": "COLOR", "choice": {"value": "blue"}}]})
        up.wait_for(r"web +│ greeting tiltpy loud=yes color=blue", timeout=30)
        _wait(lambda: "terminated" in _get(project, "cmd", "btn-greet")["status"], what="the cmd to finish")
        assert _get(project, "uibutton", "greet")["status"]["lastClickedAt"]

        # The file watch restarts the server cmd.
        first_pid = _get(project, "cmd", "server")["status"]["running"]["pid"]
        (project / "src" / "version").write_text("v2")
        up.wait_for(r"web +│ server started v2", timeout=30)
        assert _get(project, "cmd", "server")["status"]["running"]["pid"] != first_pid
        assert _get(project, "filewatch", "src-watch")["status"]["lastEventTime"]

        # Removing the cmd from the Tiltfile stops its process.
        second_pid = _get(project, "cmd", "server")["status"]["running"]["pid"]
        text = (project / "Tiltfile").read_text()
        (project / "Tiltfile").write_text(text[:text.index("v1alpha1.cmd(name='server'")])
        _wait(lambda: not _get(project, "cmd")["items"] or
              all(i["metadata"]["name"] != "server" for i in _get(project, "cmd")["items"]), what="cmd removal")
        _wait(lambda: not _alive(second_pid), what="the server process to stop")
    finally:
        up.stop()


def test_kubernetes_apply_and_discovery(testbed: dict, tmp_path: Path) -> None:
    name = "tiltpy-e2e-kapply"
    project = tmp_path / "kapply"
    project.mkdir()
    pod_yaml = (f"apiVersion: v1\\nkind: Pod\\nmetadata: {{name: {name}, labels: {{app: {name}}}}}\\n"
                f"spec:\\n  terminationGracePeriodSeconds: 1\\n  containers:\\n  - name: main\\n    image: busybox\\n"
                f"    imagePullPolicy: Never\\n    command: ['sh', '-c', 'while true; do echo kapply-tick; sleep 1; done']\\n")
    (project / "Tiltfile").write_text(f"""
local_resource('follower', serve_cmd='sleep 3600')
v1alpha1.kubernetes_apply(name='{name}', yaml="{pod_yaml}",
                          annotations={{'tilt.dev/resource': 'follower'}})
""")
    up = Up(project, "--port", str(PORT))
    try:
        up.wait_for(r"follower +│ kapply-tick", timeout=180)  # the discovery streams the pod's logs
        pod = kubectl_json("get", "pod", name)
        assert pod["status"]["phase"] == "Running"
        applied = _get(project, "kubernetesapply", name)
        assert name in applied["status"]["resultYAML"]
        discovery = _get(project, "kubernetesdiscovery", name)
        assert [p["name"] for p in discovery["status"]["pods"]] == [name]
        # Gone from the Tiltfile: what it applied is deleted.
        (project / "Tiltfile").write_text("local_resource('follower', serve_cmd='sleep 3600')\n")
        _wait(lambda: name not in [p["metadata"]["name"] for p in kubectl_json("get", "pods")["items"]
                                   if not p["metadata"].get("deletionTimestamp")], timeout=90, what="pod deletion")
    finally:
        up.stop()
        import subprocess

        subprocess.run(["kubectl", "delete", "pod", name, "--ignore-not-found", "--wait=false"], capture_output=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"
