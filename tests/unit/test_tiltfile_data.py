"""Files and data builtins: read_json/yaml, decode/encode, listdir, watch_file,
read_file, blob, struct — values, defaults, errors, and which files are watched."""
from __future__ import annotations

import json

import pytest

from tests.unit.test_tiltfile_support import Project, project  # noqa: F401


def test_read_json_and_yaml_values_and_watching(project: Project) -> None:
    project.file("d.json", '{"name": "x", "n": 3, "f": 1.5, "l": [true, null]}')
    project.file("d.yaml", "a: 1\nwhen: 2001-12-14\n1: one\nf: 2.0\nlist: [x, y]\n")
    project.file("s.yaml", "a: 1\n---\n---\nb: 2\n")
    result = project.ok("""
        j = read_json('d.json')
        print(j['name'], j['n'] + 1, j['f'], j['l'])
        y = read_yaml('d.yaml')
        print(y['a'], y['when'], y['1'], y['f'], y['list'])
        print(read_yaml_stream('s.yaml'))
        print(read_json('missing.json', default={'d': 1}), read_yaml('missing.yaml', default='dflt'))
        print(read_yaml_stream('missing.yaml', default=[]))
    """)
    assert result.logs == [
        'x 4 1.5 [True, None]',
        '1 2001-12-14 one 2 ["x", "y"]',
        '[{"a": 1}, {"b": 2}]',
        '{"d": 1} dflt',
        '[]',
    ]
    for name in ("d.json", "d.yaml", "s.yaml", "missing.json", "missing.yaml"):
        assert project.path(name) in result.watched_files


@pytest.mark.parametrize("tiltfile, expected", [
    ("read_json('nope.json')\n", "no such file or directory"),
    ("read_yaml('nope.yaml')\n", "no such file or directory"),
    ("read_yaml('stream.yaml')\n", "expected a yaml document but found a yaml stream"),
    ("decode_yaml('a: 1\\n---\\nb: 2\\n')\n", "use decode_yaml_stream instead"),
    ("read_json('bad.json')\n", "error parsing JSON from"),
    ("decode_json('{\"a\": 1} {\"b\": 2}')\n", "found multiple JSON values"),
    ("decode_yaml('a: [1\\n')\n", "error parsing YAML"),
    ("encode_json({1: 'a'})\n", "only string keys are supported in maps"),
    ("read_yaml_stream('nope.yaml', default='x')\n", 'for parameter "default"'),
    ("encode_yaml_stream({'a': 1})\n", 'for parameter "objs"'),
])
def test_data_errors(project: Project, tiltfile: str, expected: str) -> None:
    project.file("stream.yaml", "a: 1\n---\nb: 2\n")
    project.file("bad.json", "{oops")
    assert expected in project.error(tiltfile)


def test_decode_and_encode(project: Project) -> None:
    result = project.ok("""
        print(decode_json('[1, 2.5, "s", {"k": null}]'))
        print(decode_yaml(''), decode_yaml('x: y'), decode_yaml_stream('a: 1\\n---\\n# c\\n---\\nb: 2\\n'))
        j = encode_json({'b': [1, 2.0, '<&>'], 'a': True, 'c': None})
        y = encode_yaml({'z': [1, 2], 'a': {'k': 'v'}})
        s = encode_yaml_stream([{'a': 1}, {'b': 2}])
        k8s_yaml(encode_yaml({'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'from-encode'}}))
        print(type(j), type(y))
        print(j + y + s)
    """)
    assert result.logs[0] == '[1, 2.5, "s", {"k": None}]'
    assert result.logs[1] == 'None {"x": "y"} [{"a": 1}, {"b": 2}]'
    assert result.logs[2] == "string blob"  # encode_json gives a string, encode_yaml a blob (as in Tilt)
    text = "\n".join(result.logs[3:])
    # Go's json.Encoder: sorted keys, two-space indent, HTML escaped, 2.0 -> 2.
    assert text.startswith('{\n  "a": true,\n  "b": [\n    1,\n    2,\n    "\\u003c\\u0026\\u003e"\n  ],\n  "c": null\n}')
    assert "a:\n  k: v\nz:\n- 1\n- 2\n" in text
    assert "a: 1\n---\nb: 2" in text
    # encode_yaml returns a blob: k8s_yaml takes it as YAML, not as a path.
    assert result.manifests[0].k8s.objects[0]["metadata"]["name"] == "from-encode"


def test_listdir(project: Project) -> None:
    project.file("dir/b.txt", "")
    project.file("dir/a.txt", "")
    project.file("dir/sub/c.txt", "")
    result = project.ok("""
        print(listdir('dir'))
        print(listdir('dir', recursive=True))
    """)
    root = project.path("dir")
    assert json.loads(result.logs[0]) == [f"{root}/a.txt", f"{root}/b.txt"]
    assert json.loads(result.logs[1]) == [f"{root}/a.txt", f"{root}/b.txt", f"{root}/sub/c.txt"]
    assert root in result.watched_files  # recursive listdir watches the tree


def test_read_file_watch_file_blob_struct(project: Project) -> None:
    project.file("notes.txt", "hello\n")
    project.file("watched/x.txt", "")
    result = project.ok("""
        s = struct(a='foo', b=6)
        print("%s %d" % (s.a, s.b))
        b = blob('apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: blobbed}\\n')
        k8s_yaml(b)
        print(str(read_file('notes.txt')).strip(), read_file('absent.txt', default='d'))
        watch_file('watched')
        watch_file('some/file.txt')
    """)
    assert result.logs[:2] == ["foo 6", "hello d"]
    assert project.path("notes.txt") in result.watched_files
    assert project.path("absent.txt") in result.watched_files
    assert project.path("watched") in result.watched_files
    assert project.path("watched/x.txt") in result.watched_files  # a watched directory's files too
    assert project.path("some/file.txt") in result.watched_files
    assert result.manifests[0].k8s.objects[0]["metadata"]["name"] == "blobbed"


def test_listdir_of_a_missing_directory_is_empty(project: Project) -> None:
    """Tilt's listdir() of a directory that doesn't exist is [] (the "load every
    file in tilt.d/" pattern relies on it); recursive=True still watches it."""
    result = project.ok("print(listdir('tilt.d'), listdir('nowhere', recursive=True), listdir('Dockerfile'))\n")
    assert result.logs == ["[] [] []"]
    assert project.path("nowhere") in result.watched_files
