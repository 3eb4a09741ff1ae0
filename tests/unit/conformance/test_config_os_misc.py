"""config (config/config_test.go), os (os/os_test.go), print/exit, sys, shlex,
read_file, watch_settings and version_settings (their _test.go files)."""
from __future__ import annotations

import os

import pytest

from tests.unit.conformance.support import Fixture, f  # noqa: F401

TWO = "local_resource('a', 'echo a')\nlocal_resource('b', 'echo b')\n"


@pytest.mark.parametrize("parse, args, tiltfile_resources, expected", [
    (False, [], [], None),
    (True, [], [], None),
    (False, ["a"], [], ["a"]),
    (True, ["a"], [], None),
    (False, [], ["b"], ["b"]),
    (True, [], ["b"], ["b"]),
    (False, ["a"], ["b"], ["b"]),
    (True, ["a"], ["b"], ["b"]),
])
def test_enabled_resources(f: Fixture, parse: bool, args: list[str], tiltfile_resources: list[str],
                           expected: list[str] | None) -> None:
    """TestSetResources: args name resources until config.parse() takes them."""
    tiltfile = TWO
    if tiltfile_resources:
        tiltfile += f"config.set_enabled_resources({tiltfile_resources!r})\n"
    if parse:
        tiltfile += "config.define_string_list('resources', args=True)\nconfig.parse()\n"
    result = f.load(tiltfile, args=args)
    assert result.enabled_resources in (expected, ["a", "b"] if expected is None else expected)


def test_clear_enabled_resources(f: Fixture) -> None:
    """TestClearEnabledResources / WithArgs."""
    assert f.load(TWO + "config.clear_enabled_resources()\n", args=["united", "states"]).enabled_resources == []
    f.error("config.clear_enabled_resources('foo')\n", "clear_enabled_resources")


def test_parse_positional_and_keyword(f: Fixture) -> None:
    """TestParsePositional / Keyword / PositionalAndMultipleInterspersedKeyword / KeywordAfterPositional."""
    result = f.load("config.define_string_list('foo', args=True)\nconfig.define_string_list('bar')\n"
                    "config.define_string_list('baz')\ncfg = config.parse()\n"
                    "print('foo:', cfg['foo'])\nprint('bar:', cfg['bar'])\nprint('baz:', cfg['baz'])\n",
                    args=["--bar", "puerto rico", "--baz", "colombia", "--bar", "venezuela", "--baz", "honduras",
                          "--baz", "guyana", "and", "still"])
    assert result.logs == ['foo: ["and", "still"]', 'bar: ["puerto rico", "venezuela"]',
                           'baz: ["colombia", "honduras", "guyana"]']
    result = f.load("config.define_string_list('foo', args=True)\nconfig.define_string('bar')\ncfg = config.parse()\n"
                    "print('foo:', cfg['foo'])\nprint('bar:', cfg['bar'])\n", args=["--bar", "puerto rico", "colombia"])
    assert result.logs == ['foo: ["colombia"]', "bar: puerto rico"]


@pytest.mark.parametrize("tiltfile, args, message", [
    ("config.define_string_list('foo', args=True)\nconfig.define_string_list('bar', args=True)\n", [],
     "both bar and foo are defined as positional args"),
    ("config.define_string_list('foo')\nconfig.define_string_list('foo')\n", [], "foo defined multiple times"),
    ("config.define_string_list('foo', usage='what can I foo for you today?')\nconfig.parse()\n", ["--bar", "hello"],
     "invalid Tiltfile config args: unknown flag: --bar\nUsage:\n      --foo list[string]   what can I foo for you today?"),
    ("config.define_string_list('foo')\ncfg = config.parse()\nprint(cfg['foo'])\n", [], "foo"),
    ("cfg = config.parse()\n", ["do", "re", "mi"],
     'invalid Tiltfile config args: positional CLI args ("do re mi") were specified, but none were expected.'),
])
def test_config_errors(f: Fixture, tiltfile: str, args: list[str], message: str) -> None:
    """TestMultiplePositionalDefs / MultipleArgsSameName / Usage / UnprovidedArg / ProvidedButUnexpectedPositionalArgs."""
    f.error(tiltfile, message, args=args)


def test_default_tilt_behavior(f: Fixture) -> None:
    """TestDefaultTiltBehavior."""
    result = f.load(TWO + "local_resource('c', 'echo c')\n"
                    "config.define_string_list('resources', usage='which resources', args=True)\n"
                    "config.set_enabled_resources(config.parse()['resources'])\n", args=["a", "b"])
    assert result.enabled_resources == ["a", "b"]


