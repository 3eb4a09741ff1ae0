"""k8s_yaml, k8s_resource and the assembly of Kubernetes resources (tiltfile_test.go)."""
from __future__ import annotations

import pytest

from tests.unit.conformance.support import Fixture, deployment, f, namespace, secret, service  # noqa: F401
from tiltpy.model.manifest import TRIGGER_MODE_AUTO, TRIGGER_MODE_MANUAL, Link, PortForward

FOO = "docker_build('gcr.io/foo', 'foo')\nk8s_yaml('foo.yaml')\n"


def test_expand_one_resource_per_workload(f: Fixture) -> None:
    """TestExpand / TestMultipleYamlFiles / TestExpandTwoDeploymentsWithSameImage."""
    f.setup_expand()
    f.load("k8s_yaml('all.yaml')\n" + "".join(f"docker_build('gcr.io/{x}', '{x}')\n" for x in "abcd"))
    assert f.names() == ["a", "b", "c", "d"]
    f.yaml("all.yaml", *(deployment(n, image=f"gcr.io/{n[0]}") for n in ["a", "a2", "b"]))
    f.load("k8s_yaml('all.yaml')\ndocker_build('gcr.io/a', 'a')\ndocker_build('gcr.io/b', 'b')\n")
    assert f.names() == ["a", "a2", "b"]
    assert [t.ref for t in f.manifest("a2").image_targets] == ["gcr.io/a"]


def test_unresourced_objects_are_uncategorized_and_last(f: Fixture) -> None:
    """TestExpandUnresourced / TestUnresourcedPodCreatorYamlAsManifest."""
    f.yaml("pod_creator.yaml", deployment("pod-creator"), secret("not-pod-creator"))
    f.load("k8s_yaml('pod_creator.yaml')\n")
    assert f.names() == ["pod-creator", "uncategorized"]
    assert f.kinds_and_names("uncategorized") == [("Secret", "not-pod-creator")]
    assert f.manifest("uncategorized").k8s.pod_readiness == "ignore"


def test_services_grouped_with_the_workload_they_select(f: Fixture) -> None:
    """TestUnresourcedYamlGroupingV1 / TestK8sGroupedWhenAddedToResource /
    TestAssemblyServiceWithoutSelectorMatchesNothing."""
    a, b, c = {"keyA": "valueA"}, {"keyB": "valueB"}, {"keyC": "valueC"}
    f.yaml("all.yaml", deployment("deployment-a", labels=a), deployment("deployment-b", labels=b),
           service("service-b", b), deployment("deployment-c", labels=c), service("service-c1", c),
           service("service-c2", c), service("service-without-selectors", {}), secret("someSecret"))
    f.load("k8s_yaml('all.yaml')\n")
    assert f.names() == ["deployment-a", "deployment-b", "deployment-c", "uncategorized"]
    assert f.kinds_and_names("deployment-c") == [("Deployment", "deployment-c"), ("Service", "service-c1"),
                                                 ("Service", "service-c2")]
    assert f.kinds_and_names("uncategorized") == [("Service", "service-without-selectors"), ("Secret", "someSecret")]


PORT_FORWARDS = [
    ("8000", [PortForward(8000)]),
    ("'10000'", [PortForward(10000)]),
    ("'10000:8000'", [PortForward(10000, 8000)]),
    ("port_forward(8001)", [PortForward(8001)]),
    ("port_forward(8001, name='foo')", [PortForward(8001, name="foo")]),
    ("port_forward(8001, link_path='v1/ui')", [PortForward(8001, link_path="v1/ui")]),
    ("port_forward(8001, 443)", [PortForward(8001, 443)]),
    ("port_forward(8001, 443, 'foo', 'v1/ui', 'elastic.local')",
     [PortForward(8001, 443, host="elastic.local", name="foo", link_path="v1/ui")]),
    ("port_forward(8001, 443, host='elastic.local')", [PortForward(8001, 443, host="elastic.local")]),
    ("[8000, port_forward(8001, 443), '8002', '8003:444']",
     [PortForward(8000), PortForward(8001, 443), PortForward(8002), PortForward(8003, 444)]),
    ("'0.0.0.0:10000:8000'", [PortForward(10000, 8000, host="0.0.0.0")]),
    ("'tilt.dev:10000:8000'", [PortForward(10000, 8000, host="tilt.dev")]),
    ("None", []),
    ("[]", []),
]


