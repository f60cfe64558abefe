"""SageMaker's settings: the ``targets.sagemaker`` block of a spec.

Imported by every spec that writes the block (``cloudserve validate`` included): pydantic and
the core only, never boto3."""

from __future__ import annotations

from pydantic import Field

from cloudserve.spec.models import StrictModel
from cloudserve.spec.targets import TargetSettings


class Vpc(StrictModel):
    subnets: list[str] = Field(min_length=1)
    security_group_ids: list[str] = Field(min_length=1)


class SageMakerSettings(TargetSettings):
    target = "sagemaker"

    region: str | None = Field(default=None, description="Defaults to the AWS chain's region.")
    role_arn: str | None = Field(default=None, description="Execution role SageMaker assumes.")
    bucket: str | None = Field(default=None, description="S3 bucket for model artifacts.")
    prefix: str = "cloudserve"
    vpc: Vpc | None = None
    kms_key_id: str | None = None
    profile: str | None = Field(
        default=None, description="Named AWS profile (credentials stay in the AWS chain)."
    )
    native_monitoring: bool = Field(
        default=False, description="Use SageMaker Model Monitor schedules where the account can."
    )
    offline: bool = Field(
        default=False,
        description="Carry every wheel the serving container installs inside model.tar.gz, so "
        "it starts with no package index (a VPC without internet access). The wheels are "
        "fetched once, at apply, on this machine.",
    )
