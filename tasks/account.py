"""``hold_account``: the account guard a bot flow takes before its first order.

Two locks per account, taken in this order and held for the whole trading part of the run:

1. the OS lock (``core.account_lock``, ``<data_dir>/locks/<account>.lock``): holds across Prefect
   servers and processes on this machine, and the kernel frees it when the holder dies, even by
   ``kill -9``. A run that finds it taken waits up to ``timeout`` s, logging which run holds it,
   then is refused with ``AccountBusy`` naming that run.
2. the strict Prefect global concurrency limit ``account-<key>`` (visible in the UI), with a short
   lease (60 s, renewed by Prefect every 45 s) instead of Prefect's 5 minutes.

A run killed with ``kill -9`` cannot release its Prefect lease, and a temporary server (or a
server without the lease-expiry service) may never expire it. The lease id is written into the OS
lock file, so the next holder - who by then holds the OS lock, hence knows the old holder is dead -
releases the dead run's lease before asking for its own slot: the account is usable again at once.

A limit is named per bot account (for the hedge bot, a venue pair), but on live venues two pairs
can share one venue account (paradex+grvt and backpack+grvt both trade the GRVT account). So a live
run also takes the OS lock of every venue account it trades (``venue_accounts``): two live bots
never share a venue account on this machine, whichever pair or server started them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from core.account_lock import AccountBusy, AccountLock, describe_holder, hold_accounts
from core.errors import PerpflowError

LEASE_S = 60.0  # Prefect's minimum; renewed at 75 % of it while the run holds the slot
MIN_SLOT_WAIT_S = 2.0  # Prefect gives up at once on a timeout of 0, even for a free slot
log = logging.getLogger("perpflow.account")

__all__ = ["AccountBusy", "AccountRefused", "ensure_account_limit", "hold_account", "limit_name", "lock_dir",
           "venue_accounts"]


class AccountRefused(PerpflowError):
    """The account's lock cannot be taken (its Prefect limit is missing): nothing was sent."""


def venue_accounts(venue_mode: str, venues: Iterable[str]) -> list[str]:
    """The venue accounts a run trades, each locked on its own (live only: a simulated venue is
    the run's own world, shared with nobody)."""
    return [f"{venue_mode}-venue-{v}" for v in sorted(set(venues))] if venue_mode == "live" else []


def limit_name(account_key: str) -> str:
    """The strict Prefect global concurrency limit of an account (limit 1): the one place its name
    is made (the bots' scaffold, ``make serve`` and the command line all ask here)."""
    return f"account-{account_key}"


def ensure_account_limit(account_key: str) -> str:
    """Create the account's strict limit (limit 1) if it does not exist yet; returns its name."""
    from prefect.client.orchestration import get_client

    name = limit_name(account_key)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, 1)
    return name


def _tag(account_key: str) -> str:
    return f"account:{account_key}"


def _holders(account_key: str, flow_run_id: str | None) -> list[str]:
    """Running flow runs that hold the account (they tag themselves when they take it)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[_tag(account_key)]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))))
    return [f"run {r.name} ({r.id})" for r in runs if str(r.id) != str(flow_run_id)]


def _slot_busy(name: str) -> bool:
    """True when the account's Prefect slot is taken; raises ``AccountRefused`` when the limit is missing."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        raise AccountRefused(f"the account's concurrency limit {name} does not exist (`make serve` creates it, "
                             f"as does `perpflow <bot>`); refusing to trade unlocked") from None
    return limit.active_slots >= limit.limit


def _mark_holder(account_key: str, flow_run_id: str | None) -> None:
    """Tag the flow run with the account, so a run waiting for it can say which run it waits for."""
    if not flow_run_id:
        return
    from prefect.client.orchestration import get_client

    with contextlib.suppress(Exception), get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(str(flow_run_id)))
        client.update_flow_run(run.id, tags=sorted({*run.tags, _tag(account_key)}))


def lock_dir(data_dir: Path | None = None) -> Path:
    """Where the accounts' OS locks live: ``<data_dir>/locks``."""
    if data_dir is None:
        from core.settings import get_settings

        data_dir = get_settings().data_dir
    return Path(data_dir) / "locks"


