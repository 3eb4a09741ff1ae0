"""filter_yaml, k8s_kind, workload_to_resource_function, k8s_custom_deploy,
helm and kustomize; the JSONPath locators behind k8s_kind."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.unit.test_tiltfile_support import DEPLOYMENT, Project, project  # noqa: F401
from tiltpy.model.manifest import ImageLocator, Sync
from tiltpy.k8s import jsonpath as jp

SERVICE = """
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}, labels: {{tier: {tier}}}}}
spec: {{selector: {{app: {name}}}}}
"""


def test_filter_yaml(project: Project) -> None:
    project.file("all.yml", "---".join([
        DEPLOYMENT.format(name="foo", image="busybox"),
        SERVICE.format(name="foo", ns="default", tier="front"),
        SERVICE.format(name="bar-baz", ns="team", tier="back"),
        DEPLOYMENT.format(name="bazzoo", image="busybox"),
    ]))
    result = project.ok("""
        svc, rest = filter_yaml('all.yml', kind='service')
        front, back = filter_yaml(svc, labels={'tier': 'front'})
        baz, rest2 = filter_yaml(rest, name='baz', kind='deployment')
        foo, _ = filter_yaml(rest2, name='^foo$', api_version='apps/v1')
        ns, _ = filter_yaml(['all.yml'], namespace='^TEAM$')
        none, everything = filter_yaml('all.yml', kind='nothing-matches')
        print(decode_yaml_stream(front)[0]['metadata']['name'], decode_yaml_stream(back)[0]['metadata']['name'])
        print([o['metadata']['name'] for o in decode_yaml_stream(baz)], decode_yaml_stream(foo)[0]['metadata']['name'])
        print(decode_yaml_stream(ns)[0]['metadata']['name'], repr(none), len(decode_yaml_stream(everything)))
        k8s_yaml(foo)
    """)
    assert result.logs == ['foo bar-baz', '["bazzoo"] foo', 'bar-baz "" 4']
    assert [m.name for m in result.manifests] == ["foo"]
    assert "error parsing kind regexp" in project.error("filter_yaml('all.yml', kind='(')\n")


CRD = """
apiVersion: tilt.dev/v1alpha1
kind: UselessMachine
metadata: {name: bobo}
spec:
  image: bobo-image
  sidecars: [{name: s, image: side-image}]
"""
OBJ_CRD = """
apiVersion: example.com/v1
kind: Release
metadata: {name: rel}
spec:
  values:
    image: {repository: chart-image, tag: v1}
