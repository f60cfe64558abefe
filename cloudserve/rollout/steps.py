"""The traffic split at each step of a rollout from one split to another.

A step is the share of all traffic the growing versions (those whose share rises) carry,
as in Argo Rollouts' setWeight: canary steps [10, 50, 100] towards {candidate: 100} give
10%, 50%, 100%. Steps at or above the growing versions' final share collapse into the
final step, so a canary to {stable: 90, candidate: 10} is one step of 10%. Shrinking
versions give up traffic in proportion to what they lose overall.
"""

from __future__ import annotations

from collections.abc import Mapping


def _largest_remainder(raw: Mapping[str, float]) -> dict[str, int]:
    """Round to integers that still sum to 100, favouring the largest remainders."""
    floors = {k: int(v) for k, v in raw.items()}
    missing = 100 - sum(floors.values())
    for key in sorted(raw, key=lambda k: (raw[k] - floors[k], k), reverse=True)[: max(0, missing)]:
        floors[key] += 1
    return floors


def growing(previous: Mapping[str, int], target: Mapping[str, int]) -> list[str]:
    return sorted(v for v in target if target[v] > previous.get(v, 0))


def step_splits(
    previous: Mapping[str, int], target: Mapping[str, int], steps: list[int]
) -> list[dict[str, int]]:
    """The split at each step; the last is always ``target`` exactly."""
    names = sorted(set(previous) | set(target))
    grow = growing(previous, target)
    start = sum(previous.get(v, 0) for v in grow)
    end = sum(target.get(v, 0) for v in grow)
    final = {n: target.get(n, 0) for n in names}
    if not grow or end <= start:
        return [final]
    splits: list[dict[str, int]] = []
    for share in steps:
        if share <= start:
            continue
        if share >= end:
            break
        fraction = (share - start) / (end - start)
        raw = {n: previous.get(n, 0) + fraction * (target.get(n, 0) - previous.get(n, 0)) for n in names}
        split = _largest_remainder(raw)
        if not splits or splits[-1] != split:
            splits.append(split)
    if not splits or splits[-1] != final:
        splits.append(final)
    return splits
