"""The Tiltfile layer: builtins, errors with file:line, assembly into resources."""
from __future__ import annotations

import json
import os

import pytest

from tests.k8s_yaml import DEPLOYMENT
from tests.unit.test_tiltfile_support import Project, project  # noqa: F401  (fixture)
from tiltpy.model.manifest import (
    TRIGGER_MODE_MANUAL,
    UNCATEGORIZED,
    Link,
    PortForward,
    Run,
    Sync,
)


SERVICE = """
apiVersion: v1
kind: Service
metadata:
  name: {name}-svc
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80}}]
"""
CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data: {a: b}
"""


def test_base_image_example_builds_in_dependency_order(project: Project) -> None:
    project.file("package/package.json", "{}")
    project.file("base.dockerfile", "FROM node:18\nARG node_env=production\nRUN npm install\n")
    project.file("app.dockerfile", "FROM nodejs-express-base-image\nADD . .\n")
    project.file("app.yml", DEPLOYMENT.format(name="nodejs-express-app", image="nodejs-express-app-image"))
    result = project.ok("""
        k8s_yaml('app.yml')
        docker_build('nodejs-express-base-image', './package', dockerfile='base.dockerfile',
                     build_args={'node_env': 'development'})
        docker_build('nodejs-express-app-image', '.', dockerfile='app.dockerfile')
        k8s_resource('nodejs-express-app', port_forwards=3000)
    """)
    [manifest] = result.manifests
    assert manifest.name == "nodejs-express-app"
    assert [t.ref for t in manifest.image_targets] == ["nodejs-express-base-image", "nodejs-express-app-image"]
    base, app = manifest.image_targets
    assert base.context == str(project.root / "package")
    assert base.dockerfile_path == str(project.root / "base.dockerfile")
    assert dict(base.build_args) == {"node_env": "development"}
    assert app.image_deps == ("nodejs-express-base-image",)
    assert manifest.k8s.image_refs == ("nodejs-express-app-image",)
    assert manifest.k8s.port_forwards == (PortForward(local_port=3000),)


def test_image_cycle_is_an_error(project: Project) -> None:
    project.file("a.dockerfile", "FROM b-image\n")
    project.file("b.dockerfile", "FROM a-image\n")
    result = project.load("""
        docker_build('a-image', '.', dockerfile='a.dockerfile')
        docker_build('b-image', '.', dockerfile='b.dockerfile')
    """)
    assert "image dependency cycle" in result.error
    assert "a-image" in result.error and "b-image" in result.error


def test_copy_from_and_build_arg_refs_are_dependencies(project: Project) -> None:
    project.file("tools.dockerfile", "FROM busybox\n")
    project.file("app.dockerfile", "ARG BASE=nothing\nFROM $BASE\nCOPY --from=tools-image /bin/x /x\n")
    project.file("k.yml", DEPLOYMENT.format(name="app", image="app-image"))
    result = project.ok("""
        k8s_yaml('k.yml')
        docker_build('base-image', '.')
        docker_build('tools-image', '.', dockerfile='tools.dockerfile')
        docker_build('app-image', '.', dockerfile='app.dockerfile', build_args={'BASE': 'base-image'})
    """)
    app = result.manifest("app").image_target("app-image")
    assert set(app.image_deps) == {"base-image", "tools-image"}
    assert [t.ref for t in result.manifest("app").image_targets][-1] == "app-image"


def test_yaml_split_into_workloads_attached_objects_and_uncategorized(project: Project) -> None:
    project.file("all.yml", "---".join([
        CONFIGMAP, DEPLOYMENT.format(name="web", image="web-image"), SERVICE.format(name="web"),
        DEPLOYMENT.format(name="redis", image="redis:7"),
    ]))
    result = project.ok("""
        k8s_yaml('all.yml')
        docker_build('web-image', '.')
    """)
    names = [m.name for m in result.manifests]
    assert names == ["web", "redis", UNCATEGORIZED]  # Tilt lists the uncategorized objects last
    web = result.manifest("web")
    assert [o["kind"] for o in web.k8s.objects] == ["Deployment", "Service"]
    assert [o["kind"] for o in result.manifest(UNCATEGORIZED).k8s.objects] == ["ConfigMap"]
    assert result.manifest("redis").image_targets == ()


def test_duplicate_names_get_kind_suffix(project: Project) -> None:
    job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: x, image: busybox}]\n"
    project.file("all.yml", DEPLOYMENT.format(name="web", image="busybox") + "---\n" + job)
    result = project.ok("k8s_yaml('all.yml')\n")
    assert [m.name for m in result.manifests] == ["web:deployment", "web:job"]


def test_k8s_resource_options(project: Project) -> None:
    project.file("all.yml", CONFIGMAP + "---" + DEPLOYMENT.format(name="web", image="busybox")
                 + "---" + DEPLOYMENT.format(name="db", image="busybox"))
    result = project.ok("""
        k8s_yaml('all.yml')
        k8s_resource('web', new_name='frontend', port_forwards=['8080:80', 'localhost:9000:90', port_forward(7000, name='debug')],
                     resource_deps=['db'], labels=['front'], links=['http://x', link('http://y', 'Y')],
                     trigger_mode=TRIGGER_MODE_MANUAL, auto_init=False, objects=['settings:configmap'])
    """)
    web = result.manifest("frontend")
    assert web.k8s.port_forwards == (
        PortForward(8080, 80), PortForward(9000, 90, host="localhost"), PortForward(7000, name="debug"))
    assert web.resource_deps == ("db",)
    assert web.labels == ("front",)
    assert web.links == (Link("http://x"), Link("http://y", "Y"))
    assert web.trigger_mode == TRIGGER_MODE_MANUAL and web.auto_init is False
    assert [o["kind"] for o in web.k8s.objects] == ["Deployment", "ConfigMap"]
    assert UNCATEGORIZED not in [m.name for m in result.manifests]


def test_k8s_resource_new_resource_from_objects(project: Project) -> None:
    project.file("cm.yml", CONFIGMAP)
    result = project.ok("k8s_yaml('cm.yml')\nk8s_resource(new_name='config', objects=['settings'])\n")
    assert [m.name for m in result.manifests] == ["config"]


@pytest.mark.parametrize("tiltfile, expected", [
    ("k8s_resource('nope')\n", 'unknown resource "nope"'),
    ("k8s_yaml('all.yml')\nk8s_resource('web', port_forwards='abc')\n",
     'portForward port value "abc" is not in the valid range [0-65535]'),
    ("k8s_yaml('all.yml')\nk8s_resource('web', port_forwards=[True])\n", "port_forwards must be an int"),
    ("k8s_yaml('all.yml')\nk8s_resource('web', resource_deps=['web'])\n", "resource web specified a dependency on itself"),
    ("k8s_yaml('all.yml')\nk8s_resource('web', trigger_mode=7)\n", "TRIGGER_MODE_AUTO"),
    ("k8s_yaml('missing.yml')\n", "file not found"),
])
def test_k8s_resource_errors(project: Project, tiltfile: str, expected: str) -> None:
    project.file("all.yml", DEPLOYMENT.format(name="web", image="busybox"))
    result = project.load(tiltfile)
    assert expected in result.error
    assert result.manifests == []


def test_unknown_builtin_names_file_and_line(project: Project) -> None:
    result = project.load("print('hi')\n\ndocker_bild('x', '.')\n")
    assert f"{project.root / 'Tiltfile'}:3" in result.error
    assert "docker_bild" in result.error
    assert "Traceback (most recent call last):\n  File" not in result.error  # no Python traceback


def test_bad_argument_names_the_argument_and_line(project: Project) -> None:
    result = project.load("x = 1\ndocker_build('app', '.', build_args='nope')\n")
    assert f"{project.root / 'Tiltfile'}:2" in result.error
    assert 'docker_build: for parameter "build_args"' in result.error
    result = project.load("docker_build('app', '.', bogus=1)\n")
    assert "unexpected keyword argument 'bogus'" in result.error and "docker_build" in result.error


def test_syntax_error_names_line(project: Project) -> None:
    result = project.load("x = [1,\ny = 2\n")
    assert "Tiltfile:2" in result.error or "Tiltfile:1" in result.error


def test_fail_stops_with_message(project: Project) -> None:
    result = project.load("fail('custom stop')\n")
    assert "custom stop" in result.error


def test_docker_build_validation(project: Project) -> None:
    assert "invalid image reference" in project.load("docker_build('UPPER', '.')\n").error
    assert "both dockerfile and dockerfile_contents" in project.load(
        "docker_build('a', '.', dockerfile='Dockerfile2', dockerfile_contents='FROM x')\n").error
    assert "already been defined" in project.load("docker_build('a', '.')\ndocker_build('a', '.')\n").error
    # A context that doesn't exist yet is fine (something may create it before the build,
    # as in Tilt); its default Dockerfile is read now, so that one must exist.
    assert "file not found: " + project.path("nowhere/Dockerfile") in project.load(
        "docker_build('a', 'nowhere')\n").error
    made_later = project.ok("docker_build('a', 'later', dockerfile_contents='FROM busybox')\n")
    assert made_later.warnings  # the image is not used by any resource


def test_live_update_steps_are_kept_and_validated(project: Project) -> None:
    project.file("k.yml", DEPLOYMENT.format(name="app", image="app-image"))
    result = project.ok("""
        k8s_yaml('k.yml')
        docker_build('app-image', '.', live_update=[sync('.', '/app'), run('npm i', trigger=['package.json'])],
                     entrypoint='node server.js')
    """)
    target = result.manifest("app").image_target("app-image")
    assert target.live_update == (Sync(str(project.root), "/app"),
                                  Run(("sh", "-c", "npm i"), (str(project.root / "package.json"),)))
    assert target.entrypoint == ("sh", "-c", "node server.js")
    bad = project.load("docker_build('a', '.', live_update=[run('x'), sync('.', '/app')])\n")
    assert "live_update: all sync steps must precede all run steps" in bad.error
    relative = project.load("docker_build('a', '.', live_update=[sync('.', 'relative')])\n").error
    assert 'spec.syncs[0]: Invalid value: "relative": sync destination is not absolute' in relative


def test_relative_paths_resolve_against_calling_file(project: Project) -> None:
    # Tilt's rule: relative paths resolve against the file executing now. A loaded
    # file's top level resolves against itself; its functions, called later from
    # the Tiltfile, resolve against the Tiltfile (so extensions see the user's paths).
    project.file("sub/k.yml", DEPLOYMENT.format(name="sub-app", image="busybox"))
    project.file("k.yml", DEPLOYMENT.format(name="root-app", image="busybox"))
    project.file("sub/lib.star", "k8s_yaml('k.yml')\ndef deploy():\n    k8s_yaml('k.yml')\n    return __file__\n")
    result = project.ok("load('sub/lib.star', 'deploy')\nprint(deploy())\n")
    assert [m.name for m in result.manifests] == ["sub-app", "root-app"]
    assert str(project.root / "sub" / "lib.star") in result.logs
    assert str(project.root / "sub" / "k.yml") in result.watched_files
    assert str(project.root / "k.yml") in result.watched_files


def test_local_read_file_blob_os(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILTPY_TEST_VAR", "from-env")
    project.file("data.txt", "hello\n")
    project.file("cm.yml", CONFIGMAP)
    result = project.ok("""
        out = local('echo hi; echo err >&2', quiet=True)
        print(str(out).strip())
        print(read_file('data.txt').strip(), read_file('nope.txt', default='dflt'))
        print(os.getenv('TILTPY_TEST_VAR'), os.environ.get('TILTPY_TEST_VAR'), os.getenv('NOPE', 'x'))
        print(os.path.basename(os.path.abspath('a/b.txt')), os.path.exists('data.txt'), os.path.join('a', 'b'))
        print(os.path.dirname(__file__) == os.path.abspath('.'))
        k8s_yaml(blob(str(read_file('cm.yml'))))
        k8s_yaml(local('cat cm.yml'), allow_duplicates=True)
    """)
    assert result.logs[1:6] == ["hi", "hello dflt", "from-env from-env x", "b.txt True a/b", "True"]
    assert str(project.root / "data.txt") in result.watched_files
    assert result.manifests[0].name == UNCATEGORIZED


def test_local_failure_reports_command(project: Project) -> None:
    result = project.load("local('echo oops; exit 3')\n")
    assert 'command "echo oops; exit 3" failed' in result.error and "exit status 3" in result.error


def test_production_context_refused_unless_allowed(project: Project) -> None:
    project.file("k.yml", DEPLOYMENT.format(name="app", image="busybox"))
    assert "might be production" in project.load("k8s_yaml('k.yml')\n", context="prod-cluster").error
    project.ok("allow_k8s_contexts('prod-cluster')\nk8s_yaml('k.yml')\n", context="prod-cluster")
    project.ok("k8s_yaml('k.yml')\n", context="kind-dev")


def test_exit_zero_keeps_what_was_declared(project: Project) -> None:
    project.file("k.yml", DEPLOYMENT.format(name="app", image="busybox"))
    result = project.ok("k8s_yaml('k.yml')\nexit(0)\nfail('not reached')\n")
    assert [m.name for m in result.manifests] == ["app"]
    # Tilt's exit(code) logs str(code) and stops without an error, whatever the code.
    stopped = project.ok("k8s_yaml('k.yml')\nexit(2)\nfail('not reached')\n")
    assert [m.name for m in stopped.manifests] == ["app"] and "2" in stopped.logs


def test_unused_image_warns(project: Project) -> None:
    result = project.ok("docker_build('lonely', '.')\n")
    assert any("lonely" in w for w in result.warnings)


def test_match_in_env_vars(project: Project) -> None:
    yml = DEPLOYMENT.format(name="app", image="busybox") + "          env: [{name: IMG, value: helper-image}]\n"
    project.file("k.yml", yml)
    result = project.ok("k8s_yaml('k.yml')\ndocker_build('helper-image', '.', match_in_env_vars=True)\n")
    assert result.manifest("app").k8s.image_refs == ("helper-image",)


def test_tiltfile_result_is_json(project: Project) -> None:
    from tiltpy.cli.tiltfile_result import result_bytes

    project.file("k.yml", DEPLOYMENT.format(name="app", image="app-image"))
    result = project.ok("k8s_yaml('k.yml')\ndocker_build('app-image', '.', live_update=[sync('.', '/a')])\n")
    data = json.loads(result_bytes(result))["Manifests"]
    assert data[0]["Name"] == "app"
    assert data[0]["ImageTargets"][0]["LiveUpdate"][0]["Step"] == "Sync"
    assert os.path.isabs(data[0]["ImageTargets"][0]["Context"])
