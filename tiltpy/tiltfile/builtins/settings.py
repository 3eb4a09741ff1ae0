"""Settings builtins: update_settings, ci_settings, secret_settings,
version_settings, docker_prune_settings, analytics_settings, enable_feature,
disable_feature, disable_snapshots, set_team (and experimental_analytics_report).

They only record; assembly copies the result into TiltfileResult
(see finish_result)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiltpy.model.manifest import DockerPruneSettings
from tiltpy.tiltfile.builtins._common import area, parse_go_duration
from tiltpy.tiltfile.errors import TiltfileError
from tiltpy.tiltfile.values import as_bool, as_int, as_str, as_str_dict, as_str_list, type_name

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext
    from tiltpy.model.manifest import TiltfileResult
    from tiltpy.tiltfile.state import TiltfileState

# The Tilt release whose Tiltfile API tiltpy follows: version_settings(constraint=)
# is checked against it, since Tiltfiles are written for Tilt's versions.
TILT_COMPAT_VERSION = "0.37.6"

# Tilt's feature flags (internal/feature/flags.go): name -> (enabled, status).
_FEATURES = {
    "multiple_containers_per_pod": (True, "obsolete"), "events": (True, "obsolete"),
    "snapshots": (True, "active"), "update_history": (False, "obsolete"), "facets": (True, "obsolete"),
    "labels": (True, "obsolete"), "live_update_v2": (True, "obsolete"), "disable_resources": (True, "obsolete"),
    "bulk_disable_resources": (False, "obsolete"), "cluster_refresh": (False, "active"),
    "offline_snapshot_creation": (True, "obsolete"),
}


@dataclass
class Settings:
    """What the *_settings() builtins, ci_settings() and friends set."""

    ci_timeout_secs: float | None = None
    readiness_timeout_secs: float | None = None
    k8s_grace_period_secs: float | None = None
    scrub_secrets: bool = True
    check_updates: bool = True
    docker_prune: DockerPruneSettings = field(default_factory=DockerPruneSettings)
    analytics: bool | None = None
    features: dict[str, bool] = field(default_factory=lambda: {k: v[0] for k, v in _FEATURES.items()})
    team_id: str = ""
    suppress_unused_image_warnings: list[str] = field(default_factory=list)
    k8s_server_side_apply: str = "auto"
    analytics_tags: dict[str, str] = field(default_factory=dict)


def settings(state: TiltfileState) -> Settings:
    return area(state, "settings", Settings)


def _optional_int(builtin: str, param: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TiltfileError(f'{builtin}: for parameter "{param}": got {type_name(value)}, want int')
    return value


def update_settings(ctx: FileContext, max_parallel_updates: Any = None, k8s_upsert_timeout_secs: Any = None,
                    suppress_unused_image_warnings: Any = None, k8s_server_side_apply: Any = "") -> None:
    fn = "update_settings"
    mpu = _optional_int(fn, "max_parallel_updates", max_parallel_updates)
    if mpu is not None and mpu < 1:
        raise TiltfileError(f"max number of parallel updates must be >= 1(got: {mpu})")
    timeout = _optional_int(fn, "k8s_upsert_timeout_secs", k8s_upsert_timeout_secs)
    if timeout is not None and timeout < 1:
        raise TiltfileError(f"minimum k8s upsert timeout is 1s; got {timeout}s")
    ssa = as_str(fn, "k8s_server_side_apply", k8s_server_side_apply)
    if ssa not in ("", "true", "false", "auto"):
        raise TiltfileError(f'update_settings: k8s_server_side_apply must be "true", "false", or "auto"; got "{ssa}"')
    suppressed = as_str_list(fn, "suppress_unused_image_warnings", suppress_unused_image_warnings)
    if mpu is not None:
        ctx.state.max_parallel_updates = mpu
    if timeout is not None:
        ctx.state.k8s_upsert_timeout_secs = timeout
    s = settings(ctx.state)
    s.suppress_unused_image_warnings += suppressed
    if ssa:
        s.k8s_server_side_apply = ssa


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds."""
    return parse_go_duration(text) / 10 ** 9


