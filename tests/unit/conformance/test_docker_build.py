"""docker_build (tiltfile_test.go, docker_test.go)."""
from __future__ import annotations

import pytest

from tests.unit.conformance.support import Fixture, deployment, f  # noqa: F401


def test_missing_dockerfile(f: Fixture) -> None:
    """TestMissingDockerfile."""
    f.error("docker_build('gcr.io/foo', 'foo')\n", "foo/Dockerfile")


def test_simple(f: Fixture) -> None:
    """TestSimple: one image, one Deployment; the Dockerfile, .dockerignore and YAML are watched."""
    f.setup_foo()
    result = f.load("docker_build('gcr.io/foo', 'foo')\nk8s_yaml('foo.yaml')\n")
    assert f.names() == ["foo"]
    [target] = f.manifest("foo").image_targets
    assert target.ref == "gcr.io/foo" and target.context == f.path("foo") and target.live_update == ()
    for watched in ("Tiltfile", "foo/Dockerfile", "foo/.dockerignore", "foo.yaml"):
        assert f.path(watched) in result.watched_files


def test_local_image_ref(f: Fixture) -> None:
    """TestLocalImageRef: `fooimage` matches docker.io/library/fooimage and back."""
    f.dockerfile("foo/Dockerfile")
    f.yaml("foo.yaml", deployment("foo", image="fooimage"))
    f.load("docker_build('fooimage', 'foo')\nk8s_yaml('foo.yaml')\n")
    assert [t.ref for t in f.manifest("foo").image_targets] == ["fooimage"]


@pytest.mark.parametrize("extra, watched", [
    ("dockerfile='other/Dockerfile'", "other/Dockerfile"),  # TestExplicitDockerfileIsConfigFile
    ("dockerfile=None", "foo/Dockerfile"),  # TestDockerfileNone
])
def test_explicit_dockerfile_is_watched(f: Fixture, extra: str, watched: str) -> None:
    f.setup_foo()
    f.dockerfile("other/Dockerfile")
    result = f.load(f"docker_build('gcr.io/foo', 'foo', {extra})\nk8s_yaml('foo.yaml')\n")
    assert f.path(watched) in result.watched_files


def test_dockerfile_contents(f: Fixture) -> None:
    """TestExplicitDockerfileContents(AsBlob): a string or a blob; no Dockerfile read."""
    f.setup_foo()
    f.dockerfile("other/Dockerfile")
    result = f.load("docker_build('gcr.io/foo', 'foo', dockerfile_contents='FROM alpine')\nk8s_yaml('foo.yaml')\n")
    assert f.manifest("foo").image_targets[0].dockerfile_contents == "FROM alpine"
    assert f.path("foo/Dockerfile") not in result.watched_files
    result = f.load("docker_build('gcr.io/foo', 'foo', dockerfile_contents=read_file('other/Dockerfile'))\n"
                    "k8s_yaml('foo.yaml')\n")
    assert f.path("other/Dockerfile") in result.watched_files


def test_cant_specify_dockerfile_path_and_contents(f: Fixture) -> None:
    """TestCantSpecifyDFPathAndContents."""
    f.setup_foo()
    f.error("docker_build('gcr.io/foo', 'foo', dockerfile_contents='FROM alpine', dockerfile='foo/Dockerfile')\n",
            "both dockerfile and dockerfile_contents")


@pytest.mark.parametrize("arg, field, value", [
    ("target='stage'", "target", "stage"),  # TestDockerBuildTarget
    ("network='default'", "network", "default"),  # TestDockerBuildNetwork
    ("pull=True", "pull", True),  # TestDockerBuildPull
    ("cache_from='gcr.io/foo'", "cache_from", ("gcr.io/foo",)),  # TestDockerBuildCacheFrom
    ("extra_tag='foo:latest'", "extra_tags", ("foo:latest",)),  # TestDockerBuildExtraTagString
    ("extra_tag=['foo:latest', 'foo:jenkins-1234']", "extra_tags", ("foo:latest", "foo:jenkins-1234")),
    ("entrypoint='/bin/the_app'", "entrypoint", ("sh", "-c", "/bin/the_app")),  # TestDockerBuildEntrypointString
    ("entrypoint=['/bin/the_app']", "entrypoint", ("/bin/the_app",)),  # TestDockerBuildEntrypointArray
    ("container_args=['bar']", "container_args", ("bar",)),  # TestDockerBuildContainerArgs
    ("ignore='*.txt'", "ignore", ("*.txt",)),  # TestDockerbuildIgnoreAsString
    ("ignore=['*.txt', '*.md']", "ignore", ("*.txt", "*.md")),  # TestDockerbuildIgnoreAsArray
    ("only='myservice'", "only", ("myservice",)),  # TestDockerbuildOnly
    ("only=['common', 'myservice']", "only", ("common", "myservice")),  # TestDockerbuildOnlyAsArray
])
def test_docker_build_options(f: Fixture, arg: str, field: str, value: object) -> None:
    f.setup_foo()
    f.load(f"k8s_yaml('foo.yaml')\ndocker_build('gcr.io/foo', 'foo', {arg})\n")
    assert getattr(f.manifest("foo").image_targets[0], field) == value


