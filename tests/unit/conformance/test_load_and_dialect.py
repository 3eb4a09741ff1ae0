"""load(), include(), load_dynamic(), the working directory of loaded files
(include_test.go, loaddynamic/, starkit/environment_test.go), and Tilt's
Starlark dialect: while, recursion, top-level control flow, set(), tabs,
and the type()/str() of the values Tilt hands out (tiltfile_test.go,
live_update.go, probe/, links/, io/blob.go)."""
from __future__ import annotations

import pytest

from tests.unit.conformance.support import Fixture, f  # noqa: F401


def test_include_three_tiltfiles(f: Fixture) -> None:
    """TestIncludeThreeTiltfiles: included files resolve paths against themselves."""
    f.setup_foo_and_bar()
    f.file("foo/Tiltfile", "docker_build('gcr.io/foo', '.')\n")
    f.file("bar/Tiltfile", "docker_build('gcr.io/bar', '.')\n")
    result = f.load("include('./foo/Tiltfile')\ninclude('./bar/Tiltfile')\nk8s_yaml(['foo.yaml', 'bar.yaml'])\n")
    assert f.names() == ["foo", "bar"]
    assert f.manifest("foo").image_targets[0].context == f.path("foo")
    assert {f.path("foo/Tiltfile"), f.path("bar/Tiltfile")} <= set(result.watched_files)


def test_include_circular_and_triangular(f: Fixture) -> None:
    """TestIncludeCircular / TestIncludeTriangular (a file included twice runs once)."""
    f.file("foo/Tiltfile", "include('../Tiltfile')\n")
    f.error("include('./foo/Tiltfile')\n", "Circular load")
    f.file("foo/Tiltfile", "print('foo')\n")
    f.file("bar/Tiltfile", "include('../foo/Tiltfile')\n")
    assert f.load("include('./foo/Tiltfile')\ninclude('./bar/Tiltfile')\n").logs == ["foo"]


def test_include_and_load_errors_name_both_files(f: Fixture) -> None:
    """TestIncludeMissing / TestIncludeError / TestLoadError / TestLoadDynamicError."""
    f.error("include('./foo/Tiltfile')\n", "Tiltfile:1")
    f.file("foo/Tiltfile", "x = 1\nlocal('exit 1')\n")
    for tiltfile in ("load('./foo/Tiltfile', 'x')\n", "include('./foo/Tiltfile')\n", "load_dynamic('./foo/Tiltfile')\n"):
        error = f.error(tiltfile, "exit status 1")
        assert f.path("Tiltfile") + ":1" in error and f.path("foo/Tiltfile") + ":2" in error, error


def test_load_dynamic(f: Fixture) -> None:
    """TestLoadDynamic / TestLoadDynamicOK / CachedLoad."""
    f.file("foo/Tiltfile", "x = 1\nprint('x=' + str(x))\n")
    result = f.load("stuff1 = load_dynamic('./foo/Tiltfile')\nprint('stuff1.x=' + str(stuff1['x']))\n"
                    "stuff2 = load_dynamic('./foo/Tiltfile')\nprint(stuff2)\n")
    assert result.logs == ["x=1", "stuff1.x=1", '{"x": 1}']


def test_working_directory_of_loaded_functions(f: Fixture) -> None:
    """TestUsePwdOfCallSiteLoadingTiltfile / LoadedTiltfile; os_test TestGetCwd*."""
    f.file("bar/Tiltfile", "def hello():\n  return os.getcwd()\nat_load = os.getcwd()\n")
    result = f.load("load('./bar/Tiltfile', 'hello', 'at_load')\nprint(hello())\nprint(at_load)\n")
    assert result.logs == [f.path(), f.path("bar")]


def test_top_level_control_flow_and_reassignment(f: Fixture) -> None:
    """TestTopLevelIfStatement / TestTopLevelForLoop / TestTopLevelVariableRename."""
    f.setup_foo()
    f.load("if True:\n  docker_build('gcr.io/foo', 'foo')\n  k8s_yaml('foo.yaml')\n"
           "for i in range(1, 3):\n\tprint(i)\nx = 1\nx = 2\n")
    assert f.names() == ["foo"] and f.result.logs == ["1", "2"]


def test_recursion(f: Fixture) -> None:
    """TestRecursionEnabled."""
    result = f.load("def fact(n):\n  if not n:\n    return 1\n  return n * fact(n - 1)\n"
                    "print('fact: %d' % (fact(10)))\n")
    assert result.logs == ["fact: 3628800"]


def test_while_loops(f: Fixture) -> None:
    """Tilt's dialect allows `while` (resolve.AllowRecursion); break and continue work."""
    result = f.load("n = 0\nodd = []\nwhile n < 10:\n    n += 1\n    if n % 2 == 0:\n        continue\n"
                    "    if n > 7:\n        break\n    odd.append(n)\nprint(odd, n)\n"
                    "def count(limit):\n  i = 0\n  while True:\n    i += 1\n    if i >= limit: break\n  return i\n"
                    "print(count(5))\n")
    assert result.logs == ["[1, 3, 5, 7] 9", "5"]


def test_errors_after_a_while_loop_name_the_users_lines(f: Fixture) -> None:
    error = f.error("x = 0\nwhile x < 3:\n    x += 1\nfail('at line 4')\n", "at line 4")
    assert f.path("Tiltfile") + ":4" in error and "fail('at line 4')" in error
    error = f.error("while nope < 3:\n    pass\n", "nope")
    assert f.path("Tiltfile") + ":1:7" in error and "while nope < 3:" in error


