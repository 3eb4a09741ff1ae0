"""Tilt's own extensions (tilt-dev/tilt-extensions, at tests/extension_repos.py's
UPSTREAM_COMMIT), loaded with ext:// from a local clone registered as the
default repo through a file:// URL, as a user without internet would. Each
must produce what Tilt produces; the expectations come from reading the
extension's Tiltfile and Tilt's semantics (and the extension's own test/).

Needs the upstream code (see tests/extension_repos.py), git, python3 and
kubectl (configmap, secret and deployment run `kubectl create --dry-run=client`,
which needs no cluster); a missing one fails these tests."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.extension_repos import upstream_extensions  # noqa: F401  (fixture)
from tests.unit.test_tiltfile_support import Project, project  # noqa: F401  (fixture)
from tiltpy.model.manifest import TiltfileResult
from tiltpy.tiltfile import extension_repos


@pytest.fixture
def exts(project: Project, upstream_extensions: Path) -> Path:  # noqa: F811
    """The upstream clone, and `project` set to use it as the default repo."""
    for tool in ("kubectl", "python3"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed by these extensions and is not on PATH")
    project.header = f"v1alpha1.extension_repo(name='default', url='{upstream_extensions.as_uri()}')\n"
    return upstream_extensions


@pytest.fixture(autouse=True)
def restore_environ():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def load(project: Project, tiltfile: str, **kw: Any) -> TiltfileResult:
    import textwrap

    return project.ok(project.header + textwrap.dedent(tiltfile), **kw)


def copy_test_files(exts: Path, ext: str, project: Project, *names: str) -> None:
    for name in names:
        source = exts / ext / "test" / name
        target = Path(project.path(name))
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)


def objects(result: TiltfileResult, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in result.api_objects if o["kind"] == kind}


def test_uibutton_cmd_button_with_inputs(project: Project, exts: Path) -> None:
    result = load(project, """
        load('ext://uibutton', 'cmd_button', 'location', 'text_input', 'bool_input', 'choice_input')
        local_resource('vigoda', cmd='echo "Hello from resource"')
        cmd_button('resource-button', resource='vigoda', argv=['bash', '-c', 'echo Hello ${BASH_VERSION}'],
                   text='Resource Button', icon_name='star')
        cmd_button('nav-button-hello', argv=['sh', '-c', 'echo Hello, $NAME'], location=location.NAV,
                   icon_name='front_hand', text='Hello', inputs=[text_input('NAME', placeholder='who?')])
        cmd_button('nav-button-bool', argv=['sh', '-c', 'echo Hello, $NAME'], location=location.NAV, text='Hello bool',
                   inputs=[bool_input('NAME', default=True, label='Alice?', true_string='Alice', false_string='Not Alice')])
        cmd_button('nav-button-choice', argv=['sh', '-c', 'echo Hello, $NAME'], location=location.NAV,
                   inputs=[choice_input('NAME', choices=['Alice', 'Bob'])], requires_confirmation=True, disabled=True)
        cmd_button('nav-button-env-dict', argv=['sh', '-c', 'echo "Hello $name"'], env={'name': 'foo'},
                   location=location.NAV, icon_svg=blob('<svg></svg>'))
    """)
    buttons, cmds = objects(result, "UIButton"), objects(result, "Cmd")
    assert buttons["resource-button"] == {
        "apiVersion": "tilt.dev/v1alpha1", "kind": "UIButton",
        "metadata": {"name": "resource-button", "annotations": {"tilt.dev/resource": "vigoda"}},
        "spec": {"location": {"componentID": "vigoda", "componentType": "Resource"}, "text": "Resource Button",
                 "iconName": "star"}}
    assert cmds["btn-resource-button"] == {
        "apiVersion": "tilt.dev/v1alpha1", "kind": "Cmd",
        "metadata": {"name": "btn-resource-button",
                     "annotations": {"tilt.dev/resource": "vigoda", "tilt.dev/log-span-id": "cmd:resource-button"}},
        "spec": {"args": ["bash", "-c", "echo Hello ${BASH_VERSION}"], "dir": project.path(),
                 "startOn": {"startAfter": None, "uiButtons": ["resource-button"]}}}
    hello = buttons["nav-button-hello"]["spec"]
    assert hello["location"] == {"componentID": "nav", "componentType": "Global"}
    assert hello["inputs"] == [{"name": "NAME", "label": "", "text": {"placeholder": "who?"}}]
    assert cmds["btn-nav-button-hello"]["metadata"]["annotations"]["tilt.dev/resource"] == "(Tiltfile)"
    assert buttons["nav-button-bool"]["spec"]["inputs"] == [
        {"name": "NAME", "label": "Alice?",
         "bool": {"defaultValue": True, "trueString": "Alice", "falseString": "Not Alice"}}]
    choice = buttons["nav-button-choice"]["spec"]
    assert choice["inputs"] == [{"name": "NAME", "label": "", "choice": {"choices": ["Alice", "Bob"]}}]
    assert choice["disabled"] is True and choice["requiresConfirmation"] is True
    assert cmds["btn-nav-button-env-dict"]["spec"]["env"] == ["name=foo"]
    assert buttons["nav-button-env-dict"]["spec"]["iconSVG"] == "<svg></svg>"
    # Outside `up` and `ci`, cmd_button does nothing (as in Tilt).
    quiet = load(project, "load('ext://uibutton', 'cmd_button')\ncmd_button('b', resource='x', argv=['true'])\n",
                 subcommand="down")
    assert objects(quiet, "UIButton") == {}


def test_list_dependencies_adds_a_button_on_the_tiltfile(project: Project, exts: Path) -> None:
    copy_test_files(exts, "list_dependencies", project, "a.yaml", "b.yaml")
    result = load(project, """
        load('ext://list_dependencies', 'display_dependencies')
        k8s_yaml(['a.yaml', 'b.yaml'])
        k8s_resource('b', resource_deps=['a'])
        display_dependencies()
    """)
    assert result.manifest("b").resource_deps == ("a",)
    button = objects(result, "UIButton")["show_deps"]
    assert button["spec"] == {"location": {"componentID": "(Tiltfile)", "componentType": "Resource"},
                              "text": "list pending dependencies", "iconName": "account_tree"}
    cmd = objects(result, "Cmd")["btn-show_deps"]
    assert cmd["spec"]["args"] == [str(exts / "list_dependencies" / "deps.py")]
    assert cmd["spec"]["startOn"]["uiButtons"] == ["show_deps"]
    # list_dependencies loads ext://uibutton itself.
    assert {"list_dependencies", "uibutton"} <= set(objects(result, "Extension"))


def test_dotenv(project: Project, exts: Path) -> None:
    """dotenv's parser needs `while` loops."""
    copy_test_files(exts, "dotenv", project, ".env")
    result = load(project, """
        load('ext://dotenv', 'dotenv')
        dotenv(fn='.env')
        print(os.getenv('TESTVAR'), os.getenv('THIRD'), os.getenv('#COMMENTED_VARNAME'))
        print(repr(os.getenv('ENV_VAR_WITH_QUOTES_1')), repr(os.getenv('ENV_VAR_WITH_QUOTES_3')))
        print(repr(os.getenv('MULTILINE')))
        print(repr(os.getenv('MULTILINE_WITH_SPACES')))
        local_resource('echo-env-vars', 'echo "$TESTVAR"')
    """)
    assert result.logs == [
        "success a = b None",
        '" quotes \'and\' spaces       " " mixed \'quotes\' \\"and\\" spaces       "',
        '"This is a multi-line\\nvalue that spans\\nthree lines."',
        '"   This is a multi-line \\n   value that spans  \\n   three lines with leading spaces.   "',
    ]
    assert os.environ["TESTVAR"] == "success"  # local() and resources see it
    assert "Environment variables file not found" in load(
        project, "load('ext://dotenv', 'dotenv')\ndotenv(fn='.nope')\n").warnings[0]