def _api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def _answers(api_url: str) -> bool:
    """The dead run's server still runs (a server of its own that died with it does not)."""
    import httpx

    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def release_dead_leases(locks: list[AccountLock], logger: Any = log) -> list[str]:
    """Release the Prefect leases the previous (dead) holders of ``locks`` left; returns their ids."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    released = []
    for lock in locks:
        lease = lock.previous.get("lease_id")
        if not lease:
            continue
        other = lock.previous.get("api_url")
        urls = [None] + ([other] if other not in (None, _api_url()) and _answers(other) else [])
        for url in urls:
            settings = {PREFECT_API_URL: url} if url else {}
            with contextlib.suppress(Exception), temporary_settings(settings), get_client(sync_client=True) as c:
                c.release_concurrency_slots_with_lease(UUID(str(lease)))  # unknown lease: a no-op
        released.append(str(lease))
        logger.info("account %s: released the Prefect slot of run %s, which died holding it",
                    lock.account, lock.previous.get("flow_run_id") or lock.previous.get("run_id"))
    return released


@contextlib.contextmanager
def _prefect_slots(names: list[str], timeout: float, flow_run_id: str | None) -> Iterator[UUID]:
    """Prefect's ``concurrency(strict=True)`` with a short lease, yielding the lease id."""
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.concurrency._leases import maintain_concurrency_lease
    from prefect.concurrency._sync import (
        acquire_concurrency_slots_with_lease,
        release_concurrency_slots_with_lease,
    )

    holder = ConcurrencyLeaseHolder(type="flow_run", id=UUID(flow_run_id)) if flow_run_id else None
    response = acquire_concurrency_slots_with_lease(names, 1, timeout_seconds=timeout, strict=True,
                                                    lease_duration=LEASE_S, holder=holder)
    try:
        with maintain_concurrency_lease(response.lease_id, LEASE_S, raise_on_lease_renewal_failure=True):
            yield response.lease_id
    finally:
        with contextlib.suppress(Exception):
            release_concurrency_slots_with_lease(response.lease_id)


@contextlib.contextmanager
def hold_account(account_keys: list[str], run_info: Mapping[str, Any], *, timeout: float = 0.0,
                 logger: Any = log, data_dir: Path | None = None,
                 venue_accounts: Sequence[str] = ()) -> Iterator[list[AccountLock]]:
    """Hold every account (OS lock, then Prefect slot) for the block; see the module docstring.
    ``venue_accounts`` (``venue_accounts()``) are OS-locked too, with no Prefect limit of their own.

    The single place a bot takes its account. ``run_info``: what others are shown while this run
    holds the account (``run_id``, ``flow_run_id``, ...). Raises ``AccountRefused`` when an
    account's limit does not exist, ``AccountBusy`` naming the holder after ``timeout`` s; a run
    that finds an account busy logs that it waits, and for which run.
    """
    deadline = time.monotonic() + timeout
    info = {"started": datetime.now(UTC).isoformat(timespec="seconds"), **run_info}
    keys = sorted(set(account_keys))
    flow_run_id = run_info.get("flow_run_id")
    for key in keys:  # before any lock: a missing limit refuses, a busy one says whom it waits for
        if _slot_busy(limit_name(key)):
            held_by = ", ".join(_holders(key, flow_run_id)) or "another run"
            logger.info("account %s is busy: waiting up to %.0f s for %s", key, timeout, held_by)

    def waiting(busy: AccountBusy) -> None:
        logger.info("account %s is busy: waiting up to %.0f s for %s", busy.account, timeout,
                    describe_holder(busy.holder))

    with hold_accounts(lock_dir(data_dir), [*account_keys, *venue_accounts], info, timeout=timeout,
                       on_wait=waiting) as locks:
        release_dead_leases(locks, logger)
        names = [limit_name(k) for k in keys]
        with contextlib.ExitStack() as stack:
            try:
                lease = stack.enter_context(
                    _prefect_slots(names, max(MIN_SLOT_WAIT_S, deadline - time.monotonic()),
                                   run_info.get("flow_run_id")))
            except TimeoutError:
                raise AccountBusy(", ".join(keys),
                                  {"limit": ", ".join(names), "api_url": _api_url()}, timeout) from None
            for lock in locks:
                lock.note(lease_id=str(lease), api_url=_api_url())
            for key in keys:
                _mark_holder(key, flow_run_id)
            logger.info("account %s locked for run %s", ", ".join(keys), run_info.get("run_id"))
            yield locks