@pytest.mark.parametrize("expr, expected", PORT_FORWARDS)
def test_port_forwards(f: Fixture, expr: str, expected: list[PortForward]) -> None:
    """TestPortForward (the success cases)."""
    f.setup_foo()
    f.load(FOO + f"k8s_resource('foo', port_forwards={expr})\n")
    assert list(f.manifest("foo").k8s.port_forwards) == expected


@pytest.mark.parametrize("expr, message", [
    ("-1", "not in the valid range"),
    ("8000000", "not in the valid range"),
    ("'garbage'", "not in the valid range"),
    ("''", "not in the valid range"),
    ("port_forward(container_port=443)", "missing"),
    ("port_forward('8001')", "got string, want int"),
    ("port_forward(8001, 443, 54321)", "got int, want string"),
    ("'bad+host:10000:8000'", "not a valid hostname or IP address"),
])
def test_port_forward_errors(f: Fixture, expr: str, message: str) -> None:
    """TestPortForward (the error cases)."""
    f.setup_foo()
    f.error(FOO + f"k8s_resource('foo', port_forwards={expr})\n", message)


def test_additive_port_forwards(f: Fixture) -> None:
    """TestAdditivePortForwards."""
    f.setup_foo()
    f.load(FOO + "k8s_resource('foo', port_forwards=8001)\nk8s_resource('foo', port_forwards=8000)\n")
    assert list(f.manifest("foo").k8s.port_forwards) == [PortForward(8001), PortForward(8000)]


LINKS = [
    ("'http://www.zombo.com'", [Link("http://www.zombo.com")]),
    ("'www.zombo.com'", [Link("http://www.zombo.com")]),
    ("'ws://www.zombo.com'", [Link("ws://www.zombo.com")]),
    ("link('https://www.zombo.com', name='zombo')", [Link("https://www.zombo.com", "zombo")]),
    ("link('https://www.zombo.com')", [Link("https://www.zombo.com")]),
    ("link('www.zombo.com', 'zombo')", [Link("http://www.zombo.com", "zombo")]),
    ("['https://www.apple.edu', 'www.zombo.com']", [Link("https://www.apple.edu"), Link("http://www.zombo.com")]),
    ("['www.apple.edu', link('www.zombo.com', 'zombo')]", [Link("http://www.apple.edu"),
                                                           Link("http://www.zombo.com", "zombo")]),
]


@pytest.mark.parametrize("expr, expected", LINKS)
def test_resource_links(f: Fixture, expr: str, expected: list[Link]) -> None:
    """TestResourceLinks, for k8s_resource and local_resource (links stay after a
    later k8s_resource call without links)."""
    f.setup_foo()
    f.load(FOO + f"k8s_resource('foo', links={expr})\nk8s_resource('foo')\n"
           f"local_resource('local', 'echo hi', links={expr})\n")
    assert list(f.manifest("foo").links) == expected
    assert list(f.manifest("local").links) == expected


@pytest.mark.parametrize("expr, message", [
    ("123", "found 123"),
    ("''", "url empty"),
    ("link(name='zombo')", "url"),
    ("link('')", "url empty"),
    ("['www.apple.edu', 123]", "found 123"),
])
def test_resource_link_errors(f: Fixture, expr: str, message: str) -> None:
    f.error(f"local_resource('foo', 'echo hi', links={expr})\n", message)