def test_namespace_create_and_inject(project: Project, exts: Path) -> None:
    copy_test_files(exts, "namespace", project, "deployment.yaml", "job.yaml", "job-default-namespace.yaml",
                    "roles.yaml")
    result = load(project, """
        load('ext://namespace', 'namespace_create', 'namespace_inject', 'namespace_yaml')
        namespace_create('namespace-test')
        k8s_yaml(namespace_inject('deployment.yaml', 'namespace-test'))
        k8s_yaml('job.yaml')
        k8s_yaml(namespace_inject('job-default-namespace.yaml', 'namespace-test'))
        k8s_yaml(namespace_inject(read_file('roles.yaml'), 'namespace-test'))
        k8s_resource('namespace-test-verify', resource_deps=['namespace-test-busybox'])
        print(type(namespace_yaml('x')))
    """)
    assert result.logs == ["blob"]
    busybox = result.manifest("namespace-test-busybox")
    assert [(o["kind"], o["metadata"]["namespace"]) for o in busybox.k8s.objects] == [
        ("Deployment", "namespace-test"), ("Service", "namespace-test")]
    assert busybox.k8s.objects[0]["spec"]["template"]["metadata"]["namespace"] == "namespace-test"
    assert result.manifest("namespace-test-verify").resource_deps == ("namespace-test-busybox",)
    assert result.manifest("namespace-test-verify2").k8s.objects[0]["metadata"]["namespace"] == "namespace-test"
    rest = {o["metadata"]["name"]: o for o in result.manifest("uncategorized").k8s.objects}
    assert rest["namespace-test"]["kind"] == "Namespace"
    assert rest["namespace-test-role2"]["metadata"]["namespace"] == "namespace-test"
    assert rest["namespace-test-cluster-role-binding1"]["subjects"][0]["namespace"] == "namespace-test"


