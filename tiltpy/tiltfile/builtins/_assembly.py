"""What assembly (tiltfile/assemble.py) needs from the builtins of
config, settings, k8s_extra and custom_build, in one place."""
from __future__ import annotations

from typing import TYPE_CHECKING

from tiltpy.tiltfile.builtins.config import apply_config
from tiltpy.tiltfile.builtins.custom_build import explicit_image_deps
from tiltpy.tiltfile.builtins.k8s_extra import (
    custom_deploy_image_refs,
    extra,
    is_kind_workload,
    kind_readiness,
    locator_images,
    locators_for,
    resolved_custom_deploy,
    resource_names,
    secrets_of,
)
from tiltpy.tiltfile.builtins.v1alpha1 import api_objects
from tiltpy.tiltfile.builtins.settings import apply_settings, settings, suppressed_image_warning

if TYPE_CHECKING:
    from tiltpy.model.manifest import TiltfileResult
    from tiltpy.tiltfile.state import TiltfileState


def finish_result(state: TiltfileState, result: TiltfileResult) -> None:
    result.api_objects = api_objects(state).all()
    apply_settings(state, result)
    apply_config(state, result)
    if settings(state).scrub_secrets:
        result.secrets, result.secret_replacements = secrets_of(state)


__all__ = [
    "custom_deploy_image_refs", "explicit_image_deps", "extra", "finish_result", "is_kind_workload",
    "kind_readiness", "locator_images", "locators_for", "resolved_custom_deploy", "resource_names",
    "suppressed_image_warning",
]