def test_additive_links(f: Fixture) -> None:
    """TestK8sResourceAdditiveLinks."""
    f.setup_expand()
    f.load("k8s_yaml('all.yaml')\nk8s_resource('a', links=['http://demo-a.localhost/'])\nk8s_resource('a')\n"
           "k8s_resource('b', links=['http://demo-b.localhost/'])\nk8s_resource('b', links=['http://demo-b.localhost/api'])\n")
    assert list(f.manifest("a").links) == [Link("http://demo-a.localhost/")]
    assert list(f.manifest("b").links) == [Link("http://demo-b.localhost/"), Link("http://demo-b.localhost/api")]


def test_implicit_resource_without_docker_build(f: Fixture) -> None:
    """TestImplicitK8sResourceWithoutDockerBuild."""
    f.setup_foo()
    f.load("k8s_yaml('foo.yaml')\nk8s_resource('foo', port_forwards=8000)\n")
    assert list(f.manifest("foo").k8s.port_forwards) == [PortForward(8000)]


def test_args_pick_the_resources(f: Fixture) -> None:
    """TestLoadOneManifest / TestUncategorizedEnabledEvenIfNotSpecified / TestLoadTypoManifest."""
    f.setup_foo_and_bar()
    tiltfile = "docker_build('gcr.io/foo', 'foo')\nk8s_yaml('foo.yaml')\ndocker_build('gcr.io/bar', 'bar')\n" \
               "k8s_yaml('bar.yaml')\n"
    assert f.load(tiltfile, args=["foo"]).enabled_resources == ["foo"]
    f.yaml("service.yaml", service("some-service"))
    assert f.load(tiltfile + "k8s_yaml('service.yaml')\n", args=["foo"]).enabled_resources == ["foo", "uncategorized"]
    f.error(tiltfile, 'You specified some resources that could not be found: "baz"\n'
                      'Is this a typo? Existing resources in Tiltfile: "foo", "bar"', args=["baz"])


def test_k8s_yaml_from_local_and_read_file(f: Fixture) -> None:
    """TestLocal / TestReadFile: YAML from local() and read_file() blobs."""
    f.setup_foo()
    result = f.load("docker_build('gcr.io/foo', 'foo')\nk8s_yaml(local('cat foo.yaml'))\n")
    assert f.names() == ["foo"]
    assert "local: cat foo.yaml" in result.logs and " → kind: Deployment" in result.logs
    result = f.load("docker_build('gcr.io/foo', 'foo')\nk8s_yaml(read_file('foo.yaml'))\n")
    assert f.names() == ["foo"] and f.path("foo.yaml") in result.watched_files


def test_blob(f: Fixture) -> None:
    """TestBlob / TestBlobErr."""
    f.load("k8s_yaml(blob('''%s'''))\n" % "\n".join(
        ["apiVersion: apps/v1", "kind: Deployment", "metadata: {name: snack}",
         "spec: {selector: {matchLabels: {app: snack}}, template: {metadata: {labels: {app: snack}},"
         " spec: {containers: [{name: snack, image: snack}]}}}"]))
    assert f.names() == ["snack"]
    f.error("blob(42)\n", "got int, want string")


def test_fail(f: Fixture) -> None:
    """TestFail: fail() stops the Tiltfile with its message."""
    result = f.run("fail('this is an error')\nprint('not this')\nfail('or this')\n")
    assert "this is an error" in result.error and "or this" not in result.error and result.logs == []


def test_duplicate_local_resources(f: Fixture) -> None:
    """TestDuplicateLocalResources."""
    f.error("local_resource('foo', 'echo foo')\nlocal_resource('foo', 'echo foo')\n", '"foo" already exists')


