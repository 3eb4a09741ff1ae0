"""config.*: settings from tilt_config.json overlaid with the args after `--`,
and which resources are enabled."""
from __future__ import annotations

import json

import pytest

from tests.unit.test_tiltfile_support import DEPLOYMENT, Project, project  # noqa: F401

THREE = "---\n".join(DEPLOYMENT.format(name=n, image="busybox") for n in ("web", "api", "db"))


def test_parse_args_and_config_file(project: Project) -> None:
    project.file("tilt_config.json", json.dumps({"env": "staging", "flags": ["a"], "debug": False,
                                                 "obj": {"k": [1]}, "unset": None}))
    result = project.ok("""
        config.define_string('env')
        config.define_string_list('flags')
        config.define_bool('debug')
        config.define_object('obj')
        config.define_string('unset')
        config.define_string_list('to-run', args=True, usage='resources to run')
        cfg = config.parse()
        print(cfg)
        print(config.parse() == cfg)
    """, args=["--debug", "--flags", "x", "--flags=y", "web", "api"])
    values = json.loads(result.logs[0].replace("True", "true").replace("False", "false"))
    assert values == {"env": "staging", "flags": ["x", "y"], "debug": True, "obj": {"k": [1]},
                      "to-run": ["web", "api"]}
    assert result.logs[1] == "True"
    assert project.path("tilt_config.json") in result.watched_files
    assert result.config_values["to-run"] == ["web", "api"]
    # config.parse() was called: the args are its, not resource names.
    assert result.enabled_resources is None


def test_subcommand_main_path_main_dir(project: Project) -> None:
    project.file("sub/lib.star", "INFO = (config.main_path, config.main_dir, config.tilt_subcommand)\n")
    result = project.ok("load('sub/lib.star', 'INFO')\nprint(INFO)\n", subcommand="down")
    assert json.loads(result.logs[0]) == [project.path("Tiltfile"), project.path(), "down"]


@pytest.mark.parametrize("tiltfile, args, expected", [
    ("config.define_string('a')\nconfig.parse()\n", ["--b", "x"], "invalid Tiltfile config args: unknown flag: --b"),
    ("config.define_string('a')\nconfig.parse()\n", ["--a"], "flag needs an argument: --a"),
    ("config.define_string('a')\nconfig.parse()\n", ["--a", "1", "--a", "2"],
     'invalid argument "2" for "--a" flag: string settings can only be specified once'),
    ("config.define_bool('a')\nconfig.parse()\n", ["--a=maybe"], 'strconv.ParseBool: parsing "maybe"'),
    ("config.define_object('a')\nconfig.parse()\n", ["--a", "{"], "decoding JSON"),
    ("config.define_string('a')\nconfig.parse()\n", ["pos"],
     'positional CLI args ("pos") were specified, but none were expected'),
    ("config.define_string('a', args=True)\nconfig.parse()\n", ["p1", "p2"],
     "invalid positional args (a): string settings can only be specified once"),
    ("config.define_string('a')\nconfig.define_bool('a')\n", [], "a defined multiple times"),
    ("config.define_string('a', args=True)\nconfig.define_string_list('b', args=True)\n", [],
     "both b and a are defined as positional args"),
    ("config.parse()\nconfig.define_string('late')\n", [],
     "config.define_string cannot be called after config.parse is called"),
    ("config.define_string('')\n", [], "'name' is required"),
    ("config.parse()\n", ["-x"], "unknown shorthand flag: 'x' in -x"),
])
def test_parse_errors(project: Project, tiltfile: str, args: list[str], expected: str) -> None:
    assert expected in project.error(tiltfile, args=args)


@pytest.mark.parametrize("config_json, expected", [
    ({"nope": 1}, "specified unknown setting name 'nope'"),
    ({"a": 1}, "specified invalid value for setting a: expected string, found float64"),
    ({"l": "x"}, "specified invalid value for setting l: expected array"),
])
def test_config_file_errors(project: Project, config_json: dict, expected: str) -> None:
    project.file("tilt_config.json", json.dumps(config_json))
    assert expected in project.error("config.define_string('a')\nconfig.define_string_list('l')\nconfig.parse()\n")


def test_parse_only_from_one_directory(project: Project) -> None:
    project.file("sub/lib.star", "config.parse()\nX = 1\n")
    err = project.error("config.parse()\nload('sub/lib.star', 'X')\n")
    assert "config.parse can only be called from one Tiltfile working directory per run" in err


def test_args_select_resources_until_parse(project: Project) -> None:
    project.file("k.yml", THREE)
    tiltfile = "k8s_yaml('k.yml')\nk8s_resource('web', resource_deps=['db'])\n"
    assert project.ok(tiltfile).enabled_resources is None
    assert project.ok(tiltfile, args=["web"]).enabled_resources == ["web", "db"]
    assert project.ok(tiltfile + "config.parse()\n", args=[]).enabled_resources is None
    err = project.error(tiltfile, args=["wbe"])
    assert 'You specified some resources that could not be found: "wbe"' in err
    assert 'Existing resources in Tiltfile: "web", "api", "db"' in err


def test_set_and_clear_enabled_resources(project: Project) -> None:
    project.file("k.yml", THREE)
    project.file("cm.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    base = "k8s_yaml(['k.yml', 'cm.yml'])\n"
    result = project.ok(base + "config.define_string_list('to-run', args=True)\ncfg = config.parse()\n"
                        "config.set_enabled_resources(cfg.get('to-run', []))\n", args=["api"])
    assert result.enabled_resources == ["api", "uncategorized"]
    assert project.ok(base + "config.set_enabled_resources([])\n").enabled_resources is None
    assert project.ok(base + "config.clear_enabled_resources()\n").enabled_resources == []
    assert project.ok(base + "config.clear_enabled_resources()\nconfig.set_enabled_resources(['db'])\n") \
        .enabled_resources == ["db", "uncategorized"]
