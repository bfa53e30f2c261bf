"""The op contract: graph nodes whose forward sees arrays and whose backward sees Tensors.

An op is a subclass of `Node`::

    class Exp(Node):
        save_outputs = (0,)              # what backward needs, declared once

        def forward(self, x):            # raw arrays in, raw arrays out (NumPy or CuPy)
            return get_array_module(x).exp(x)

        def backward(self, grad):        # Tensors in, Tensors out, written with tocha ops
            (y,) = self.saved_outputs
            return grad * y

    y = Exp.apply(x)                      # Tensors in, Tensors out

Because backward is written with tocha's own ops, it is itself differentiable: running it with
grad mode on (``create_graph=True``) records a graph of the gradient computation, which gives
double backward for every op. The engine reduces a gradient whose shape is a broadcast of its
input's shape back to that shape, so an op's backward never has to.
"""

from __future__ import annotations

from .. import _dtype
from .._mode import MODE
from .._tensor import Tensor, wrap

_new = object.__new__

__all__ = ["Node", "Function", "FunctionCtx", "once_differentiable"]

_RELEASED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed when "
    "you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward."
)


def _check_version(t, version, node):
    vc = t._vc
    if (vc[0] if vc is not None else 0) != version:
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{t.dtype.name} {list(t.shape)}] is at version "
            f"{vc[0] if vc is not None else 0}; expected version {version} instead "
            f"(saved by {node.name()})."
        )