def test_configmap(project: Project, exts: Path) -> None:
    copy_test_files(exts, "configmap", project, "my-job.ini", "my-job.env", "job.yaml")
    result = load(project, """
        load('ext://configmap', 'configmap_create', 'configmap_from_dict', 'configmap_yaml')
        configmap_create('job-config', from_file='my-job.ini=./my-job.ini')
        configmap_create('env-job-config', from_env_file='my-job.env')
        k8s_yaml(configmap_from_dict('from-dict-config', inputs={'hello': 'world'}))
        k8s_yaml('job.yaml')
        print(type(configmap_yaml('x', from_file='my-job.ini')))
    """)
    maps = {o["metadata"]["name"]: o for o in result.manifest("uncategorized").k8s.objects}
    assert maps["job-config"]["data"] == {"my-job.ini": Path(project.path("my-job.ini")).read_text()}
    assert maps["from-dict-config"]["data"] == {"hello": "world"}
    assert "TEST_VAR" in maps["env-job-config"]["data"]
    assert result.manifest("configmap-verify").k8s.objects[0]["kind"] == "Job"
    assert project.path("my-job.ini") in result.watched_files  # watch=True
    assert result.logs[-1] == "blob"


def test_secret(project: Project, exts: Path) -> None:
    copy_test_files(exts, "secret", project, ".pgpass", "job.yaml")
    result = load(project, """
        load('ext://secret', 'secret_create_generic', 'secret_from_dict', 'secret_create_docker_registry')
        k8s_yaml(secret_from_dict('secrets', inputs={'SOME_TOKEN': 'abc123'}))
        secret_create_generic('pgpass', namespace='default', from_file='.pgpass=./.pgpass')
        secret_create_docker_registry('docker-creds', username='fake-user', password='fake-password')
        k8s_yaml('job.yaml')
    """)
    secrets = {o["metadata"]["name"]: o for o in result.manifest("uncategorized").k8s.objects}
    assert secrets["secrets"]["data"] == {"SOME_TOKEN": "YWJjMTIz"}
    assert secrets["pgpass"]["metadata"]["namespace"] == "default"
    assert secrets["docker-creds"]["type"] == "kubernetes.io/dockerconfigjson"
    assert "abc123" in result.secrets  # Tilt scrubs secrets' values from logs
    assert not any("abc123" in line for line in result.logs)  # echo_off


def test_file_sync_only(project: Project, exts: Path) -> None:
    """It finds sync() steps with type() and parses their str()."""
    copy_test_files(exts, "file_sync_only", project, "manifest.yaml", "testfile", "testdir")
    result = load(project, """
        load('ext://file_sync_only', 'file_sync_only')
        file_sync_only('nginx:1.17', './manifest.yaml', deps=['testfile', 'testdir'],
                       live_update=[sync('testfile', '/'), sync('testdir/', '/')])
    """)
    nginx = result.manifest("nginx")
    [image] = nginx.image_targets
    assert image.ref == "nginx" and image.custom_build.tag == "1.17" and image.custom_build.skips_local_docker
    assert image.custom_build.deps == (project.path("testfile"), project.path("testdir"))
    assert [s.local_path for s in image.live_update] == [project.path("testfile"), project.path("testdir")]
    assert [o["kind"] for o in nginx.k8s.objects] == ["Deployment", "Service"]
    first_syncs = {m.name: m for m in result.manifests if m.local is not None}
    assert sorted(first_syncs) == ["firstsync-nginx-testdir", "firstsync-nginx-testfile"]
    assert first_syncs["firstsync-nginx-testfile"].local.cmd == ("sh", "-c", "touch testfile")
    assert first_syncs["firstsync-nginx-testfile"].resource_deps == ("nginx",)


