"""os, os.path, sys, shlex and local(): Go's path semantics, a live
os.environ, the working directory of the executing file, local()'s options."""
from __future__ import annotations

import json
import os

import pytest

from tests.unit.test_tiltfile_support import Project, project  # noqa: F401


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch):
    # The Tiltfiles below set variables in this process, as Tilt does in its own.
    for key in ("TILTPY_OS_A", "TILTPY_OS_B", "TILTPY_OS_C", "TILTPY_OS_GONE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TILTPY_OS_GONE", "x")
    yield


def test_os_path_follows_go(project: Project) -> None:
    result = project.ok("""
        print(os.path.join('a', 'b/', '../c'), os.path.join('a', '/b'), os.path.join('', ''))
        print(os.path.dirname('x'), os.path.dirname('/a/b/'), os.path.dirname('/a'))
        print(os.path.basename('/a/b/'), os.path.basename(''), os.path.basename('/'))
        print(os.path.relpath('/x/y/z', '/x'), os.path.relpath('/x', '/x/y'))
        print(os.path.abspath('sub/../f.txt') == os.path.join(os.getcwd(), 'f.txt'), os.path.abspath('/a/../b'))
        print(os.path.exists('Dockerfile'), os.path.exists('nope'))
        print(os.name, shlex.quote("foo's bar"), shlex.quote('plain'))
    """)
    assert result.logs == [
        "a/c a/b ",
        ". /a/b /",
        "b . /",
        "y/z ..",
        "True /a/../b",
        "True False",
        "posix 'foo'\"'\"'s bar' plain",
    ]


@pytest.mark.parametrize("tiltfile, expected", [
    ("os.path.relpath('/code/foo', 'other/path')\n", "can't make /code/foo relative to other/path"),
    ("os.path.join('a', 1)\n", "os.path.join() only accepts strings. Argument #1"),
    ("os.path.realpath('missing')\n", "no such file or directory"),
])
def test_os_path_errors(project: Project, tiltfile: str, expected: str) -> None:
    assert expected in project.error(tiltfile)


def test_environ_is_live_for_getenv_and_local(project: Project) -> None:
    result = project.ok("""
        os.environ['TILTPY_OS_A'] = 'from-environ'
        print(os.getenv('TILTPY_OS_A'), local('echo $TILTPY_OS_A', quiet=True).strip())
        os.putenv('TILTPY_OS_B', 'from-putenv')
        print(os.environ['TILTPY_OS_B'], os.getenv('TILTPY_OS_B'), 'TILTPY_OS_B' in os.environ)
        os.unsetenv('TILTPY_OS_GONE')
        print('TILTPY_OS_GONE' in os.environ, os.getenv('TILTPY_OS_GONE', 'unset'))
        os.environ.pop('TILTPY_OS_B')
        print(local('echo ${TILTPY_OS_B:-none}', quiet=True).strip(), os.getenv('TILTPY_OS_B'))
        os.environ['TILTPY_OS_C'] = 'set-at-end'
    """)
    printed = [line for line in result.logs if not line.startswith("local: ")]
    assert printed == ["from-environ from-environ", "from-putenv from-putenv True", "False unset", "none None"]
    # Writes reach the process when the file finishes (later commands see them).
    assert os.environ.get("TILTPY_OS_C") == "set-at-end"
    assert "TILTPY_OS_GONE" not in os.environ


def test_getcwd_is_the_executing_files_directory(project: Project) -> None:
    project.file("sub/lib.star", "TOP = os.getcwd()\ndef cwd():\n    return os.getcwd()\n")
    result = project.ok("""
        load('sub/lib.star', 'TOP', 'cwd')
        print(TOP, cwd(), os.getcwd())
    """)
    assert result.logs == [f"{project.path('sub')} {project.path()} {project.path()}"]


def test_sys_argv_and_executable(project: Project) -> None:
    result = project.ok("config.define_string('foo')\nconfig.parse()\nprint(sys.argv, type(sys.executable))\n",
                        args=["--foo", "bar"])
    argv = json.loads(result.logs[0].rsplit(" ", 1)[0])
    assert argv[-2:] == ["--foo", "bar"] and result.logs[0].endswith("string")


def test_local_options(project: Project) -> None:
    project.file("sub/marker", "")
    result = project.ok("""
        print(local(['sh', '-c', 'cat; echo " $X"'], stdin='in', env={'X': 'x'}, quiet=True))
        print(local('ls', dir='sub', quiet=True).strip())
        local('true')
        local('echo visible; echo err >&2')
        local('echo hidden', echo_off=True, quiet=True)
        local('echo works', command_bat='echo windows-only')
    """)
    printed = [line for line in result.logs if not line.startswith(("local: ", " → "))]
    assert printed[:2] == ["in x", "marker"]
    assert 'local: cat; echo " $X"' in result.logs  # a `sh -c` argv shows as its script
    assert "local: true" in result.logs and " → [no output]" in result.logs
    assert "local: echo visible; echo err >&2" in result.logs
    assert " → visible" in result.logs and " → err" in result.logs
    assert not any("hidden" in line for line in result.logs)
    assert " → works" in result.logs


def test_local_failure_and_production_context(project: Project) -> None:
    err = project.error("local('echo out; echo bad >&2; exit 3', quiet=True)\n")
    assert 'command "echo out; echo bad >&2; exit 3" failed.\nerror: exit status 3' in err
    assert "stdout:\nout\n" in err and "stderr:\nbad" in err
    # Output already logged is not repeated in the error.
    loud = project.load("local('echo shown; exit 4')\n")
    assert "exit status 4" in loud.error and "stdout:" not in loud.error and " → shown" in loud.logs
    # Tilt refuses to run local commands against a context that might be production.
    refused = project.error("local('true')\n", context="gke-prod")
    assert "Refusing to run 'local' because gke-prod might be a production kube context" in refused
    project.ok("allow_k8s_contexts('gke-prod')\nlocal('true')\n", context="gke-prod")
