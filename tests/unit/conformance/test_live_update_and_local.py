"""live_update (live_update_test.go) and local_resource (tiltfile_test.go)."""
from __future__ import annotations

import pytest

from tests.unit.conformance.support import Fixture, deployment, f  # noqa: F401
from tiltpy.model.manifest import FallBackOn, Run, Sync

STEPS = "[fall_back_on(['foo/i', 'foo/j']), sync('foo/b', '/c'), run('f', ['g', 'h'])]"


@pytest.mark.parametrize("tiltfile", [
    "docker_build('foo', 'foo', live_update=%s)",  # TestLiveUpdateDockerBuildUnqualifiedImageName
    "default_registry('gcr.io')\ndocker_build('foo', 'foo', live_update=%s)",  # ...DefaultRegistry
    "custom_build('foo', 'docker build -t $TAG foo', ['foo'], live_update=%s)",  # TestLiveUpdateCustomBuild
])
def test_live_update_steps(f: Fixture, tiltfile: str) -> None:
    f.dockerfile("foo/Dockerfile")
    f.yaml("foo.yaml", deployment("foo", image="foo"))
    f.load("k8s_yaml('foo.yaml')\n" + tiltfile % STEPS + "\n")
    assert f.manifest("foo").image_targets[0].live_update == (
        FallBackOn((f.path("foo/i"), f.path("foo/j"))), Sync(f.path("foo/b"), "/c"),
        Run(("sh", "-c", "f"), (f.path("g"), f.path("h"))))


@pytest.mark.parametrize("cmd, argv", [('"echo hi"', ("sh", "-c", "echo hi")), ('["echo", "hi"]', ("echo", "hi"))])
def test_run_commands(f: Fixture, cmd: str, argv: tuple[str, ...]) -> None:
    """TestLiveUpdateRun."""
    f.file("imageA.dockerfile", "FROM golang:1.10")
    f.yaml("foo.yaml", deployment("foo", image="gcr.io/image-a"))
    f.load(f"docker_build('gcr.io/image-a', 'a', dockerfile='imageA.dockerfile', live_update=[run({cmd})])\n"
           "k8s_yaml('foo.yaml')\n")
    assert f.manifest("foo").image_targets[0].live_update == (Run(argv),)


@pytest.mark.parametrize("steps, message", [
    ("restart_container(), sync('foo', '/baz')", "restart container is only valid as the last step"),
    ("sync('foo', 'baz')", 'sync destination is not absolute'),
    ("run('quu'), sync('foo', '/baz')", "all sync steps must precede all run steps"),
    ("'quu', sync('foo', '/baz')", "'steps' must be a list of live update steps - got value '\"quu\"' of type 'string'"),
    ("fall_back_on(4), sync('foo', '/baz')",
     "fall_back_on: for parameter paths: value should be a string or List or Tuple of strings, but is of type int"),
    ("run('bar', [4])", "contained value '4' of type 'int'. it may only contain strings"),
    ("sync('foo', '/baz'), fall_back_on('foo/x')", "fall_back_on steps must appear at the start of the list"),
])
def test_live_update_errors(f: Fixture, steps: str, message: str) -> None:
    """TestLiveUpdateRestartContainerNotLast / SyncRelDest / RunBeforeSync / NonStepInSteps /
    NonStringInFullBuildTriggers / NonStringInRunTriggers."""
    f.setup_foo()
    f.error(f"k8s_yaml('foo.yaml')\ndocker_build('gcr.io/foo', 'foo', live_update=[{steps}])\n", message)


def test_restart_container_is_refused_for_kubernetes(f: Fixture) -> None:
    """TestLiveUpdateRestartContainerDeprecationErrorK8s (tiltpy's message points to restart_process too)."""
    f.setup_foo()
    f.error("k8s_yaml('foo.yaml')\ndocker_build('gcr.io/foo', './foo', live_update=[sync('foo/bar', '/baz'),"
            " restart_container()])\n", "restart_container()", "restart_process")