def test_docker_build_sub(project: Project, exts: Path) -> None:
    copy_test_files(exts, "docker_build_sub", project, "deployment.yaml", "Dockerfile", "main.sh", "index.html")
    result = load(project, """
        load('ext://docker_build_sub', 'docker_build_sub')
        k8s_yaml('deployment.yaml')
        k8s_resource('example-html', port_forwards=[8000])
        docker_build_sub('example-html-image', '.', dockerfile='./Dockerfile',
                         extra_cmds=['WORKDIR /app', 'ADD . .', 'ENTRYPOINT ./main.sh'],
                         live_update=[sync('index.html', '/app/index.html')])
    """)
    manifest = result.manifest("example-html")
    base, child = manifest.image_targets
    assert (base.ref, child.ref) == ("example-html-image-base", "example-html-image")
    assert base.dockerfile_path == project.path("Dockerfile") and base.live_update == ()
    assert child.dockerfile_contents == "FROM example-html-image-base\nWORKDIR /app\nADD . .\nENTRYPOINT ./main.sh"
    assert child.image_deps == ("example-html-image-base",) and child.context == project.path()
    assert [s.remote_path for s in child.live_update] == ["/app/index.html"]
    assert manifest.k8s.port_forwards[0].local_port == 8000


def test_deployment(project: Project, exts: Path) -> None:
    project.file("assets/index.html", "Test deployment_create\n")
    result = load(project, """
        load('ext://deployment', 'deployment_create', 'job_create')
        docker_build('assets', './assets', dockerfile_contents='FROM nginx:latest\\nCOPY . /usr/share/nginx/html\\n')
        deployment_create('assets', ports='80', readiness_probe={'http_get': {'port': 80}})
        job_create('verify', image='curlimages/curl', command=['sh', '-c', 'curl -sf http://assets/'],
                   resource_deps=['assets'])
    """)
    assets = result.manifest("assets")
    deployment, service = assets.k8s.objects
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "assets" and container["readinessProbe"] == {"httpGet": {"port": 80}}
    assert service["kind"] == "Service" and service["spec"]["ports"][0]["port"] == 80
    assert [t.ref for t in assets.image_targets] == ["assets"]
    verify = result.manifest("verify")
    assert verify.resource_deps == ("assets",)
    job_container = verify.k8s.objects[0]["spec"]["template"]["spec"]["containers"][0]
    assert job_container["command"] == ["sh", "-c", "curl -sf http://assets/"]


def test_procfile(project: Project, exts: Path) -> None:
    copy_test_files(exts, "procfile", project, "Procfile", "Procfile.two")
    result = load(project, """
        load('ext://procfile', 'procfile_resources')
        procfile_resources()
        procfile_resources('Procfile.two', set_port=True, labels=['foo', 'bar'])
    """)
    one, two = result.manifest("one"), result.manifest("two")
    assert one.local.serve_cmd == ("sh", "-c", 'echo "foo" && sleep 100') and one.local.cmd == ()
    assert two.local.serve_cmd == ("sh", "-c", 'PORT=5000 echo "bar" && sleep 100')
    assert two.labels == ("foo", "bar")


def test_local_output(project: Project, exts: Path) -> None:
    result = load(project, """
        load('ext://local_output', 'local_output')
        s = local_output('echo abc')
        s += local_output('echo def')
        print(s)
        local_resource('dummy', 'echo dummy')
    """)
    assert result.logs[-1] == "abcdef"


def test_helm_resource_up_to_helm(project: Project, exts: Path) -> None:
    """Loading needs no helm; deploying runs the extension's helper, which needs
    the helm binary (the testbed has none: tests/e2e checks the error)."""
    shutil.copytree(exts / "helm_resource" / "test" / "helloworld", project.path("helloworld"))
    project.file("src/index.html", "hi\n")
    result = load(project, """
        load('ext://helm_resource', 'helm_resource', 'helm_repo')
        docker_build('helloworld-image', './src', dockerfile_contents='FROM busybox\\nCOPY . /www\\n')
        helm_resource('helloworld', './helloworld', namespace='app', deps=['./helloworld'],
                      image_deps=['helloworld-image'], image_keys=[('image.repository', 'image.tag')],
                      labels=['helloworld'], flags=['--create-namespace'])
        helm_repo('bitnami', 'https://charts.bitnami.com/bitnami', labels=['helloworld'])
    """)
    helloworld = result.manifest("helloworld")
    deploy = helloworld.k8s.custom_deploy
    helper = str(exts / "helm_resource" / "helm-apply-helper.py")
    assert deploy.apply_cmd == ("python3", helper, "--create-namespace")
    assert deploy.delete_cmd == ("python3", str(exts / "helm_resource" / "helm-delete-helper.py"))
    assert dict(deploy.apply_env) == {
        "CHART": "./helloworld", "RELEASE_NAME": "helloworld", "NAMESPACE": "app", "TILT_IMAGE_COUNT": "1",
        "TILT_IMAGE_KEY_COUNT_0": "1", "TILT_IMAGE_KEY_REPO_0_0": "image.repository",
        "TILT_IMAGE_KEY_TAG_0_0": "image.tag"}
    assert deploy.deps == (project.path("helloworld"),) and deploy.image_deps == ("helloworld-image",)
    assert [t.ref for t in helloworld.image_targets] == ["helloworld-image"]
    assert helloworld.labels == ("helloworld",)
    repo = result.manifest("bitnami")
    assert repo.local.cmd[:3] == ("helm", "repo", "add") and repo.local.allow_parallel