def _duration(builtin: str, param: str, value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TiltfileError(f'{builtin}: for parameter "{param}": Expected string. Got: {type_name(value)}')
    try:
        return parse_duration(value)
    except ValueError as err:
        raise TiltfileError(f'{builtin}: for parameter "{param}": {err}') from None


def ci_settings(ctx: FileContext, k8s_grace_period: Any = None, timeout: Any = None,
                readiness_timeout: Any = None) -> None:
    fn = "ci_settings"
    grace = _duration(fn, "k8s_grace_period", k8s_grace_period)
    total = _duration(fn, "timeout", timeout)
    ready = _duration(fn, "readiness_timeout", readiness_timeout)
    s = settings(ctx.state)
    if grace is not None:
        s.k8s_grace_period_secs = grace
    if total is not None:
        s.ci_timeout_secs = total
    if ready is not None:
        s.readiness_timeout_secs = ready


def secret_settings(ctx: FileContext, disable_scrub: Any = False) -> None:
    settings(ctx.state).scrub_secrets = not as_bool("secret_settings", "disable_scrub", disable_scrub)


def _version(text: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?", text.strip())
    if not match:
        raise ValueError(f"Invalid version {text!r}")
    return int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)


def version_matches(version: str, constraint: str) -> bool:
    """blang/semver ranges: comparators (>=, <=, >, <, =, ==, !=) joined by
    spaces (and) or '||' (or); x wildcards."""
    current = _version(version)
    for alternative in constraint.split("||"):
        words = alternative.split()
        if not words:
            raise ValueError(f"Could not parse Range {constraint!r}")
        ok = True
        for word in words:
            match = re.fullmatch(r"(>=|<=|>|<|==|=|!=|!)?(.+)", word)
            assert match is not None
            op = match.group(1) or "="
            target = match.group(2)
            if re.search(r"\.[xX*]$|^[xX*]$", target):
                parts = [p for p in target.split(".") if p not in ("x", "X", "*")]
                prefix = tuple(int(p) for p in parts)
                hit = current[: len(prefix)] == prefix
                ok = ok and (hit if op in ("=", "==") else not hit if op in ("!=", "!") else True)
                continue
            wanted = _version(target)
            ok = ok and {
                ">=": current >= wanted, "<=": current <= wanted, ">": current > wanted, "<": current < wanted,
                "=": current == wanted, "==": current == wanted, "!=": current != wanted, "!": current != wanted,
            }[op]
        if ok:
            return True
    return False


def version_settings(ctx: FileContext, check_updates: Any = None, constraint: Any = "") -> None:
    fn = "version_settings"
    if check_updates is not None:  # a later call with only a constraint keeps it (as in Tilt)
        settings(ctx.state).check_updates = as_bool(fn, "check_updates", check_updates)
    constraint = as_str(fn, "constraint", constraint)
    if not constraint:
        return
    try:
        ok = version_matches(TILT_COMPAT_VERSION, constraint)
    except ValueError as err:
        raise TiltfileError(f"error parsing version constraint: {err}") from None
    if not ok:
        raise TiltfileError(f"you are running Tilt version {TILT_COMPAT_VERSION} (tiltpy follows its Tiltfile API), "
                            f"which doesn't match the version constraint specified in your Tiltfile: '{constraint}'")


def docker_prune_settings(ctx: FileContext, disable: Any = False, max_age_mins: Any = 0, num_builds: Any = 0,
                          interval_hrs: Any = 0, keep_recent: Any = None) -> None:
    fn = "docker_prune_settings"
    disable = as_bool(fn, "disable", disable)
    max_age = as_int(fn, "max_age_mins", max_age_mins)
    builds = as_int(fn, "num_builds", num_builds)
    interval = as_int(fn, "interval_hrs", interval_hrs)
    if builds != 0 and interval != 0:
        raise TiltfileError("can't specify both 'prune every X builds' and 'prune every Y hours'; please pass "
                            "only one of `num_builds` and `interval_hrs`")
    current = settings(ctx.state).docker_prune
    settings(ctx.state).docker_prune = DockerPruneSettings(
        enabled=not disable,
        max_age_mins=max_age or current.max_age_mins,
        num_builds=builds,
        interval_hrs=interval or current.interval_hrs,
        keep_recent=current.keep_recent if keep_recent is None else as_int(fn, "keep_recent", keep_recent),
    )


def analytics_settings(ctx: FileContext, enable: Any) -> None:
    settings(ctx.state).analytics = as_bool("analytics_settings", "enable", enable)


def experimental_analytics_report(ctx: FileContext, tags: Any) -> None:
    settings(ctx.state).analytics_tags.update(as_str_dict("experimental_analytics_report", "tags", tags))


def _set_feature(ctx: FileContext, name: str, enabled: bool) -> None:
    if name not in _FEATURES:
        raise TiltfileError(f"Unknown feature flag: {name}")
    if _FEATURES[name][1] == "obsolete":
        ctx.state.warnings.append(f"Obsolete feature flag: {name}")
        ctx.state.log(f"WARNING: Obsolete feature flag: {name}")
        return
    settings(ctx.state).features[name] = enabled


def enable_feature(ctx: FileContext, feature_name: Any) -> None:
    _set_feature(ctx, as_str("enable_feature", "msg", feature_name, allow_none=False), True)


def disable_feature(ctx: FileContext, feature_name: Any) -> None:
    _set_feature(ctx, as_str("disable_feature", "msg", feature_name, allow_none=False), False)


def disable_snapshots(ctx: FileContext) -> None:
    _set_feature(ctx, "snapshots", False)


def set_team(ctx: FileContext, team_id: Any) -> None:
    team_id = as_str("set_team", "team_id", team_id, allow_none=False)
    if not team_id:
        raise TiltfileError("team_id cannot be empty")
    s = settings(ctx.state)
    if s.team_id:
        raise TiltfileError(f"team_id set multiple times (to '{s.team_id}' and '{team_id}')")
    s.team_id = team_id


def suppressed_image_warning(state: TiltfileState, ref: str) -> bool:
    from tiltpy.image.dockerfile import ref_name

    names = settings(state).suppress_unused_image_warnings
    return "*" in names or ref in names or ref_name(ref) in names


def apply_settings(state: TiltfileState, result: TiltfileResult) -> None:
    s = settings(state)
    if s.ci_timeout_secs is not None:
        result.ci_timeout_secs = s.ci_timeout_secs
    if s.readiness_timeout_secs is not None:
        result.readiness_timeout_secs = s.readiness_timeout_secs
    if s.k8s_grace_period_secs is not None:
        result.k8s_grace_period_secs = s.k8s_grace_period_secs
    result.docker_prune = s.docker_prune
    result.k8s_server_side_apply = s.k8s_server_side_apply
    result.version_check_updates = s.check_updates
    result.features = dict(s.features)
    result.analytics_enabled = s.analytics
    result.team_id = s.team_id


BUILTINS = {
    "update_settings": update_settings,
    "ci_settings": ci_settings,
    "secret_settings": secret_settings,
    "version_settings": version_settings,
    "docker_prune_settings": docker_prune_settings,
    "analytics_settings": analytics_settings,
    "experimental_analytics_report": experimental_analytics_report,
    "enable_feature": enable_feature,
    "disable_feature": disable_feature,
    "disable_snapshots": disable_snapshots,
    "set_team": set_team,
}