@pytest.mark.parametrize("value, selectors", [
    ("[{'foo': 'bar', 'baz': 'qux'}, {'quux': 'corge'}]", [{"foo": "bar", "baz": "qux"}, {"quux": "corge"}]),
    ("{'foo': 'bar'}", [{"foo": "bar"}]),
])
def test_extra_pod_selectors(f: Fixture, value: str, selectors: list[dict[str, str]]) -> None:
    """TestExtraPodSelectors / TestExtraPodSelectorsDict."""
    f.setup_foo()
    f.load(FOO + f"k8s_resource('foo', extra_pod_selectors={value})\n")
    k8s = f.manifest("foo").k8s
    assert [dict(s) for s in k8s.extra_pod_selectors] == selectors and k8s.pod_readiness == "wait"


@pytest.mark.parametrize("value", ["'hello'", "['hello']", "[{54321: 'hello'}]", "[{'hello': 54321}]"])
def test_extra_pod_selector_errors(f: Fixture, value: str) -> None:
    """TestExtraPodSelectorsNotList / ElementNotDict / KeyNotString / ValueNotString."""
    f.setup_foo()
    f.error(FOO + f"k8s_resource('foo', extra_pod_selectors={value})\n", "extra_pod_selectors")


def test_pod_readiness(f: Fixture) -> None:
    """TestPodReadinessDefault* / Override* / Invalid."""
    f.yaml("foo.yaml", deployment("foo", image="gcr.io/foo:stable"))
    f.file("config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n  foo: bar\n")
    f.file("job.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: myjob\n")
    f.load("k8s_yaml(['foo.yaml', 'config.yaml', 'job.yaml'])\nk8s_resource(new_name='config', objects=['config'])\n")
    assert [f.manifest(n).k8s.pod_readiness for n in ("foo", "config", "myjob")] == ["wait", "ignore", "succeeded"]
    f.load("k8s_yaml(['foo.yaml', 'config.yaml'])\nk8s_resource('foo', pod_readiness='ignore')\n"
           "k8s_resource(new_name='config', objects=['config'], pod_readiness='wait')\n")
    assert [f.manifest(n).k8s.pod_readiness for n in ("foo", "config")] == ["ignore", "wait"]
    f.error("k8s_yaml('config.yaml')\nk8s_resource(new_name='config', objects=['config'], pod_readiness='w')\n",
            "pod_readiness")


def test_discovery_strategy(f: Fixture) -> None:
    """TestK8sDiscoveryStrategy / Invalid."""
    f.yaml("foo.yaml", deployment("foo", image="gcr.io/foo:stable"))
    f.load("k8s_yaml('foo.yaml')\nk8s_resource('foo', discovery_strategy='selectors-only')\n")
    assert f.manifest("foo").k8s.discovery_strategy == "selectors-only"
    f.error("k8s_yaml('foo.yaml')\nk8s_resource('foo', discovery_strategy='typo')\n", "'default' or 'selectors-only'")


def test_listdir_into_k8s_yaml(f: Fixture) -> None:
    """TestDir / TestDirRecursive."""
    f.yaml("config/foo.yaml", deployment("foo", image="gcr.io/foo"))
    f.yaml("config/bar.yaml", deployment("bar", image="gcr.io/bar"))
    result = f.load("k8s_yaml(listdir('config'))\n")
    assert sorted(f.names()) == ["bar", "foo"]
    assert {f.path("config/foo.yaml"), f.path("config/bar.yaml")} <= set(result.watched_files)
    f.file("foo/bar", "bar")
    f.file("foo/baz/qux", "qux")
    result = f.load("for p in listdir('foo', recursive=True):\n  read_file(p)\n")
    assert {f.path("foo"), f.path("foo/bar"), f.path("foo/baz/qux")} <= set(result.watched_files)


def test_unknown_resource(f: Fixture) -> None:
    """TestK8sResourceNoMatch."""
    f.setup_foo()
    f.error("k8s_yaml('foo.yaml')\nk8s_resource('bar', new_name='baz')\n", 'unknown resource "bar"', "foo")


