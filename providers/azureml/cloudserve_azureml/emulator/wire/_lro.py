"""ARM's long-running-operation status body, which no installed SDK ships as a model.

azure-core's ARMPolling reads the Azure-AsyncOperation URL's body untyped (only
``status``), and the MachineLearningServices spec leaves the shape to ARM's common types:
``OperationStatusResult`` in Azure/azure-rest-api-specs
``specification/common-types/resource-management/v5/types.json`` (status required; id,
name, percentComplete 0-100, startTime, endTime, operations, error). Written here in the
generated models' own form so the same walker checks it.
"""

from __future__ import annotations

import datetime

from azure.ai.ml._restclient.arm_ml_service._utils.model_base import Model, rest_field
from azure.ai.ml._restclient.arm_ml_service.models import ErrorDetail, ErrorResponse

__all__ = ["ErrorResponse", "OperationStatusResult"]

_READ = ["read"]


class OperationStatusResult(Model):
    id: str | None = rest_field(visibility=_READ)
    name: str | None = rest_field(visibility=_READ)
    status: str = rest_field(visibility=_READ)
    percent_complete: float | None = rest_field(name="percentComplete", visibility=_READ)
    start_time: datetime.datetime | None = rest_field(name="startTime", visibility=_READ, format="rfc3339")
    end_time: datetime.datetime | None = rest_field(name="endTime", visibility=_READ, format="rfc3339")
    operations: list[OperationStatusResult] | None = rest_field(visibility=_READ)
    error: ErrorDetail | None = rest_field(visibility=_READ)
    resource_id: str | None = rest_field(name="resourceId", visibility=_READ)