def test_restart_process_upstream(project: Project, exts: Path) -> None:
    """ext://restart_process is tiltpy's own by default (the upstream one needs
    tiltdev/restart-helper from Docker Hub); registering it by path loads
    Tilt's: a base image plus a child image with the restart wrapper."""
    copy_test_files(exts, "restart_process", project, "Dockerfile.test", "start.sh", "test-job.yaml")
    result = load(project, """
        v1alpha1.extension(name='restart_process_upstream', repo_name='default', repo_path='restart_process')
        load('ext://restart_process_upstream', 'docker_build_with_restart')
        k8s_yaml('test-job.yaml')
        docker_build_with_restart('test_job', '.', dockerfile='Dockerfile.test', entrypoint='/start.sh',
                                  live_update=[sync('./start.sh', '/start.sh')])
    """)
    [manifest] = [m for m in result.manifests if m.image_targets]
    base, child = manifest.image_targets
    assert base.ref == "test_job-tilt_docker_build_with_restart_base"
    assert base.dockerfile_path == project.path("Dockerfile.test")
    assert child.ref == "test_job" and child.image_deps == (base.ref,)
    assert child.context == str(exts / "restart_process")
    assert child.entrypoint == ("/tilt-restart-wrapper", "--watch_file=/tmp/.restart-proc", "sh", "-c", "/start.sh")
    assert "FROM test_job-tilt_docker_build_with_restart_base" in child.dockerfile_contents
    assert [type(s).__name__ for s in child.live_update] == ["Sync", "Run"]
    assert child.live_update[1].command == ("sh", "-c", "date > /tmp/.restart-proc")
    error = project.error(project.header + """
v1alpha1.extension(name='restart_process_upstream', repo_name='default', repo_path='restart_process')
load('ext://restart_process_upstream', 'docker_build_with_restart')
docker_build_with_restart('x', '.', dockerfile='Dockerfile.test', entrypoint='/start.sh',
                          live_update=[sync('./start.sh', '/start.sh'), restart_container()])
""")
    assert "is not compatible with live_update step: `restart_container()`" in error


def test_extensions_from_the_default_repo_clone(project: Project, upstream_extensions: Path, tmp_path: Path,  # noqa: F811
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The same code through Tilt's default URL, cloned into the cache."""
    from tests.extension_repos import redirect_default_repo

    monkeypatch.setattr(extension_repos, "_fetched", set())
    redirect_default_repo(monkeypatch, upstream_extensions, tmp_path / "cache")
    result = project.ok("load('ext://local_output', 'local_output')\nprint(local_output('echo hi'))\n")
    assert result.logs[-1] == "hi"
    assert result.logs[0].startswith("Cloning extension repo https://github.com/tilt-dev/tilt-extensions into ")


def test_helm_helper_names_helm_when_it_is_missing(project: Project, exts: Path) -> None:
    """What the engine will show when it runs helm_resource's apply command here."""
    env = {**os.environ, "PATH": "/usr/bin:/bin", "CHART": "./helloworld", "RELEASE_NAME": "hw", "NAMESPACE": "",
           "TILT_IMAGE_COUNT": "0"}
    if shutil.which("helm", path=env["PATH"]):
        pytest.fail("helm is installed here: this test expects the testbed without it")
    proc = subprocess.run(["python3", str(exts / "helm_resource" / "helm-apply-helper.py")], env=env,
                          capture_output=True, text=True, cwd=project.path())
    assert proc.returncode != 0 and "'helm'" in proc.stderr