def test_build_args_take_blobs(f: Fixture) -> None:
    """TestDockerBuild_buildArgs: build_args={'GIT_REV': local(...)}."""
    f.setup_foo()
    f.file("rev.txt", "hello")
    f.load("docker_build('gcr.io/foo', 'foo', build_args={'GIT_REV': local('cat rev.txt')})\nk8s_yaml('foo.yaml')\n")
    assert dict(f.manifest("foo").image_targets[0].build_args) == {"GIT_REV": "hello"}


def test_duplicate_image_names(f: Fixture) -> None:
    """TestDuplicateImageNames."""
    f.setup_expand()
    f.error("k8s_yaml('all.yaml')\ndocker_build('gcr.io/a', 'a')\ndocker_build('gcr.io/a', 'a')\n",
            'image for ref "gcr.io/a" has already been defined')


def test_invalid_image_name(f: Fixture) -> None:
    """TestInvalidImageNameInDockerBuild."""
    f.setup_expand()
    f.error("docker_build(\"ceci n'est pas une valid image ref\", 'a')\n", "invalid image reference")


def test_empty_dockerfile(f: Fixture) -> None:
    """TestEmptyDockerfileDockerBuild: an empty Dockerfile still loads."""
    f.setup_foo()
    f.file("foo/Dockerfile", "")
    f.load("docker_build('gcr.io/foo', 'foo')\nk8s_yaml('foo.yaml')\n")
    assert f.manifest("foo").image_targets[0].dockerfile_contents == ""


def test_empty_dockerfile_arg(f: Fixture) -> None:
    """TestDockerBuildEmptyDockerFileArg."""
    f.error("docker_build('web/api', '', dockerfile='')\n", "Dockerfile")


def test_context_made_later(f: Fixture) -> None:
    """Tilt reads only the Dockerfile at load: a context directory a local
    resource creates later is accepted (issue 10)."""
    f.yaml("foo.yaml", deployment("foo", image="gcr.io/foo"))
    f.load("local_resource('gen', 'mkdir -p build && cp Dockerfile build/')\n"
           "docker_build('gcr.io/foo', 'build', dockerfile_contents='FROM alpine')\n"
           "k8s_yaml('foo.yaml')\nk8s_resource('foo', resource_deps=['gen'])\n")
    assert f.manifest("foo").image_targets[0].context == f.path("build")


@pytest.mark.parametrize("files, tiltfile, images", [
    # TestImageDependency: B is FROM A, declared before A.
    ({"imageA.dockerfile": "FROM golang:1.10", "imageB.dockerfile": "FROM gcr.io/image-a"},
     "docker_build('gcr.io/image-b', '.', dockerfile='imageB.dockerfile')\n"
     "docker_build('gcr.io/image-a', '.', dockerfile='imageA.dockerfile')\n",
     ["gcr.io/image-a", "gcr.io/image-b"]),
    # TestImageDependencyDiamond
    ({"imageA.dockerfile": "FROM golang:1.10", "imageB.dockerfile": "FROM gcr.io/image-a",
      "imageC.dockerfile": "FROM gcr.io/image-a", "imageD.dockerfile": "FROM gcr.io/image-b\nFROM gcr.io/image-c\n"},
     "".join(f"docker_build('gcr.io/image-{x}', '.', dockerfile='image{x.upper()}.dockerfile')\n" for x in "abcd"),
     ["gcr.io/image-a", "gcr.io/image-b", "gcr.io/image-c", "gcr.io/image-d"]),
    # TestImageDependencyNormalization: FROM vandelay/common is docker.io/vandelay/common.
    ({"common.dockerfile": "FROM golang:1.10", "auth.dockerfile": "FROM vandelay/common"},
     "docker_build('vandelay/common', '.', dockerfile='common.dockerfile')\n"
     "docker_build('vandelay/auth', '.', dockerfile='auth.dockerfile')\n",
     ["vandelay/common", "vandelay/auth"]),
])
def test_image_dependencies(f: Fixture, files: dict[str, str], tiltfile: str, images: list[str]) -> None:
    for name, text in files.items():
        f.file(name, text)
    f.yaml("foo.yaml", deployment("foo", image=images[-1]))
    f.load(tiltfile + "k8s_yaml('foo.yaml')\n")
    assert [t.ref for t in f.manifest("foo").image_targets] == images


