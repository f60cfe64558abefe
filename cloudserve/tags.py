"""Tag/label keys cloudserve writes on everything it creates.

They are written in a form every target accepts (Vertex AI labels are the strictest:
lowercase letters, digits, '_' and '-', values up to 63 characters), so one scheme works
everywhere and `plan` and `destroy` can recognise cloudserve's resources.
"""

from __future__ import annotations

MANAGED_BY = "managed-by"
MANAGED_BY_VALUE = "cloudserve"
DEPLOYMENT = "cloudserve-deployment"
VERSION = "cloudserve-version"
CONFIG_HASH = "cloudserve-config"  # a version's immutable-config hash
SPEC_HASH = "cloudserve-spec"
ROLLOUT = "cloudserve-rollout"  # compact record of a rollout in progress
LEASE = "cloudserve-lease"  # holder and expiry of the deployment's lock

HASH_LEN = 16


def is_rollout_bookkeeping(key: str) -> bool:
    """The rollout record (its head and every chunk: -steps, -from, -to, -new, -why, -why-2, ...)
    and the lease: written by the controller, kept across settings updates, never a diff."""
    return key in (LEASE, ROLLOUT) or key.startswith(ROLLOUT + "-")


def is_internal(key: str) -> bool:
    """Keys cloudserve keeps for itself: plan never shows them as a change to the spec."""
    return key == SPEC_HASH or is_rollout_bookkeeping(key)


def ownership_tags(deployment: str, labels: dict[str, str], spec_hash: str) -> dict[str, str]:
    tags = dict(labels)
    tags[MANAGED_BY] = MANAGED_BY_VALUE
    tags[DEPLOYMENT] = deployment
    tags[SPEC_HASH] = spec_hash
    return tags
