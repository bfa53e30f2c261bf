"""CUDA streams and events (torch.cuda.Stream / Event) on CuPy's."""

from __future__ import annotations

from ._lazy import cupy_or_raise, device_index

__all__ = ["Stream", "Event", "current_stream", "default_stream", "set_stream", "stream"]


class Stream:
    """A CUDA stream: ops queued on it run in order; work on different streams may overlap.

    Args:
        device: the device it belongs to (default: the current one).
        priority: lower numbers run first (0 is the default priority).

    Example (on a GPU):
        >>> import tocha.core as torch  # doctest: +SKIP
        >>> s = torch.cuda.Stream()  # doctest: +SKIP
        >>> with torch.cuda.stream(s):  # doctest: +SKIP
        ...     y = x @ x
        >>> torch.cuda.current_stream().wait_stream(s)  # doctest: +SKIP
    """

    def __init__(self, device=None, priority: int = 0, **kwargs):
        cp = cupy_or_raise("Stream", RuntimeError)
        idx = device_index(device, "Stream")
        with cp.cuda.Device(idx):
            # priority is a newer CuPy keyword: pass it only when asked for
            cs = (
                cp.cuda.Stream(non_blocking=True, priority=priority)
                if priority
                else cp.cuda.Stream(non_blocking=True)
            )
        self._cs = cs
        self.device_index = idx

    @classmethod
    def _wrap(cls, cs, idx: int) -> Stream:
        self = object.__new__(cls)
        self._cs = cs
        self.device_index = idx
        return self

    @property
    def device(self):
        from .._device import device

        return device("cuda", self.device_index)

    @property
    def cuda_stream(self) -> int:
        """The raw ``cudaStream_t`` handle, as an int."""
        return int(self._cs.ptr)

    @property
    def priority(self) -> int:
        return int(getattr(self._cs, "priority", 0))

    def wait_event(self, event: Event) -> None:
        """Make later work on this stream wait for ``event``."""
        self._cs.wait_event(event._ev)

    def wait_stream(self, stream: Stream) -> None:
        """Make later work on this stream wait for what is queued on ``stream`` now."""
        self.wait_event(stream.record_event())

    def record_event(self, event: Event | None = None) -> Event:
        if event is None:
            event = Event()
        event.record(self)
        return event

    def query(self) -> bool:
        """True when all work queued on the stream has finished."""
        return bool(self._cs.done)

    def synchronize(self) -> None:
        self._cs.synchronize()

    def __enter__(self):
        self._cs.__enter__()
        return self

    def __exit__(self, *exc):
        return self._cs.__exit__(*exc)

    def __eq__(self, other) -> bool:
        return isinstance(other, Stream) and self.cuda_stream == other.cuda_stream

    def __hash__(self) -> int:
        return hash((self.cuda_stream, self.device_index))

    def __repr__(self) -> str:
        return (
            f"<tocha.core.cuda.Stream device=cuda:{self.device_index} "
            f"cuda_stream={hex(self.cuda_stream)}>"
        )


class Event:
    """A marker in a stream's work: wait on it, or time the work between two events.

    Args:
        enable_timing: record times so ``elapsed_time`` works.
        blocking: ``synchronize`` blocks the CPU thread (instead of spinning).
        interprocess: shareable between processes.

    Example (on a GPU):
        >>> start = torch.cuda.Event(enable_timing=True)  # doctest: +SKIP
        >>> end = torch.cuda.Event(enable_timing=True)  # doctest: +SKIP
        >>> start.record(); y = x @ x; end.record(); end.synchronize()  # doctest: +SKIP
        >>> ms = start.elapsed_time(end)  # doctest: +SKIP
    """

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess=False):
        cp = cupy_or_raise("Event", RuntimeError)
        self._ev = cp.cuda.Event(
            block=blocking, disable_timing=not enable_timing, interprocess=interprocess
        )
        self.enable_timing = enable_timing

    def record(self, stream: Stream | None = None) -> None:
        """Mark the current point of ``stream`` (default: the current stream)."""
        if stream is None:
            stream = current_stream()
        self._ev.record(stream._cs)

    def wait(self, stream: Stream | None = None) -> None:
        if stream is None:
            stream = current_stream()
        stream.wait_event(self)

    def query(self) -> bool:
        return bool(self._ev.done)

    def synchronize(self) -> None:
        self._ev.synchronize()

    def elapsed_time(self, end_event: Event) -> float:
        """Milliseconds from this event to ``end_event`` (both recorded, with timing)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError(
                "Event.elapsed_time: both events need enable_timing=True (got "
                f"{self.enable_timing} and {end_event.enable_timing})"
            )
        cp = cupy_or_raise("Event.elapsed_time")
        return float(cp.cuda.get_elapsed_time(self._ev, end_event._ev))

    def __repr__(self) -> str:
        return f"<tocha.core.cuda.Event {hex(int(self._ev.ptr))}>"


def current_stream(device=None) -> Stream:
    """The stream work is queued on now (CuPy's current stream)."""
    cp = cupy_or_raise("current_stream")
    idx = device_index(device, "current_stream")
    with cp.cuda.Device(idx):
        return Stream._wrap(cp.cuda.get_current_stream(), idx)


def default_stream(device=None) -> Stream:
    """The device's legacy default (null) stream."""
    cp = cupy_or_raise("default_stream")
    idx = device_index(device, "default_stream")
    return Stream._wrap(cp.cuda.Stream.null, idx)


def set_stream(stream: Stream) -> None:
    """Make ``stream`` current (prefer the ``stream`` context manager)."""
    if stream is None:
        return
    stream._cs.use()


class stream:
    """Context manager: queue work on ``stream`` inside; None makes it a no-op (as torch)."""

    def __init__(self, stream: Stream | None):
        self.stream = stream

    def __enter__(self):
        if self.stream is not None:
            self.stream.__enter__()
        return self.stream

    def __exit__(self, *exc):
        if self.stream is not None:
            self.stream.__exit__(*exc)
        return False