def test_image_dependency_copy_from_twice(f: Fixture) -> None:
    """TestImageDependencyTwice: two COPY --from the same image make one dependency."""
    f.file("imageA.dockerfile", "FROM golang:1.10")
    f.file("imageB.dockerfile", "FROM golang:1.10\nCOPY --from=gcr.io/image-a /src/package.json /src/package.json\n"
                                "COPY --from=gcr.io/image-a /src/package.lock /src/package.lock\n")
    f.yaml("snack.yaml", deployment("snack", image="gcr.io/image-b"))
    f.load("docker_build('gcr.io/image-a', '.', dockerfile='imageA.dockerfile')\n"
           "docker_build('gcr.io/image-b', '.', dockerfile='imageB.dockerfile')\nk8s_yaml('snack.yaml')\n")
    a, b = f.manifest("snack").image_targets
    assert a.image_deps == () and b.image_deps == ("gcr.io/image-a",)


def test_image_dependency_cycle(f: Fixture) -> None:
    """TestImageDependencyCycle."""
    f.file("imageA.dockerfile", "FROM gcr.io/image-b")
    f.file("imageB.dockerfile", "FROM gcr.io/image-a")
    f.yaml("foo.yaml", deployment("foo", image="gcr.io/image-b"))
    f.error("docker_build('gcr.io/image-b', '.', dockerfile='imageB.dockerfile')\n"
            "docker_build('gcr.io/image-a', '.', dockerfile='imageA.dockerfile')\nk8s_yaml('foo.yaml')\n",
            "image dependency cycle", "gcr.io/image-b")


def test_images_with_same_name_different_tags(f: Fixture) -> None:
    """TestImagesWithSameNameAssembly / DifferentManifests: the tag picks the image."""
    f.file("app.dockerfile", "FROM golang:1.10")
    f.file("app-jessie.dockerfile", "FROM golang:1.10-jessie")
    f.yaml("app.yaml", deployment("app", image="vandelay/app"), deployment("app-jessie", image="vandelay/app:jessie"))
    f.load("docker_build('vandelay/app', '.', dockerfile='app.dockerfile')\n"
           "docker_build('vandelay/app:jessie', '.', dockerfile='app-jessie.dockerfile')\nk8s_yaml('app.yaml')\n")
    assert [t.ref for t in f.manifest("app").image_targets] == ["vandelay/app"]
    assert [t.ref for t in f.manifest("app-jessie").image_targets] == ["vandelay/app:jessie"]


def test_matching_tag(f: Fixture) -> None:
    """TestDockerBuildMatchingTag."""
    f.file("Dockerfile", "FROM golang:1.10")
    f.yaml("foo.yaml", deployment("foo", image="gcr.io/foo:stable"))
    result = f.load("docker_build('gcr.io/foo:stable', '.')\nk8s_yaml('foo.yaml')\n")
    assert [t.ref for t in f.manifest("foo").image_targets] == ["gcr.io/foo:stable"] and not result.warnings


@pytest.mark.parametrize("yaml_image", [None, "gcr.io/foo", "gcr.io/foo:beta"])
def test_unused_image_warns(f: Fixture, yaml_image: str | None) -> None:
    """TestDockerBuildButK8sMissing / MissingTag / NonMatchingTag: a warning, not an error."""
    f.file("Dockerfile", "FROM golang:1.10")
    tiltfile = "docker_build('gcr.io/foo:stable', '.')\n"
    if yaml_image:
        f.yaml("foo.yaml", deployment("foo", image=yaml_image))
        tiltfile += "k8s_yaml('foo.yaml')\n"
    result = f.load(tiltfile)
    assert any("gcr.io/foo:stable" in w for w in result.warnings)