def test_environ(f: Fixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """TestEnviron / Getenv / Putenv / PutenvByDict / Unsetenv / UnsetenvAsDict."""
    monkeypatch.setenv("FAKE_ENV_VARIABLE", "fakeValue")
    monkeypatch.setenv("FAKE_ENV_VARIABLE_2", "x")
    result = f.load("print(os.environ['FAKE_ENV_VARIABLE'])\nprint(os.environ.get('FAKE_ENV_VARIABLE'))\n"
                    "print(os.getenv('FAKE_ENV_VARIABLE', 'foo'))\nprint(os.getenv('FAKE_ENV_VARIABLE_UNSET', 'bar'))\n"
                    "os.putenv('FAKE_ENV_VARIABLE', 'fakeValue2')\nprint(os.getenv('FAKE_ENV_VARIABLE'))\n"
                    "os.environ['FAKE_ENV_VARIABLE'] = 'fakeValueByDict'\nprint(os.getenv('FAKE_ENV_VARIABLE'))\n"
                    "os.unsetenv('FAKE_ENV_VARIABLE_2')\nprint(os.getenv('FAKE_ENV_VARIABLE_2', 'unused'))\n")
    assert result.logs == ["fakeValue", "fakeValue", "fakeValue", "bar", "fakeValue2", "fakeValueByDict", "unused"]
    assert os.environ["FAKE_ENV_VARIABLE"] == "fakeValueByDict" and "FAKE_ENV_VARIABLE_2" not in os.environ


def test_paths(f: Fixture) -> None:
    """TestGetCwdLoad / TestAbspath / TestRelpath* / TestBasename / TestDirname / TestExists."""
    f.file("foo/Tiltfile", "cwd = os.getcwd()\npath = os.path.abspath('.')\nbase = os.path.basename(path)\n"
                           "parent = os.path.dirname(path)\nrel = os.path.relpath(r'%s')\n"
                           "exists = [os.path.exists(p) for p in ['foo/Tiltfile', './Tiltfile', '../Tiltfile', '../foo',"
                           " '../bar']]\n" % f.path("foo/beep/boop"))
    result = f.load("load('./foo/Tiltfile', 'cwd', 'path', 'base', 'parent', 'rel', 'exists')\n"
                    "print(cwd, path, base, parent, rel)\nprint(exists)\nprint(os.path.relpath(r'%s', r'%s'))\n"
                    % (f.path("beep/boop"), f.path("beep/")))
    assert result.logs == [f"{f.path('foo')} {f.path('foo')} foo {f.path()} beep/boop",
                           "[False, True, True, True, False]", "boop"]
    f.error("print(os.path.relpath('some/nonsense/path'))\n", "can't make some/nonsense/path relative to")


def test_print_warn_exit(f: Fixture) -> None:
    """print_test.go TestWarn / TestFail / TestExitArgTypes / TestExitLoadedTiltfile."""
    result = f.load("warn('problem 1')\n")
    assert "problem 1" in result.warnings
    f.error("fail('problem 1')\n", "problem 1")
    for arg, shown in (("'goodbye'", "goodbye"), ("{'a': 1}", '{"a": 1}'), ("None", None)):
        result = f.load(f"exit({arg})\nfail(\"this can't happen!\")\n")
        assert result.logs == ([shown] if shown else [])
    f.file("exit.tiltfile", "exit('later alligator')\n")
    result = f.load("load('./exit.tiltfile', 'this_symbol_does_not_exist')\nfail(\"this can't happen!\")\n")
    assert "later alligator" in result.logs


def test_sys_and_shlex(f: Fixture) -> None:
    """sys_test.go TestArgv / TestExecutable; shlex_test.go TestQuote."""
    result = f.load("print(type(sys.argv), type(sys.executable))\nprint(shlex.quote(\"foo '$FOO'\"))\n")
    assert result.logs == ["list string", "'foo '\"'\"'$FOO'\"'\"''"]


def test_read_file(f: Fixture) -> None:
    """io_test.go TestReadFile / Default / DefaultEmptyString / Missing; TestDefaultReadFile."""
    f.file("exists.txt", "hello")
    result = f.load("print(read_file('exists.txt'))\nprint(read_file('dne.txt', 'default'))\n"
                    "print(repr(str(read_file('dne2.txt', ''))))\n")
    assert result.logs == ["hello", "default", '""']
    assert f.path("dne.txt") in result.watched_files
    f.error("read_file('dne.txt')\n", "dne.txt")


def test_watch_settings(f: Fixture) -> None:
    """watch_test.go TestBasic / TestLoaded."""
    f.file("foo/Tiltfile", "watch_settings(ignore=['bar'])\nx = 1\n")
    result = f.load("watch_settings(ignore=['foo'])\nload('./foo/Tiltfile', 'x')\n")
    assert result.watch_ignores == ["foo", "foo/bar"]


def test_version_settings(f: Fixture) -> None:
    """version_test.go: check_updates, constraints (tiltpy answers as Tilt v0.32.4)."""
    assert f.load("version_settings(check_updates=False)\nversion_settings(constraint='0.x')\n") \
        .version_check_updates is False
    f.load("version_settings(constraint='>=0.23.4')\n")
    f.error("version_settings(constraint='<0.1.0')\n", "'<0.1.0'")