def test_renames(f: Fixture) -> None:
    """TestK8sResourceNewName / RenameTwice / NewNameConflict."""
    f.setup_foo_and_bar()
    f.load("k8s_yaml('foo.yaml')\nk8s_resource('foo', new_name='bar')\n")
    assert f.names() == ["bar"] and f.kinds_and_names("bar") == [("Deployment", "foo")]
    f.load("k8s_yaml('foo.yaml')\nk8s_resource('foo', new_name='bar')\nk8s_resource('bar', new_name='baz')\n")
    assert f.names() == ["baz"]
    f.error("k8s_yaml(['foo.yaml', 'bar.yaml'])\nk8s_resource('foo', new_name='bar')\n", '"foo" to "bar"')


def test_conflicting_workload_names(f: Fixture) -> None:
    """TestConflictingWorkloadNames / TestK8sResourceRenameConflictingNames."""
    f.dockerfile("foo1/Dockerfile")
    f.dockerfile("foo2/Dockerfile")
    f.yaml("foo1.yaml", deployment("foo", image="gcr.io/foo1", namespace="ns1"))
    f.yaml("foo2.yaml", deployment("foo", image="gcr.io/foo2", namespace="ns2"))
    tiltfile = "k8s_yaml(['foo1.yaml', 'foo2.yaml'])\ndocker_build('gcr.io/foo1', 'foo1')\n" \
               "docker_build('gcr.io/foo2', 'foo2')\n"
    f.load(tiltfile)
    assert f.names() == ["foo:deployment:ns1", "foo:deployment:ns2"]
    f.load(tiltfile + "k8s_resource('foo:deployment:ns2', new_name='foo')\n")
    assert f.names() == ["foo:deployment:ns1", "foo"]
    assert [t.ref for t in f.manifest("foo").image_targets] == ["gcr.io/foo2"]


def test_conflicting_new_names(f: Fixture) -> None:
    """TestConflictingNewNames / TestK8sExistingResourceNewNameAlreadyTaken."""
    f.yaml("ns1.yaml", namespace("ns1"))
    f.yaml("ns2.yaml", namespace("ns2"))
    f.error("k8s_yaml(['ns1.yaml', 'ns2.yaml'])\nk8s_resource(new_name='foo', objects=['ns1:namespace'])\n"
            "k8s_resource(new_name='foo', objects=['ns2:namespace'])\n", '"foo" already exists')


def test_workload_to_resource_function(f: Fixture) -> None:
    """TestWorkloadToResourceFunction and its errors."""
    f.setup_foo_and_bar()
    f.load(FOO + "def wtrf(id):\n\treturn 'hello-' + id.name\nworkload_to_resource_function(wtrf)\n"
           "k8s_resource('hello-foo', port_forwards=8000)\n")
    assert f.names() == ["hello-foo"] and list(f.manifest("hello-foo").k8s.port_forwards) == [PortForward(8000)]
    f.error("k8s_yaml(['foo.yaml', 'bar.yaml'])\ndef wtrf(id):\n\treturn 'baz'\nworkload_to_resource_function(wtrf)\n",
            "baz")
    f.error(FOO + "def wtrf():\n\treturn 'hello'\nworkload_to_resource_function(wtrf)\n", "wtrf")  # Tilt: at the call


@pytest.mark.parametrize("global_mode, resource_mode, expected", [
    ("", "", TRIGGER_MODE_AUTO),
    ("trigger_mode(TRIGGER_MODE_MANUAL)", "", TRIGGER_MODE_MANUAL),
    ("", "trigger_mode=TRIGGER_MODE_MANUAL", TRIGGER_MODE_MANUAL),
    ("trigger_mode(TRIGGER_MODE_MANUAL)", "trigger_mode=TRIGGER_MODE_AUTO", TRIGGER_MODE_AUTO),
])
def test_trigger_modes(f: Fixture, global_mode: str, resource_mode: str, expected: int) -> None:
    """TestTriggerModeK8S / TestTriggerModeLocal."""
    f.setup_foo()
    f.load(f"{global_mode}\n{FOO}k8s_resource('foo', {resource_mode})\n"
           f"local_resource('local', 'echo hi', {resource_mode})\n")
    assert f.manifest("foo").trigger_mode == expected and f.manifest("local").trigger_mode == expected