class Node:
    """A recorded operation in the autograd graph (torch's ``grad_fn``).

    Attributes set by ``apply`` when the op is recorded:
        next_edges: one entry per Tensor input, ``None`` (no gradient needed) or a tuple
            ``(target, output_nr, shape, dtype)`` where target is the input's ``grad_fn`` or,
            for a leaf, the input Tensor itself.
        needs_input_grad: per input, whether a gradient is wanted.
    """

    # Per-node state that most nodes never change lives in class defaults, so recording an
    # op sets only what it must (per-op overhead is a benchmark target).
    __slots__ = ("next_edges", "_saved_in", "_saved_out", "__dict__", "__weakref__")

    save_inputs: tuple = ()
    save_outputs: tuple = ()
    nondiff_outputs: tuple = ()
    is_view = False
    _n_out = 1
    _out_meta = None
    _pre_hooks = None
    _released = False
    _trace = None
    _node_prehooks = None  # torch's Node.register_prehook / register_hook lists
    _node_posthooks = None

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors, recording it when grad mode is on and an input needs grad."""
        node = _new(cls)
        n = len(inputs)
        try:
            if n == 1:
                out = node.forward(inputs[0]._data, **params)
            elif n == 2:
                out = node.forward(inputs[0]._data, inputs[1]._data, **params)
            else:
                out = node.forward(*[t._data for t in inputs], **params)
        except ValueError as e:
            if "broadcast" not in str(e):
                raise
            from .._ops._util import broadcast_error

            raise broadcast_error(cls.__name__.lower(), *[t._data.shape for t in inputs]) from None
        record = False
        if MODE.grad:
            for t in inputs:
                if t._rg:
                    record = True
                    break
        if out.__class__ is tuple:
            outs = tuple(wrap(o) for o in out)
            if record:
                node._record(inputs, outs)
            elif node.is_view:
                for o in outs:
                    _mark_view(o, inputs[0])
            return outs
        res = wrap(out)
        if record:
            node._record(inputs, (res,))
        elif node.is_view:
            _mark_view(res, inputs[0])
        return res

    def _record(self, inputs, outs):
        self.next_edges = [
            ((t if t.grad_fn is None else t.grad_fn), t._nr, t._data.shape, t._data.dtype)
            if t._rg
            else None
            for t in inputs
        ]
        if MODE.anomaly:
            import traceback

            self._trace = "".join(traceback.format_stack()[:-3])
        save = self.save_inputs
        if save:
            self._saved_in = [(inputs[i], inputs[i]._vc[0] if inputs[i]._vc else 0) for i in save]
        else:
            self._saved_in = None
        if len(outs) == 1:
            o = outs[0]
            if not self.nondiff_outputs and o._data.dtype.kind in "fcV":
                o._rg = True
                o.grad_fn = self
        else:
            nondiff = self.nondiff_outputs
            self._n_out = len(outs)
            self._out_meta = [(o._data.shape, o._data.dtype) for o in outs]
            for nr, o in enumerate(outs):
                if nr in nondiff or o._data.dtype.kind not in "fcV":
                    continue
                o._rg = True
                o.grad_fn = self
                o._nr = nr
        if self.is_view:
            for o in outs:
                _mark_view(o, inputs[0])
        save = self.save_outputs
        if save:
            self._saved_out = [
                (outs[i]._data, outs[i]._vc_list(), outs[i]._version, i) for i in save
            ]
        else:
            self._saved_out = None

    @classmethod
    def record_binary(cls, a, b, result):
        """Wrap ``result`` (the op's forward of Tensors ``a`` and ``b``) and record the node.

        The same as ``cls.apply(a, b)`` for binary ops that save only inputs, without the
        generic dispatch: it is the hot path of ``+``, ``-`` and ``*`` (per-op overhead is a
        benchmark target).
        """
        node = _new(cls)
        out = wrap(result)
        ga, gb = a.grad_fn, b.grad_fn
        node.next_edges = [
            ((a if ga is None else ga), a._nr, a._data.shape, a._data.dtype) if a._rg else None,
            ((b if gb is None else gb), b._nr, b._data.shape, b._data.dtype) if b._rg else None,
        ]
        if cls.save_inputs:
            node._saved_in = [(a, a._vc[0] if a._vc else 0), (b, b._vc[0] if b._vc else 0)]
        else:
            node._saved_in = None
        node._saved_out = None
        if MODE.anomaly:
            import traceback

            node._trace = "".join(traceback.format_stack()[:-2])
        if out._data.dtype.kind in "fcV":
            out._rg = True
            out.grad_fn = node
        return out

    @property
    def needs_input_grad(self) -> tuple:
        """Per tensor input, whether its gradient is wanted."""
        return tuple([e is not None for e in self.next_edges])

    # --- access to what forward saved -------------------------------------------------------
    @property
    def saved_inputs(self) -> list:
        """The input Tensors named by ``save_inputs``, checked for in-place modification."""
        if self._released:
            raise RuntimeError(_RELEASED_MSG)
        res = []
        for t, version in self._saved_in or ():
            vc = t._vc
            if vc is not None and vc[0] != version:
                _check_version(t, version, self)  # raises, naming the tensor and the node
            res.append(t)
        return res

    @property
    def saved_outputs(self) -> list:
        """The outputs named by ``save_outputs`` as Tensors whose ``grad_fn`` is this node."""
        if self._released:
            raise RuntimeError(_RELEASED_MSG)
        res = []
        for data, vc, version, nr in self._saved_out or ():
            if vc[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: output {nr} of {self.name()} is at version {vc[0]}; "
                    f"expected version {version} instead."
                )
            t = wrap(data)
            t._vc = vc
            t._rg = True
            t.grad_fn = self
            t._nr = nr
            res.append(t)
        return res

    def _release(self):
        """Free what forward saved; a second backward then raises (if anything was saved)."""
        if self._saved_in or self._saved_out or self.__class__ is _UserNode:
            self._released = True
            self._saved_in = None
            self._saved_out = None

    # --- torch-compatible introspection -----------------------------------------------------
    def name(self) -> str:
        return type(self).__name__ + "Backward0"

    @property
    def next_functions(self) -> tuple:
        """``((node_or_AccumulateGrad, output_nr), ...)`` like torch's ``grad_fn.next_functions``."""
        res = []
        for e in self.next_edges:
            if e is None:
                res.append((None, 0))
            elif isinstance(e[0], Tensor):
                res.append((AccumulateGrad(e[0]), 0))
            else:
                res.append((e[0], e[1]))
        return tuple(res)

    def register_prehook(self, hook):
        """Run ``hook(grad_outputs) -> grad_outputs | None`` before this node's backward."""
        if self._node_prehooks is None:
            self._node_prehooks = []
        hooks = self._node_prehooks
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def register_hook(self, hook):
        """Run ``hook(grad_inputs, grad_outputs)`` after this node's backward."""
        if self._node_posthooks is None:
            self._node_posthooks = []
        hooks = self._node_posthooks
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def forward(self, *arrays, **params):  # pragma: no cover - contract
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, *grads):
        raise RuntimeError(f"derivative for {type(self).__name__} is not implemented")


def _mark_view(out, base) -> None:
    """``out`` views ``base``'s memory: share its version counter and remember the base."""
    out._vc = base._vc_list()
    out._base = base if base._base is None else base._base