def test_run_trigger_outside_every_sync_is_accepted(f: Fixture) -> None:
    """Tilt v0.32.4 accepts run(trigger=) paths no sync() covers (issue 10)."""
    f.setup_foo()
    f.load("k8s_yaml('foo.yaml')\ndocker_build('gcr.io/foo', 'foo', live_update=[sync('foo/src', '/app'),"
           " run('make', trigger=['foo/Makefile'])])\n")
    assert f.manifest("foo").image_targets[0].live_update[1].triggers == (f.path("foo/Makefile"),)


def test_local_resource_commands(f: Fixture) -> None:
    """TestLocalResourceOnlyUpdateCmd / OnlyServeCmd / UpdateAndServeCmd / *Array / *Env / *Dir /
    TestLocalResourceAllowParallel."""
    f.file("nested/inside.txt", "x")
    f.load("local_resource('a', 'echo hi', deps=['foo/bar', 'foo/a.txt'])\n"
           "local_resource('b', serve_cmd='sleep 1000')\n"
           "local_resource('c', cmd=['echo', 'hi'], serve_cmd=['sleep', '1'], env={'KEY1': 'value1'},"
           " serve_env={'KEY2': 'value2'})\n"
           "local_resource('d', cmd='cat inside.txt', dir='nested', serve_cmd='cat inside.txt', serve_dir='nested')\n"
           "local_resource('e', cmd='cat here.txt', dir=None, allow_parallel=True)\n")
    a, b, c, d, e = (f.manifest(n).local for n in "abcde")
    assert a.cmd == ("sh", "-c", "echo hi") and a.deps == (f.path("foo/bar"), f.path("foo/a.txt"))
    assert a.workdir == f.path() and not a.allow_parallel
    assert b.serve_cmd == ("sh", "-c", "sleep 1000") and b.cmd == ()
    assert c.cmd == ("echo", "hi") and dict(c.env) == {"KEY1": "value1"} and dict(c.serve_env) == {"KEY2": "value2"}
    assert d.workdir == d.serve_workdir == f.path("nested")
    assert e.workdir == f.path() and e.allow_parallel


def test_local_resource_errors(f: Fixture) -> None:
    """TestLocalResourceNeitherUpdateOrServeCmd / TestDuplicateLocalResources."""
    f.error("local_resource('test')\n", "cmd", "serve_cmd")
    f.error("local_resource('foo', 'echo foo')\nlocal_resource('foo', 'echo foo')\n", "already exists")


def test_local_resource_in_included_file_resolves_against_it(f: Fixture) -> None:
    """TestLocalResourceWorkdir."""
    f.file("nested/Tiltfile", "local_resource('nested-local', 'echo nested', deps=['foo/bar'])\n")
    f.load("include('nested/Tiltfile')\nlocal_resource('toplvl-local', 'echo hello world', deps=['foo/baz'])\n")
    assert f.manifest("nested-local").local.workdir == f.path("nested")
    assert f.manifest("nested-local").local.deps == (f.path("nested/foo/bar"),)
    assert f.manifest("toplvl-local").local.deps == (f.path("foo/baz"),)


def test_local(f: Fixture) -> None:
    """TestLocalEnv / EmptyArray / EmptyString / Stdin / StdinChain / Quiet / EchoOff / NoOutput / ArgvCmd."""
    result = f.load("print(str(local('echo $FOO', env={'FOO': 'bar'}, quiet=True)).rstrip('\\n'))\n"
                    "local('head -4 | tail -2', stdin='foo\\nbar\\nbaz\\nquu\\nqux\\n')\n"
                    "local('cat', stdin=local('echo hi'))\n"
                    "local('echo quiet', quiet=True)\nlocal('echo secret', echo_off=True)\nlocal('exit 0')\n"
                    "local(['echo', 'a\"b'])\n")
    logs = result.logs
    assert "bar" in logs
    assert "local: head -4 | tail -2" in logs and " → baz" in logs and " → quu" in logs
    assert "local: echo quiet" in logs and " → quiet" not in logs
    assert not any("echo secret" in line for line in logs) and " → secret" in logs
    assert logs[logs.index("local: exit 0") + 1] == " → [no output]"
    assert ' → a"b' in logs
    f.error("local([])\n", "empty")
    f.error("local('')\n", "empty")