def test_trigger_mode_errors(f: Fixture) -> None:
    """TestTriggerModeInt / TestMultipleTriggerMode; and Tilt's types for the constants."""
    f.error("trigger_mode(1)\n", "got int, want TriggerMode")
    f.error("trigger_mode(TRIGGER_MODE_MANUAL)\ntrigger_mode(TRIGGER_MODE_MANUAL)\n",
            "trigger_mode can only be called once")
    assert f.load("print(type(TRIGGER_MODE_AUTO), TRIGGER_MODE_MANUAL)\n").logs == ["TriggerMode TRIGGER_MODE_MANUAL"]


def test_k8s_context_and_namespace(f: Fixture) -> None:
    """TestK8sContext."""
    f.load("if k8s_context() != 'kind-kind':\n  fail('bad context')\n"
           "if k8s_namespace() != 'fake-namespace':\n  fail('bad namespace')\n",
           context="kind-kind", namespace="fake-namespace")


OBJECTS = "docker_build('gcr.io/foo', 'foo')\nk8s_yaml('foo.yaml')\nk8s_yaml('secret.yaml')\nk8s_yaml('namespace.yaml')\n"


def test_objects_added_to_a_workload(f: Fixture) -> None:
    """TestK8sResourceObjectsAddsNonWorkload / PartialNames / ClusterScoped."""
    f.setup_foo()
    f.yaml("secret.yaml", secret("bar"))
    f.yaml("namespace.yaml", namespace("baz"))
    f.load(OBJECTS + "k8s_resource('foo', objects=['bar', 'baz:namespace:default'])\n")
    assert f.kinds_and_names("foo") == [("Deployment", "foo"), ("Secret", "bar"), ("Namespace", "baz")]
    f.load(OBJECTS + "k8s_resource('foo', objects=['bar:secret', 'baz:namespace'])\n")
    assert f.kinds_and_names("foo") == [("Deployment", "foo"), ("Secret", "bar"), ("Namespace", "baz")]


@pytest.mark.parametrize("objects, message", [
    # TestK8sResourceAmbiguousSelector / MultipleAmbiguous / ObjectsWithSameName
    ("['bar']", '"bar" is not a unique fragment. Objects that match "bar" are "bar:Secret:default", '
                '"bar:Namespace:default"'),
    # TestK8sResourceObjectEmptySelector / InvalidSelector / WithGroup
    ("['']", 'Error making selector from string ""'),
    ("['baz:namespace:default:wot']", 'Error making selector from string "baz:namespace:default:wot"'),
    # TestK8sResourceObjectIncludesSelectorThatDoesntExist / PrefixesShouldntMatch / ClusterScopedWithNamespace
    ("['baz:secret:default']", 'No object identified by the fragment "baz:secret:default" could be found. '
                               'Possible objects are: "foo:Deployment:default", "bar:Secret:default", '
                               '"bar:Namespace:default"'),
    ("['ba']", 'No object identified by the fragment "ba" could be found.'),
    # TestK8sResourceObjectsCantIncludeSameObjectTwice
    ("['bar:secret', 'bar:secret:default']", 'No object identified by the fragment "bar:secret:default" could be '
                                             'found in remaining YAML. Valid remaining fragments are: '
                                             '"bar:Namespace:default"'),
])
def test_object_selector_errors(f: Fixture, objects: str, message: str) -> None:
    f.setup_foo()
    f.yaml("secret.yaml", secret("bar"))
    f.yaml("namespace.yaml", namespace("bar"))
    f.error(OBJECTS + f"k8s_resource('foo', objects={objects})\n", message)