"""


def test_k8s_kind_locators_workloads_and_readiness(project: Project) -> None:
    project.file("crd.yml", CRD + "---" + OBJ_CRD + "---\napiVersion: example.com/v1\nkind: Database\n"
                 "metadata: {name: pg}\n")
    result = project.ok("""
        k8s_yaml('crd.yml')
        docker_build('bobo-image', '.')
        docker_build('side-image', '.')
        docker_build('chart-image', '.')
        k8s_kind('UselessMachine', image_json_path=['{.spec.image}', '{.spec.sidecars[*].image}'])
        k8s_kind('Release', api_version='example.com/v1',
                 image_object={'json_path': '{.spec.values.image}', 'repo_field': 'repository', 'tag_field': 'tag'})
        k8s_kind('Database', pod_readiness='wait')
    """)
    assert [m.name for m in result.manifests] == ["bobo", "rel", "pg"]
    bobo = result.manifest("bobo")
    assert bobo.k8s.image_refs == ("bobo-image", "side-image")
    assert [t.ref for t in bobo.image_targets] == ["bobo-image", "side-image"]
    assert bobo.k8s.image_locators == (
        ImageLocator("UselessMachine", "", "{.spec.image}"), ImageLocator("UselessMachine", "", "{.spec.sidecars[*].image}"))
    rel = result.manifest("rel")
    assert rel.k8s.image_refs == ("chart-image",)
    assert rel.k8s.image_locators == (ImageLocator("Release", "example.com/v1", "{.spec.values.image}",
                                                   "repository", "tag"),)
    assert result.manifest("pg").k8s.pod_readiness == "wait"
    assert not result.warnings


def test_job_kinds_readiness(project: Project) -> None:
    job = ("apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\nspec:\n  template:\n    spec:\n"
           "      containers: [{name: m, image: busybox}]\n      restartPolicy: Never\n")
    project.file("job.yml", job)
    result = project.ok("k8s_yaml('job.yml')\n")
    assert result.manifest("migrate").k8s.pod_readiness == "succeeded"
    result = project.ok("k8s_yaml('job.yml')\nk8s_resource('migrate', pod_readiness='wait')\n")
    assert result.manifest("migrate").k8s.pod_readiness == "wait"


@pytest.mark.parametrize("tiltfile, expected", [
    ("k8s_kind('X', image_json_path='{.a}', image_object={'json_path': '{.b}', 'repo_field': 'r', 'tag_field': 't'})\n",
     "Cannot specify both image_json_path and image_object"),
    ("k8s_kind('X', image_object={'json_path': '{.b}'})\n", "Missing keys"),
    ("k8s_kind('X', image_object={'json_path': '{.b}', 'repo': 'r', 'tag_field': 't'})\n", "Unexpected key: repo"),
    ("k8s_kind('X', pod_readiness='sometimes')\n", "Invalid value. Allowed: {ignore, wait}. Got: sometimes"),
    ("k8s_kind('X', 'v1')\n", "k8s_kind"),
    ("k8s_kind('X', image_json_path='{.a[}')\n", "invalid JSONPath"),
])
def test_k8s_kind_errors(project: Project, tiltfile: str, expected: str) -> None:
    assert expected in project.error(tiltfile)


def test_jsonpath_find_and_inject() -> None:
    obj = {"kind": "UselessMachine", "apiVersion": "tilt.dev/v1alpha1",
           "spec": {"image": "bobo-image", "imagePullPolicy": "Always",
                    "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "bobo-image"}],
                    "values": {"image": {"repository": "bobo-image", "tag": "v1"}}}}
    assert jp.values(obj, "{.spec.containers[*].image}") == ["x", "bobo-image"]
    assert jp.values(obj, "{.spec.containers[1].image}") == ["bobo-image"]
    assert jp.values(obj, '{.spec.containers[?(@.name=="a")].image}') == ["x"]
    assert jp.values(obj, "{.spec['image']}") == ["bobo-image"]
    assert jp.values(obj, "{..repository}") == ["bobo-image"]
    assert jp.values(obj, "{.spec.missing.image}") == []
    path_loc = ImageLocator("uselessmachine", "", "{.spec.image}")
    obj_loc = ImageLocator("UselessMachine", "tilt.dev", "{.spec.values.image}", "repository", "tag")
    other = ImageLocator("Deployment", "", "{.spec.image}")
    assert jp.find_images(obj, [path_loc, obj_loc, other]) == ["bobo-image", "bobo-image:v1"]
    assert jp.inject_images(obj, [path_loc, obj_loc], lambda ref: ref.startswith("bobo-image"),
                            "localhost:5000/bobo-image:tilt-123")
    assert obj["spec"]["image"] == "localhost:5000/bobo-image:tilt-123"
    assert obj["spec"]["imagePullPolicy"] == "IfNotPresent"
    assert obj["spec"]["values"]["image"] == {"repository": "localhost:5000/bobo-image", "tag": "tilt-123"}
    assert not jp.inject_images(obj, [other], lambda ref: True, "y")


def test_workload_to_resource_function(project: Project) -> None:
    project.file("k.yml", DEPLOYMENT.format(name="web", image="busybox") + "---"
                 + DEPLOYMENT.format(name="api", image="busybox").replace("name: api", "name: api\n  namespace: team"))
    result = project.ok("""
        def name_fn(id):
            return id.namespace + '-' + id.name + '-' + id.kind.lower() + '-' + id.group
        workload_to_resource_function(name_fn)
        k8s_yaml('k.yml')
        k8s_resource('team-api-deployment-apps', labels=['renamed'])
    """)
    assert [m.name for m in result.manifests] == ["default-web-deployment-apps", "team-api-deployment-apps"]
    assert result.manifest("team-api-deployment-apps").labels == ("renamed",)
    # Defined in a loaded file, registered there.
    project.file("lib.star", "def short(id):\n    return 'w-' + id.name\nworkload_to_resource_function(short)\n")
    assert [m.name for m in project.ok("load('lib.star', 'short')\nk8s_yaml('k.yml')\n").manifests] == ["w-web", "w-api"]
    err = project.error("workload_to_resource_function(lambda id: 'same')\nk8s_yaml('k.yml')\n")
    assert "mapped to resource name 'same'" in err
    err = project.error("workload_to_resource_function(lambda id: 1)\nk8s_yaml('k.yml')\n")
    assert "invalid return value. wanted: string. got: int" in err
    assert "want function" in project.error("workload_to_resource_function('nope')\n")


def test_k8s_custom_deploy(project: Project) -> None:
    project.file("deploy.sh", "")
    project.file("src/app.py", "")
    project.file("Dockerfile.base", "FROM busybox\n")
    result = project.ok("""
        docker_build('base-image', '.', dockerfile='Dockerfile.base')
        k8s_custom_deploy('cd', apply_cmd='./deploy.sh apply', delete_cmd=['./deploy.sh', 'delete'],
                          deps=['deploy.sh', 'src'], apply_env={'A': '1'}, apply_dir='src',
                          image_deps=['base-image'], image_selector='app-image',
                          live_update=[sync('src', '/app')])
        k8s_resource('cd', port_forwards=8000, labels=['custom'])
        k8s_custom_deploy('plain', 'echo apply', 'echo delete', [])
    """)
    assert [m.name for m in result.manifests] == ["cd", "plain"]
    cd = result.manifest("cd")
    deploy = cd.k8s.custom_deploy
    assert deploy.apply_cmd == ("sh", "-c", "./deploy.sh apply")
    assert deploy.delete_cmd == ("./deploy.sh", "delete")
    assert deploy.deps == (project.path("deploy.sh"), project.path("src"))
    assert deploy.apply_dir == project.path("src") and deploy.delete_dir == project.path()
    assert deploy.apply_env == (("A", "1"),) and deploy.image_deps == ("base-image",)
    assert cd.k8s.objects == () and cd.k8s.pod_readiness == "wait" and cd.labels == ("custom",)
    assert [t.ref for t in cd.image_targets] == ["base-image", "app-image"]
    live = cd.image_target("app-image")
    assert live.live_update_only and live.live_update == (Sync(project.path("src"), "/app"),)
    assert cd.k8s.port_forwards[0].local_port == 8000
    assert not result.warnings
    # container_selector: a fake ref named after the resource.
    result = project.ok("k8s_custom_deploy('c2', 'a', 'd', [], container_selector='main', "
                        "live_update=[sync('src', '/app')])\n")
    target = result.manifest("c2").image_targets[0]
    assert target.ref == "k8s_custom_deploy:c2" and target.container_selector == "main"


@pytest.mark.parametrize("tiltfile, expected", [
    ("k8s_custom_deploy('x', '', 'd', [])\n", "apply_cmd cannot be empty"),
    ("k8s_custom_deploy('x', 'a', '', [])\n", "delete_cmd cannot be empty"),
    ("k8s_custom_deploy('x', 'a', 'd', [], live_update=[sync('.', '/a')])\n", "no Live Update selector specified"),
    ("k8s_custom_deploy('x', 'a', 'd', [], live_update=[sync('.', '/a')], image_selector='i', container_selector='c')\n",
     "cannot specify more than one Live Update selector"),
    ("k8s_custom_deploy('x', 'a', 'd', [], image_deps=['ghost'])\n", 'image build "ghost" not found'),
    ("k8s_custom_deploy('x', 'a', 'd', [])\nk8s_custom_deploy('x', 'a', 'd', [])\n", 'named "x" already exists'),
])
def test_k8s_custom_deploy_errors(project: Project, tiltfile: str, expected: str) -> None:
    assert expected in project.error(tiltfile)


def _fake_helm(bin_dir: Path, version: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    helm = bin_dir / "helm"
    helm.write_text(f"""#!/bin/sh