def test_suppress_unused_image_warnings(f: Fixture) -> None:
    """TestDockerBuildUnusedSuppressWarning: update_settings adds to the list."""
    f.file("Dockerfile", "FROM golang:1.10")
    result = f.load("docker_build('a', '.')\ndocker_build('b', '.')\n"
                    "update_settings(suppress_unused_image_warnings=['a'])\n"
                    "update_settings(suppress_unused_image_warnings=['b'])\n")
    assert result.warnings == []


def test_sidecar_images(f: Fixture) -> None:
    """TestSanchoSidecar: two images in one pod are one resource with both."""
    f.file("Dockerfile", "FROM golang:1.10")
    pod = deployment("sancho", image="gcr.io/some-project-162817/sancho")
    pod["spec"]["template"]["spec"]["containers"].append({"name": "sidecar",
                                                         "image": "gcr.io/some-project-162817/sancho-sidecar"})
    f.yaml("k8s.yaml", pod)
    f.load("k8s_yaml('k8s.yaml')\ndocker_build('gcr.io/some-project-162817/sancho', '.')\n"
           "docker_build('gcr.io/some-project-162817/sancho-sidecar', '.')\n")
    assert f.names() == ["sancho"]
    assert [t.ref for t in f.manifest("sancho").image_targets] == [
        "gcr.io/some-project-162817/sancho", "gcr.io/some-project-162817/sancho-sidecar"]


def test_default_registry_twice(f: Fixture) -> None:
    """TestTwoDefaultRegistries."""
    f.error("default_registry('gcr.io')\ndefault_registry('docker.io')\n", "default registry already defined")


def test_default_registry_at_end(f: Fixture) -> None:
    """TestDefaultRegistryAtEndOfTiltfile / HostFromCluster / SingleName: settings, whenever called."""
    f.setup_foo()
    result = f.load("docker_build('gcr.io/foo', 'foo')\nk8s_yaml('foo.yaml')\n"
                    "default_registry('abc.io', host_from_cluster='def.io', single_name='team-a/dev')\n")
    assert (result.default_registry, result.default_registry_from_cluster,
            result.default_registry_single_name) == ("abc.io", "def.io", "team-a/dev")


def test_custom_build_entrypoint_and_args(f: Fixture) -> None:
    """TestCustomBuildEntrypoint / TestCustomBuildContainerArgs."""
    f.yaml("foo.yaml", deployment("foo", image="gcr.io/foo"))
    f.load("custom_build('gcr.io/foo', 'docker build -t $EXPECTED_REF foo', ['foo'], entrypoint='/bin/the_app',"
           " container_args=['bar'])\nk8s_yaml('foo.yaml')\n")
    target = f.manifest("foo").image_targets[0]
    assert target.entrypoint == ("sh", "-c", "/bin/the_app") and target.container_args == ("bar",)


def test_custom_build_ignores(f: Fixture) -> None:
    """TestCustomBuildIgnoresSingular / Multiple."""
    f.setup_foo()
    f.load("custom_build('gcr.io/foo', 'docker build -t $EXPECTED_REF foo', ['foo'], ignore=['a.md', 'a.txt'])\n"
           "k8s_yaml('foo.yaml')\n")
    assert f.manifest("foo").image_targets[0].ignore == ("a.md", "a.txt")


def test_custom_build_skips_local_docker(f: Fixture) -> None:
    """TestCustomBuildSkipsLocalDocker / DisablePush / WithTag."""
    f.setup_foo()
    f.load("custom_build('gcr.io/foo', 'docker build -t $TAG foo', ['foo'], tag='v1', disable_push=True,"
           " skips_local_docker=True)\nk8s_yaml('foo.yaml')\n")
    build = f.manifest("foo").image_targets[0].custom_build
    assert (build.tag, build.disable_push, build.skips_local_docker) == ("v1", True, True)


def test_obsolete_cache_and_invalid_extra_tag(f: Fixture) -> None:
    """TestDockerBuildCache (a warning) / TestDockerBuildExtraTagListInvalid."""
    f.setup_foo()
    result = f.load("k8s_yaml('foo.yaml')\ndocker_build('gcr.io/foo', 'foo', cache='/paths/to/cache')\n")
    assert any("docker_build(cache=...) is obsolete" in w for w in result.warnings)
    f.error("k8s_yaml('foo.yaml')\ndocker_build('gcr.io/foo', 'foo', extra_tag='cherry bomb')\n",
            'Argument extra_tag="cherry bomb" not a valid image reference: invalid reference format')