class AccumulateGrad:
    """What torch shows as the ``next_functions`` entry of a leaf: it accumulates into .grad."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"


class _RemovableHandle:
    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


# --- the public, user-facing Function ---------------------------------------------------------
class FunctionCtx:
    """The ``ctx`` object a user ``Function`` receives (torch's FunctionCtx)."""

    def save_for_backward(self, *tensors) -> None:
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable = {id(t) for t in tensors}

    def mark_dirty(self, *tensors) -> None:
        self._dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize = bool(value)


class _UserNode(Node):
    """The graph node of a user-defined ``Function``: its ``backward`` gets ``ctx``."""

    needs_input_grad = None  # per forward argument, set by Function.apply

    def name(self) -> str:
        return self._fn_cls.__name__ + "Backward"

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(_RELEASED_MSG)
        res = []
        for item in self._user_saved:
            if item is None:
                res.append(None)
                continue
            t, version, is_out = item
            if not is_out:
                _check_version(t, version, self)
                res.append(t)
            else:
                res.append(t)
        return tuple(res)

    def save_for_backward(self, *tensors):
        FunctionCtx.save_for_backward(self, *tensors)

    mark_non_differentiable = FunctionCtx.mark_non_differentiable
    mark_dirty = FunctionCtx.mark_dirty
    set_materialize_grads = FunctionCtx.set_materialize_grads

    def backward(self, *grads):
        if getattr(self, "_materialize", True):
            grads = tuple(
                g if g is not None else _zeros(*meta) for g, meta in zip(grads, self._out_meta_all)
            )
        res = self._fn_cls.backward(self, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        # torch lets backward return a gradient for every forward argument; keep the tensor ones.
        grads_in = [res[i] if i < len(res) else None for i in self._tensor_positions]
        return tuple(grads_in)


def _zeros(shape, np_dtype):
    from .._ops.creation import zeros

    return zeros(shape, dtype=_dtype.from_numpy_dtype(np_dtype))


class _FunctionMeta(type):
    pass


class Function(metaclass=_FunctionMeta):
    """Base class of user-defined differentiable operations (torch.autograd.Function).

    Example:
        >>> import tocha.core as torch
        >>> class Cube(torch.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x ** 3
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         (x,) = ctx.saved_tensors
        ...         return 3 * x ** 2 * grad
        >>> x = torch.tensor(2.0, requires_grad=True)
        >>> Cube.apply(x).backward(); x.grad
        tensor(12.)
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom Function.")

    @classmethod
    def apply(cls, *args, **kwargs):
        from .grad_mode import no_grad

        node = _UserNode.__new__(_UserNode)
        node._fn_cls = cls
        node._user_saved = ()
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in tensor_pos]
        node.needs_input_grad = tuple(isinstance(a, Tensor) and a._rg and MODE.grad for a in args)
        with no_grad():
            out = cls.forward(node, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        record = MODE.grad and any(t._rg for t in tensors)
        dirty = node.__dict__.get("_dirty", set())
        nondiff_ids = node.__dict__.get("_non_differentiable", set())
        nondiff = {i for i, o in enumerate(outs) if id(o) in nondiff_ids}
        input_ids = {id(t) for t in tensors}
        # torch returns a new view when forward hands back an input unchanged
        outs = tuple(
            o.view_as(o)
            if isinstance(o, Tensor) and id(o) in input_ids and id(o) not in dirty
            else o
            for o in outs
        )
        if record:
            node._tensor_positions = tensor_pos
            node._record_user(tensors, outs, nondiff)
        return outs[0] if single else outs


def _record_user(self, tensors, outs, nondiff):
    edges = []
    for t in tensors:
        if t._rg:
            gf = t.grad_fn
            edges.append((t if gf is None else gf, t._nr, t._data.shape, t._data.dtype))
        else:
            edges.append(None)
    self.next_edges = edges
    self._released = False
    self._pre_hooks = None
    self._trace = None
    self._saved_in = ()
    self._saved_out = ()
    self._n_out = len(outs)
    self._out_meta_all = [
        (o._data.shape, o._data.dtype) if isinstance(o, Tensor) else ((), None) for o in outs
    ]
    self._out_meta = self._out_meta_all
    for nr, o in enumerate(outs):
        if not isinstance(o, Tensor) or o._data.dtype.kind not in "fcV":
            continue
        if nr in nondiff:
            continue
        o._rg = True
        o.grad_fn = self
        o._nr = nr
    saved = []
    for t in self.__dict__.pop("_to_save", ()):
        if t is None:
            saved.append(None)
        else:
            saved.append((t, t._version, False))
    self._user_saved = tuple(saved)


_UserNode._record_user = _record_user


def once_differentiable(fn):
    """Decorator for a ``backward`` that is not itself differentiable (runs under no_grad)."""
    import functools

    from .grad_mode import no_grad

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)

    return wrapper
