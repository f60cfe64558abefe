"""The exclusive apply lock of one local deployment.

Two `apply` runs on the same deployment must not interleave their admin calls. An OS
file lock (released by the kernel if its holder dies, so it can never go stale) guards
the deployment; beside it, a small owner file names the holder so the one who waits
can be told who is in the way.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator

from cloudserve.errors import Conflict
from cloudserve.local.state import StateDir

DEFAULT_LOCK_TIMEOUT = 60.0
CHECK_EVERY = 0.5


def _holder_text(state: StateDir) -> str:
    owner = state.read_json(state.lock_owner)
    if not owner:
        return "another process"
    since = owner.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
    return f"pid {owner.get('pid')} on {owner.get('host')} ({owner.get('command')}, since {when})"


@contextlib.contextmanager
def deployment_lock(
    state: StateDir,
    name: str,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    while_busy: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the deployment's lock; wait up to ``timeout`` seconds, then raise Conflict.

    While the lock is busy, ``while_busy`` runs every ``CHECK_EVERY`` seconds and may
    raise to stop waiting: a rollout holds the lock for as long as it bakes, so a second
    apply is refused as soon as the rollout's lease is on the endpoint rather than
    waiting out the whole rollout.
    """
    import filelock  # core dependency, but only needed while applying

    state.ensure()
    lock = filelock.FileLock(str(state.lock))
    deadline = time.monotonic() + timeout
    wait = 0.0  # the first try does not wait, so a busy lock is checked at once
    while True:
        try:
            lock.acquire(timeout=wait)
            break
        except filelock.Timeout as err:
            left = deadline - time.monotonic()
            if while_busy is not None:
                while_busy()
            if left <= 0:
                raise Conflict(
                    f"local deployment {name!r} is locked by {_holder_text(state)}; waited {timeout:g} s",
                    hint="another apply or rollout is running on it: wait for it to finish, "
                    "or stop that process",
                ) from err
            wait = min(CHECK_EVERY, left)
    try:
        state.write_json(
            state.lock_owner,
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "command": " ".join(os.path.basename(a) for a in sys.argv[:3]) or "python",
                "since": time.time(),
            },
        )
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            state.lock_owner.unlink()
        lock.release()