if [ "$1" = version ]; then echo "{version}"; exit 0; fi
echo "$*" > "$(dirname "$0")/helm-args"
cat <<'YAML'
---
# Source: chart/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: chart-cm
---
# Source: chart/templates/tests/test-connection.yaml
apiVersion: v1
kind: Pod
metadata:
  name: chart-test
spec:
  containers: [{{name: t, image: busybox}}]
YAML
""")
    helm.chmod(0o755)


def test_helm(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.file("chart/Chart.yaml", "name: chart\n")
    project.file("chart/requirements.yaml", "dependencies:\n- name: sub\n  repository: file://subchart\n")
    project.file("values-dev.yaml", "a: 1\n")
    bin_dir = project.root / "bin"
    _fake_helm(bin_dir, "v3.14.2+gc309b6f")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = project.ok("""
        k8s_yaml(helm('chart', name='rel', namespace='team', values=['values-dev.yaml'], set=['x=1', 'y=2'],
                      kube_version='1.29.0'))
    """)
    args = (bin_dir / "helm-args").read_text().split()
    assert args == ["template", "rel", project.path("chart"), "--namespace", "team", "--kube-version", "1.29.0",
                    "--include-crds", "--values", "values-dev.yaml", "--set", "x=1", "--set", "y=2"]
    [manifest] = result.manifests  # the tests/ Pod is filtered out
    assert manifest.k8s.objects[0]["metadata"] == {"name": "chart-cm", "namespace": "team"}
    for watched in ("chart", "values-dev.yaml", "subchart"):
        assert project.path(watched) in result.watched_files
    assert any(line.startswith("Running: helm template rel") for line in result.logs)
    # Defaults: release name "chart"; helm 3.0 has no --include-crds.
    _fake_helm(bin_dir, "v3.0.2")
    project.ok("helm('chart', skip_crds=True)\n")
    assert (bin_dir / "helm-args").read_text().split() == ["template", "chart", project.path("chart")]


def test_helm_errors(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.file("chart/Chart.yaml", "name: chart\n")
    monkeypatch.setenv("PATH", str(project.root / "empty-bin"))
    assert "Unable to find Helm installation. Make sure `helm` is on your $PATH." in project.error("helm('chart')\n")
    assert "Could not read Helm chart directory" in project.error("helm('nope')\n")
    assert "may only be called on directories with Chart.yaml" in project.error("helm('chart/Chart.yaml')\n")
    _fake_helm(project.root / "bin", "v2.16.0")
    monkeypatch.setenv("PATH", str(project.root / "bin"))
    assert "could not parse Helm version" in project.error("helm('chart')\n")


@pytest.mark.skipif(shutil.which("kustomize") is None and shutil.which("kubectl") is None,
                    reason="needs kustomize or kubectl")
def test_kustomize(project: Project) -> None:
    project.file("kust/kustomization.yaml", "resources:\n- cm.yaml\nnamePrefix: dev-\n")
    project.file("kust/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n")
    result = project.ok("k8s_yaml(kustomize('kust'))\n")
    assert result.manifests[0].k8s.objects[0]["metadata"]["name"] == "dev-cfg"
    assert project.path("kust/cm.yaml") in result.watched_files
    assert project.path("kust/kustomization.yaml") in result.watched_files
    assert "not found" in project.error("kustomize('kust', kustomize_bin='./no-such-binary')\n")


def test_discovery_strategy_is_kept(project: Project) -> None:
    project.file("k.yml", DEPLOYMENT.format(name="web", image="busybox"))
    result = project.ok("k8s_yaml('k.yml')\n"
                        "k8s_resource('web', discovery_strategy='selectors-only', extra_pod_selectors=[{'app': 'x'}])\n")
    assert result.manifest("web").k8s.discovery_strategy == "selectors-only"
    assert result.manifest("web").k8s.extra_pod_selectors == ((("app", "x"),),)
