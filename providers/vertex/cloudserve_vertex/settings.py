"""Vertex AI's settings: the ``targets.vertex`` block of a spec.

Imported by every spec that writes the block (``cloudserve validate`` included): pydantic and
the core only, never the Google SDK."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cloudserve.spec.targets import TargetSettings


class VertexSettings(TargetSettings):
    target = "vertex"

    project: str | None = None
    location: str = "us-central1"
    staging_bucket: str | None = None
    service_account: str | None = None
    network: str | None = None
    serving_image: str | None = Field(
        default=None,
        description="cloudserve's serving-runtime image (Artifact Registry), used for versions no "
        "prebuilt Vertex container can serve (skops, MLflow, custom handlers); it loads the model "
        "from AIP_STORAGE_URI.",
    )
    instance_format: Literal["keyed", "list"] | None = Field(
        default=None,
        description="How callers send prediction instances: keyed ({feature: value}) or list "
        "([v1, v2, ...]). Per-feature drift thresholds need keyed: Vertex AI model monitoring names "
        "the values of list instances itself.",
    )

    def version_fields(self) -> dict[str, Any]:
        # The serving image runs every version that no prebuilt container serves.
        return {"serving_image": self.serving_image} if self.serving_image else {}