def test_escaped_colon_in_object_selector(f: Fixture) -> None:
    """TestK8sResourceObjectSelectorWithEscapedColon."""
    f.setup_foo()
    f.yaml("secret.yaml", secret("quu:bar"))
    f.yaml("namespace.yaml", namespace("baz"))
    f.load(OBJECTS + "k8s_resource('foo', objects=['quu\\\\:bar', 'baz:namespace:default'])\n")
    assert f.kinds_and_names("foo") == [("Deployment", "foo"), ("Secret", "quu:bar"), ("Namespace", "baz")]


def test_objects_only_resources(f: Fixture) -> None:
    """TestK8sResourceObjectsNonWorkloadOnly / NewNameAdditive / ExistingResourceAdditive / NewNameWithoutObjects /
    TestK8sNonWorkloadOnlyResourceWithAllTheOptions."""
    f.setup_foo()
    f.yaml("secret.yaml", secret("bar"))
    f.yaml("namespace.yaml", namespace("baz"))
    f.load(OBJECTS + "k8s_resource(new_name='bar', objects=['bar', 'baz:namespace:default'], port_forwards=9876,"
           " extra_pod_selectors=[{'quux': 'corge'}], trigger_mode=TRIGGER_MODE_MANUAL, resource_deps=['foo'])\n")
    bar = f.manifest("bar")
    assert f.names() == ["foo", "bar"]
    assert bar.k8s.pod_readiness == "ignore" and bar.resource_deps == ("foo",)
    assert bar.trigger_mode == TRIGGER_MODE_MANUAL and list(bar.k8s.port_forwards) == [PortForward(9876)]
    f.yaml("a.yaml", namespace("a"))
    f.yaml("b.yaml", namespace("b"))
    f.load("k8s_yaml(['a.yaml', 'b.yaml'])\nk8s_resource(new_name='namespaces', objects=['a'])\n"
           "k8s_resource('namespaces', objects=['b'])\n")
    assert f.kinds_and_names("namespaces") == [("Namespace", "a"), ("Namespace", "b")]
    f.error("k8s_resource(new_name='foo')\n", "k8s_resource doesn't specify a workload or any objects")


def test_labels(f: Fixture) -> None:
    """TestK8sResourceLabels / LabelsAppend / TestLocalResourceLabels / TestK8sExistingResourceNewNameAdditive."""
    f.setup_foo()
    f.load(FOO + "k8s_resource('foo', new_name='bar', labels=['a'])\nk8s_resource('bar', labels=['b'])\n"
           "local_resource('local', 'echo hi', labels=['c', 'd'])\n")
    assert f.manifest("bar").labels == ("a", "b") and f.manifest("local").labels == ("c", "d")


def test_resource_deps(f: Fixture) -> None:
    """TestK8SDependsOn / TestLocalDependsOn / TestDependsOnMissingResource / Self / Cycle."""
    f.setup_foo_and_bar()
    f.load("docker_build('gcr.io/foo', 'foo')\nk8s_yaml('foo.yaml')\ndocker_build('gcr.io/bar', 'bar')\n"
           "k8s_yaml('bar.yaml')\nk8s_resource('bar', resource_deps=['foo'])\n")
    assert f.manifest("foo").resource_deps == () and f.manifest("bar").resource_deps == ("foo",)
    result = f.load("local_resource('baz', 'echo baz')\nlocal_resource('bar', 'echo bar', resource_deps=['foo', 'baz'])\n")
    assert f.manifest("bar").resource_deps == ("baz",)
    assert "resource bar specified a dependency on unknown resource foo - dependency ignored" in result.warnings
    f.error("local_resource('bar', 'echo bar', resource_deps=['bar'])\n", "resource bar specified a dependency on itself")
    f.error("local_resource('foo', 'echo foo', resource_deps=['baz'])\nlocal_resource('bar', 'echo bar', "
            "resource_deps=['foo'])\nlocal_resource('baz', 'echo baz', resource_deps=['bar'])\n",
            "cycle detected in resource dependency graph", "bar -> foo", "foo -> baz", "baz -> bar")