def test_set(f: Fixture) -> None:
    """resolve.AllowSet: set() with `in`, len, iteration, | and union-free equality."""
    result = f.load("s = set([1, 2, 2])\nprint(type(s), str(s), len(s), 2 in s, sorted(s | set([5])))\n"
                    "print(set([3]) == set([3]), [x for x in set(['a'])])\n")
    assert result.logs == ["set set([1, 2]) 2 True [1, 2, 5]", "True [\"a\"]"]


VALUES = [
    ("sync('foo', '/bar')", "live_update_sync_step", "sync step: '<root>/foo'->'/bar'"),
    ("run('make', trigger=['a', 'b'])", "live_update_run_step", 'run step: "make" (triggers: a; b)'),
    ("run(['echo', 'a b'])", "live_update_run_step", 'run step: "echo \\"a b\\""'),
    ("fall_back_on(['x', 'y'])", "live_update_fall_back_on_step", "fall_back_on step: [<root>/x <root>/y]'"),
    ("restart_container()", "live_update_restart_container_step", "restart_container step"),
    ("port_forward(8000, 80, name='web')", "port_forward",
     'port_forward(local_port=8000, container_port=80, name="web")'),
    ("port_forward(8000)", "port_forward", 'port_forward(local_port=8000, container_port=0, name="")'),
    ("blob('hello')", "blob", "hello"),
    ("read_file('data.txt')", "blob", "some data"),
    ("local('echo hi', quiet=True, echo_off=True).strip()", "string", "hi"),
    ("encode_yaml({'a': 1})", "blob", "a: 1"),
    ("encode_json({'a': 1}).replace('\\n', '')", "string", '{  "a": 1}'),
    ("TRIGGER_MODE_AUTO", "TriggerMode", "TRIGGER_MODE_AUTO"),
    ("link('localhost:4000', 'web')", "struct", 'link(name = "web", url = "localhost:4000")'),
    ("probe(exec=exec_action(['true']))", "Probe",
     'Probe(exec = ExecAction(command = ["true"]), failure_threshold = 0, http_get = None, initial_delay_secs = 0,'
     ' period_secs = 0, success_threshold = 0, tcp_socket = None, timeout_secs = 0)'),
    ("http_get_action(8000, path='/x')", "HTTPGetAction", 'HTTPGetAction(host = "", path = "/x", port = 8000, scheme = "")'),
    ("tcp_socket_action(80, 'h')", "TCPSocketAction", 'TCPSocketAction(host = "h", port = 80)'),
    ("v1alpha1.ui_text_input_spec(placeholder='x')", "dict", '{"placeholder": "x"}'),
    ("set(['a'])", "set", 'set(["a"])'),
]


def test_type_and_str_of_tilt_values(f: Fixture) -> None:
    """Tilt's Type() and String() of the values its builtins return (live_update.go,
    k8s.go portForward, io/blob.go, triggerMode, links/, probe/, v1alpha1 helpers
    being dicts); str(), print() and `%s` give the same text (struct-like values:
    str() and print())."""
    f.file("data.txt", "some data")
    lines = []
    for i, (expr, _, _) in enumerate(VALUES):
        lines.append(f"v{i} = {expr}\nprint(type(v{i}))\nprint(str(v{i}))\nprint(v{i})\n")
        if not expr.startswith(("link", "probe", "http_get", "tcp_socket", "set")):
            lines.append(f"print('%s' % v{i})\n")
    # Steps must be used (Tilt refuses unused ones).
    lines.append("docker_build('img', '.', dockerfile_contents='FROM x', live_update=[v3, v0, v1, v2, v4])\n")
    result = f.load("".join(lines))
    logs = iter(result.logs)
    for expr, type_name, text in VALUES:
        text = text.replace("<root>", f.path())
        shown = [next(logs) for _ in range(4 if not expr.startswith(("link", "probe", "http_get", "tcp_socket", "set"))
                                                 else 3)]
        assert shown[0] == type_name, expr
        assert all(s == text for s in shown[1:]), (expr, shown)


def test_struct_like_values_have_their_attributes(f: Fixture) -> None:
    """probe_test.go / links_test.go: p.exec.command, l.url, l.name."""
    result = f.load("p = probe(initial_delay_secs=123, timeout_secs=456, period_secs=789, success_threshold=987,"
                    " failure_threshold=654, exec=exec_action([]), http_get=None)\n"
                    "print(p.initial_delay_secs, p.timeout_secs, p.period_secs, p.success_threshold, "
                    "p.failure_threshold)\nprint('exec:', p.exec)\nprint('http_get:', p.http_get)\n"
                    "h = probe(http_get=http_get_action(host='example.com', port=8888, scheme='https', path='/status'))\n"
                    "print(h.http_get.host, h.http_get.port, h.http_get.scheme, h.http_get.path)\n"
                    "l = link('localhost:4000', 'web')\nprint(l.url)\nprint(l.name)\n")
    assert result.logs == ["123 456 789 987 654", "exec: ExecAction(command = [])", "http_get: None",
                           "example.com 8888 https /status", "localhost:4000", "web"]


@pytest.mark.parametrize("tiltfile, message", [
    ("probe()\n", "exactly one of exec, http_get, or tcp_socket must be specified"),
    ("probe(exec=exec_action([]), http_get=http_get_action(8000))\n",
     "exactly one of exec, http_get, or tcp_socket must be specified"),
    ("l = link('localhost:4000', 'web')\nl.url = 'XXX'\n", "url"),
])
def test_probe_and_link_errors(f: Fixture, tiltfile: str, message: str) -> None:
    """TestProbeActions_None / Multiple; TestLinkPropsImmutable."""
    f.error(tiltfile, message)


def test_unused_live_update_step(f: Fixture) -> None:
    """TestLiveUpdateStepNotUsed."""
    f.error("restart_container()\n", "steps that were created but not used in a live_update", "restart_container")
