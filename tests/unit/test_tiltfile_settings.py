"""Settings builtins and what they put in TiltfileResult; warn/fail/exit;
trigger_mode; default_registry; secrets to scrub."""
from __future__ import annotations

import base64

import pytest

from tests.unit.test_tiltfile_support import DEPLOYMENT, Project, project  # noqa: F401
from tiltpy.model.manifest import TRIGGER_MODE_AUTO, TRIGGER_MODE_MANUAL, DockerPruneSettings
from tiltpy.tiltfile.builtins.settings import parse_duration, version_matches


def test_defaults(project: Project) -> None:
    result = project.ok("print('nothing')\n")
    assert result.max_parallel_updates == 3 and result.k8s_upsert_timeout_secs == 30
    assert result.ci_timeout_secs == 1800 and result.readiness_timeout_secs == 300
    assert result.k8s_grace_period_secs == 0
    assert result.docker_prune == DockerPruneSettings(True, 360, 0, 1, 2)
    assert result.k8s_server_side_apply == "auto" and result.version_check_updates is True
    assert result.features["snapshots"] is True and result.analytics_enabled is None and result.team_id == ""


def test_settings_are_recorded(project: Project) -> None:
    result = project.ok("""
        update_settings(max_parallel_updates=5, k8s_upsert_timeout_secs=60, k8s_server_side_apply='false')
        ci_settings(k8s_grace_period='1m30s', timeout='10m', readiness_timeout='90s')
        docker_prune_settings(disable=False, max_age_mins=30, num_builds=4, keep_recent=1)
        version_settings(check_updates=False, constraint='>=0.22.2 <1.0.0')
        analytics_settings(False)
        disable_snapshots()
        enable_feature('events')  # obsolete: a warning
        set_team('team-123')
        experimental_analytics_report({'k': 'v'})
        secret_settings(disable_scrub=False)
    """)
    assert (result.max_parallel_updates, result.k8s_upsert_timeout_secs, result.k8s_server_side_apply) == (5, 60, "false")
    assert (result.k8s_grace_period_secs, result.ci_timeout_secs, result.readiness_timeout_secs) == (90, 600, 90)
    assert result.docker_prune == DockerPruneSettings(enabled=True, max_age_mins=30, num_builds=4, interval_hrs=1,
                                                      keep_recent=1)
    assert result.version_check_updates is False and result.analytics_enabled is False
    assert result.features["snapshots"] is False and result.team_id == "team-123"
    assert "Obsolete feature flag: events" in result.warnings


@pytest.mark.parametrize("tiltfile, expected", [
    ("update_settings(max_parallel_updates=0)\n", "max number of parallel updates must be >= 1(got: 0)"),
    ("update_settings(k8s_upsert_timeout_secs=0)\n", "minimum k8s upsert timeout is 1s; got 0s"),
    ("update_settings(max_parallel_updates='2')\n", 'for parameter "max_parallel_updates": got string, want int'),
    ("update_settings(k8s_server_side_apply='maybe')\n", 'k8s_server_side_apply must be "true", "false", or "auto"'),
    ("ci_settings(timeout='soon')\n", 'time: invalid duration "soon"'),
    ("ci_settings(timeout='10')\n", 'time: missing unit in duration "10"'),
    ("docker_prune_settings(num_builds=2, interval_hrs=3)\n", "can't specify both 'prune every X builds'"),
    ("version_settings(constraint='<0.17.0')\n", "doesn't match the version constraint specified in your Tiltfile"),
    ("version_settings(constraint='>=banana')\n", "error parsing version constraint"),
    ("enable_feature('no_such_flag')\n", "Unknown feature flag: no_such_flag"),
    ("set_team('')\n", "team_id cannot be empty"),
    ("set_team('a')\nset_team('b')\n", "team_id set multiple times (to 'a' and 'b')"),
    ("trigger_mode(TRIGGER_MODE_MANUAL)\ntrigger_mode(TRIGGER_MODE_AUTO)\n", "trigger_mode can only be called once"),
    ("trigger_mode(3)\n", "TRIGGER_MODE_AUTO"),
    ("default_registry('localhost:5000')\ndefault_registry('gcr.io/x')\n", "default registry already defined"),
    ("default_registry('Not A Host')\n", "validating defaultRegistry"),
    ("fail('stop here')\n", "stop here"),
    ("warn(1)\n", 'for parameter "msg"'),
])
def test_settings_errors(project: Project, tiltfile: str, expected: str) -> None:
    assert expected in project.error(tiltfile)


def test_trigger_mode_default_registry_warn_exit(project: Project) -> None:
    project.file("k.yml", DEPLOYMENT.format(name="app", image="busybox") + "---\n"
                 + DEPLOYMENT.format(name="auto", image="busybox"))
    result = project.ok("""
        trigger_mode(TRIGGER_MODE_MANUAL)
        default_registry('localhost:5005', host_from_cluster='registry:5000', single_name='dev')
        k8s_yaml('k.yml')
        k8s_resource('auto', trigger_mode=TRIGGER_MODE_AUTO)
        warn('careful')
        exit('bye')
        fail('never')
    """)
    assert result.manifest("app").trigger_mode == TRIGGER_MODE_MANUAL
    assert result.manifest("auto").trigger_mode == TRIGGER_MODE_AUTO
    assert (result.default_registry, result.default_registry_from_cluster, result.default_registry_single_name) == \
        ("localhost:5005", "registry:5000", "dev")
    assert "careful" in result.warnings and "bye" in result.logs
    assert project.ok("exit()\n").logs == []


def test_secrets_are_collected_unless_disabled(project: Project) -> None:
    encoded = base64.b64encode(b"s3cr3t-value").decode()
    project.file("secret.yml", f"""
        apiVersion: v1
        kind: Secret
        metadata: {{name: creds}}
        data: {{password: {encoded}, short: {base64.b64encode(b'abc').decode()}}}
        stringData: {{token: tok-12345}}
    """)
    result = project.ok("k8s_yaml('secret.yml')\n")
    assert set(result.secrets) == {"s3cr3t-value", encoded, "tok-12345", base64.b64encode(b"tok-12345").decode()}
    assert result.secret_replacements["s3cr3t-value"] == "[redacted secret creds:password]"
    assert project.ok("secret_settings(disable_scrub=True)\nk8s_yaml('secret.yml')\n").secrets == []


def test_suppress_unused_image_warnings(project: Project) -> None:
    result = project.ok("docker_build('lonely', '.')\ndocker_build('other', '.')\n"
                        "update_settings(suppress_unused_image_warnings=['lonely'])\n")
    assert not any("lonely" in w for w in result.warnings) and any("other" in w for w in result.warnings)
    assert not project.ok("docker_build('x', '.')\nupdate_settings(suppress_unused_image_warnings='*')\n").warnings


def test_parse_duration_and_versions() -> None:
    assert parse_duration("1h30m") == 5400 and parse_duration("300ms") == 0.3 and parse_duration("0") == 0
    assert parse_duration("1.5h") == 5400 and parse_duration("-2s") == -2
    assert version_matches("0.37.6", ">=0.22.2") and not version_matches("0.37.6", "<0.17.0")
    assert version_matches("0.37.6", "<0.1.0 || >=0.37.0") and version_matches("0.37.6", "0.37.x")
    assert not version_matches("0.37.6", "!=0.37.6")