@pytest.mark.parametrize("args, enabled", [
    (["a"], ["a"]),
    (["c"], ["a", "b", "c"]),
    (["d", "e"], ["a", "b", "d", "e"]),
])
def test_dependencies_pulled_in_on_partial_load(f: Fixture, args: list[str], enabled: list[str]) -> None:
    """TestDependsOnPulledInOnPartialLoad."""
    result = f.load("local_resource('a', 'echo a')\nlocal_resource('b', 'echo b', resource_deps=['a'])\n"
                    "local_resource('c', 'echo c', resource_deps=['b'])\nlocal_resource('d', 'echo d', "
                    "resource_deps=['b'])\nlocal_resource('e', 'echo e')\n", args=args)
    assert result.enabled_resources == enabled


@pytest.mark.parametrize("context, error", [
    ("docker-desktop", ""),
    ("allowed-context", ""),
    ("gke_production", "gke_production might be production"),
])
def test_k8s_context_acceptance(f: Fixture, context: str, error: str) -> None:
    """TestK8SContextAcceptance / TestCheckK8SContextWhenOnlyUncategorizedK8s."""
    f.yaml("service.yaml", service("some-service"))
    result = f.run("k8s_yaml('service.yaml')\nallow_k8s_contexts('allowed-context')\n", context=context)
    assert (error in result.error) if error else result.error == ""


def test_secrets_are_scrubbed(f: Fixture) -> None:
    """TestSecretString / TestSecretBytes / TestSecretSettingsDisableScrub."""
    f.file("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  client-id: hello\n"
                          "data:\n  client-secret: d29ybGQ=\n")
    assert {"hello", "world"} <= set(f.load("k8s_yaml('secret.yaml')\n").secrets)
    assert f.load("k8s_yaml('secret.yaml')\nsecret_settings(disable_scrub=True)\n").secrets == []


def test_duplicate_yaml(f: Fixture) -> None:
    """TestDuplicateYAMLEntityWithinSingleResource(Allowed)."""
    f.yaml("resource.yaml", deployment("foo"), service("doggos"), service("doggos"))
    f.error("k8s_yaml('resource.yaml')\n", "Service", "doggos")
    f.load("k8s_yaml('resource.yaml', allow_duplicates=True)\n")


@pytest.mark.parametrize("tiltfile", [
    "k8s_yaml(None)\n",  # TestYamlNone
    "k8s_yaml(blob(''))\n",  # TestYamlEmptyBlob
    "doggos, rest = filter_yaml('k8s.yaml', namespace='dne', kind='deployment')\nk8s_yaml(doggos)\n",  # ...NoMatch
])
def test_empty_yaml(f: Fixture, tiltfile: str) -> None:
    f.yaml("k8s.yaml", deployment("doggos"), service("doggos"))
    f.error(tiltfile, "Empty YAML passed to k8s_yaml")


def test_filter_yaml(f: Fixture) -> None:
    """TestFilterYamlByLabel / ByName / ByNameKind / ByApiVersion."""
    f.yaml("k8s.yaml", deployment("doggos"), service("doggos"), deployment("snack"))
    for args, kinds in (("labels={'app': 'doggos'}", ["Deployment", "Service"]), ("name='doggos'", ["Deployment", "Service"]),
                        ("name='doggos', kind='deployment'", ["Deployment"]),
                        ("name='doggos', api_version='apps/v1'", ["Deployment"])):
        f.load(f"doggos, rest = filter_yaml('k8s.yaml', {args})\nk8s_yaml(doggos)\n")
        assert f.names() == ["doggos"] and [k for k, _ in f.kinds_and_names("doggos")] == kinds
