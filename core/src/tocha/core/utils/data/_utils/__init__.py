"""Internals of the data loader: collation, fetchers, worker processes, shared memory."""

from . import collate, fetch, shm, worker
from .worker import MP_STATUS_CHECK_INTERVAL

__all__ = ["collate", "fetch", "shm", "worker", "MP_STATUS_CHECK_INTERVAL"]
