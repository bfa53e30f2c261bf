"""``Optimizer``: parameter groups, per-parameter state, ``state_dict`` round trips and hooks.

The layout is torch's: ``param_groups`` is a list of dicts (``'params'`` plus the group's
hyperparameters, filled in from ``defaults``), ``state`` maps each parameter (the Tensor itself)
to a dict of its buffers, and ``state_dict()`` replaces parameters by integer ids so that a
checkpoint loads into a fresh optimizer over new parameters of the same shapes.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from copy import deepcopy
from typing import Any

import numpy as np

from .._tensor import Tensor, _zero_grads, wrap
from ..autograd.grad_mode import enable_grad
from . import _util

__all__ = [
    "Optimizer",
    "required",
    "register_optimizer_step_pre_hook",
    "register_optimizer_step_post_hook",
]

StateDict = dict[str, Any]


class _RequiredParameter:
    """Marks a hyperparameter every parameter group must specify."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class _RemovableHandle:
    """Removes a hook from the ordered dict it was registered in (torch's RemovableHandle)."""

    _next_id = 0

    def __init__(self, hooks_dict: OrderedDict) -> None:
        self.hooks_dict = hooks_dict
        self.id = _RemovableHandle._next_id
        _RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _register(hooks: OrderedDict, hook, prepend: bool = False) -> _RemovableHandle:
    handle = _RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


_global_optimizer_pre_hooks: OrderedDict = OrderedDict()
_global_optimizer_post_hooks: OrderedDict = OrderedDict()


def register_optimizer_step_pre_hook(hook: Callable) -> _RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run before every optimizer's ``step``.

    The hook may return ``(new_args, new_kwargs)`` to replace the step's arguments.
    """
    return _register(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook: Callable) -> _RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run after every optimizer's ``step``."""
    return _register(_global_optimizer_post_hooks, hook)


def _with_step_hooks(step):
    """Wrap a ``step`` so the global and per-optimizer pre/post hooks run around it.

    A subclass's ``step`` that calls ``super().step()`` still runs the hooks once: the inner
    call sees ``_in_step`` set and goes straight through.
    """

    @functools.wraps(step)
    def hooked_step(self, *args, **kwargs):
        if self._in_step:
            return step(self, *args, **kwargs)
        for pre_hook in itertools.chain(
            _global_optimizer_pre_hooks.values(), self._optimizer_step_pre_hooks.values()
        ):
            result = pre_hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(
                        f"{step} must return None or a tuple of (new_args, new_kwargs), "
                        f"but got {result}."
                    )
        self._in_step = True
        try:
            out = step(self, *args, **kwargs)
        finally:
            self._in_step = False
        for post_hook in itertools.chain(
            self._optimizer_step_post_hooks.values(), _global_optimizer_post_hooks.values()
        ):
            post_hook(self, args, kwargs)
        return out

    hooked_step.hooked = True
    return hooked_step


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return obj.type()
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


_SCALAR_STATE_KEYS = ("step", "mu_product")


def _cast_tensor(param: Tensor, value: Tensor, key) -> Tensor:
    """A copy of the state tensor ``value`` on ``param``'s device (and dtype, if floating).

    torch returns the loaded tensor itself when no conversion is needed, so a state_dict
    loaded twice would share buffers between optimizers; tocha always copies.
    """
    if key in _SCALAR_STATE_KEYS:
        # step counters stay as they are (float32 on the CPU), as torch keeps them; tocha keeps
        # NAdam's running momentum product the same way (torch casts it to the parameter's
        # dtype, so a float64 run resumed from a checkpoint drifts from the uninterrupted one)
        return wrap(value._data.copy())
    if value.device != param.device:
        value = value.to(device=param.device)
    arr = value._data
    if param.is_floating_point():
        arr = arr.astype(param._data.dtype, order="C", copy=True)
    else:
        arr = arr.copy()
    t = wrap(arr)
    if value.requires_grad:
        t.requires_grad_(True)
    return t


def _cast(param: Tensor, value, key=None):
    if isinstance(value, Tensor):
        return _cast_tensor(param, value, key)
    if isinstance(value, dict):
        return {k: _cast(param, v, key=k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs (``named_parameters()``),
            or of dicts defining parameter groups (each with a ``'params'`` key plus options
            that override ``defaults`` for that group).
        defaults: the default value of every hyperparameter of the optimizer.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import optim
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> b = torch.tensor([0.5], requires_grad=True)
        >>> opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.5]
        >>> opt.state_dict()["param_groups"][1]["params"]
        [1]
    """

    _in_step = False
    # group options a state_dict from an older version may lack, with their defaults
    _group_defaults: dict[str, Any] = {}
    # whether ``state['step']`` is a tensor (all but SGD and LBFGS), as torch keeps it
    _step_is_tensor = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "hooked", False):
            cls.step = _with_step_hooks(step)

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: OrderedDict = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                "dicts, but got " + _typename(params)
            )
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # --- pickling (torch keeps only defaults, state and param_groups) ---------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in (
            "_optimizer_step_pre_hooks",
            "_optimizer_step_post_hooks",
            "_optimizer_state_dict_pre_hooks",
            "_optimizer_state_dict_post_hooks",
            "_optimizer_load_state_dict_pre_hooks",
            "_optimizer_load_state_dict_post_hooks",
        ):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self.defaults.setdefault("differentiable", False)
        # groups saved by older versions may lack newer options: fill them from the defaults
        for group in self.param_groups:
            for k, v in self._group_defaults.items():
                group.setdefault(k, v)
        if self._step_is_tensor:
            for st in self.state.values():
                if isinstance(st, dict) and "step" in st and not isinstance(st["step"], Tensor):
                    st["step"] = _util.new_step(float(st["step"]))

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group.keys()):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # --- parameter groups ------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own options) to ``param_groups``.

        Example:
            >>> import tocha.core as torch
            >>> from tocha.core import optim
            >>> opt = optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
            >>> opt.add_param_group({"params": torch.zeros(3, requires_grad=True), "lr": 1.0})
            >>> len(opt.param_groups), opt.param_groups[1]["lr"], opt.param_groups[1]["momentum"]
            (2, 1.0, 0)
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        tensors, names = [], []
        for item in params:
            if isinstance(item, tuple):
                names.append(item[0])
                tensors.append(item[1])
            else:
                tensors.append(item)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names
        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    + _typename(param)
                )
            if not self.defaults.get("differentiable", None) and not (
                param.is_leaf or param.retains_grad
            ):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)
        ids = {id(p) for p in tensors}
        if len(ids) != len(tensors):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error; see github.com/pytorch/pytorch/issues/40967 for more "
                "information",
                stacklevel=3,
            )
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # --- gradients -------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors.

        Args:
            set_to_none: set ``.grad`` to ``None`` (the default) instead of filling it with
                zeros. A parameter whose grad is ``None`` is skipped by ``step``, whereas a zero
                gradient still moves it (momentum, weight decay).
        """
        _zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None):
        """Perform one optimization step (update every parameter that has a gradient).

        Args:
            closure: re-evaluates the model and returns the loss; required by LBFGS, optional
                for the others. It runs with gradients enabled.
        """
        raise NotImplementedError

    @staticmethod
    def _eval_closure(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # --- hooks -----------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable) -> _RemovableHandle:
        """Register ``hook(optimizer, args, kwargs)`` to run before ``step``.

        It may return ``(new_args, new_kwargs)``. Returns a handle whose ``remove()`` unregisters
        the hook.
        """
        return _register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> _RemovableHandle:
        """Register ``hook(optimizer, args, kwargs)`` to run after ``step``."""
        return _register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook: Callable, prepend: bool = False):
        """Register ``hook(optimizer)`` to run before ``state_dict()`` builds its result."""
        return _register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable, prepend: bool = False):
        """Register ``hook(optimizer, state_dict)``; it may return a replacement state_dict."""
        return _register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable, prepend: bool = False):
        """Register ``hook(optimizer, state_dict)`` to run before loading; it may return a
        replacement state_dict."""
        return _register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable, prepend: bool = False):
        """Register ``hook(optimizer)`` to run after ``load_state_dict``."""
        return _register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # --- state_dict ------------------------------------------------------------------------------
    def state_dict(self) -> StateDict:
        """The optimizer's state as ``{'state': {id: {...}}, 'param_groups': [...]}``.

        Parameters are replaced by integer ids, numbered in order through the groups; each
        group keeps its options and lists its ids under ``'params'``. As in torch, the state
        tensors are the optimizer's own (not copies).

        Example:
            >>> import tocha.core as torch
            >>> from tocha.core import optim
            >>> w = torch.tensor([1.0], requires_grad=True)
            >>> opt = optim.Adam([w])
            >>> w.grad = torch.tensor([0.5])
            >>> opt.step()
            >>> sd = opt.state_dict()
            >>> sorted(sd["state"][0]), sd["param_groups"][0]["params"]
            (['exp_avg', 'exp_avg_sq', 'step'], [0])
        """
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        mapping: dict[int, int] = {}
        start = 0

        def pack(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack(g) for g in self.param_groups]
        packed_state = {
            (mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()
        }
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Load a state produced by ``state_dict()`` (of this optimizer or another over
        parameters of the same shapes, in the same order).

        State tensors are copied onto each parameter's device, and cast to its dtype when it
        is floating point (``step`` counters keep theirs).

        Example:
            >>> import tocha.core as torch
            >>> from tocha.core import optim
            >>> w = torch.tensor([1.0], requires_grad=True)
            >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
            >>> w.grad = torch.tensor([1.0])
            >>> opt.step()
            >>> w2 = torch.tensor([5.0], requires_grad=True)
            >>> opt2 = optim.SGD([w2], lr=0.5)
            >>> opt2.load_state_dict(opt.state_dict())
            >>> opt2.param_groups[0]["lr"], opt2.state[w2]["momentum_buffer"]
            (0.1, tensor([1.]))
        """
        state_dict = dict(state_dict)
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(
            zip(
                itertools.chain.from_iterable(g["params"] for g in saved_groups),
                itertools.chain.from_iterable(g["params"] for g in groups),
            )
        )
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v)
            else:
                state[k] = v

        def update_group(group: dict[str, Any], new_group: dict[str, Any]) -> dict[str, Any]:
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    def _check_differentiable(self, group: dict[str, Any]) -> None:
        if group.get("differentiable"):
            raise RuntimeError(
                f"{type(self).__name__}: differentiable=True is not supported by tocha (the "
                "step updates parameters in place without recording a graph)"
            )


def _validate(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def _check_hparams(lr, **values) -> None:
    """Validate a constructor's hyperparameters with torch's messages, in the order given.

    ``lr`` is a number or a one-element tensor, at least 0; ``betas`` must lie in [0, 1),
    ``rho`` in [0, 1], and every other value must be at least 0 (its keyword is the name the
    message uses, e.g. ``epsilon``).
    """
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    _validate(lr >= 0.0, f"Invalid learning rate: {lr}")
    for name, value in values.items():
        if name == "betas":
            for i in (0, 1):
                _validate(0.0 <= value[i] < 1.0, f"Invalid beta parameter at index {i}: {value[i]}")
        elif name == "rho":
            _validate(0.0 <= value <= 1.0, f"Invalid rho value: {value}")
        else:
            _validate(value >= 0.0, f"Invalid {name} value: {value}")


_ndarray = np.ndarray


def _cuda_optim():
    from ..cuda import _optim

    return _optim


def _check_fused(defaults: dict[str, Any]) -> None:
    if defaults["fused"]:
        if defaults["differentiable"]:
            raise RuntimeError("`fused` does not support `differentiable`")
        if defaults["foreach"]:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


class _ElementwiseOptimizer(Optimizer):
    """Base of the optimizers whose update is an element-wise kernel (all but LBFGS).

    ``step`` walks the groups and the parameters that have a gradient, creates each
    parameter's state on first use, counts its steps, and hands ``_kernel`` to a
    :class:`_util.Batch` (chunked, in place, spread over threads when large). A subclass gives
    the kernel, how many scratch arrays it needs (``_ntmp``) and ``_group_args``; torch's
    ``foreach``/``fused`` choices are accepted and all take this one path.
    """

    _step_is_tensor = True
    _ntmp = 2
    # ``items -> None``: the fused multi-tensor CUDA step (cuda/_optim.py) for the parameters
    # of one group, each ``(p, g, states, kernel args)``; None where a subclass has none
    _cuda_multi = None

    @staticmethod
    def _kernel(xp, p, g, states, tmps, *args) -> None:
        """Update ``p`` (and the ``states`` arrays) in place from the gradient ``g``."""
        raise NotImplementedError

    def _group_args(self, group: dict[str, Any]) -> tuple[tuple, tuple, Callable | None]:
        """``(names, args, per_step)`` for one parameter group.

        ``names`` lists the state buffers the kernel receives, in order (``None`` for one the
        group's options leave out); the kernel is called with ``*args`` and then, when
        ``per_step`` is given, ``*per_step(step, state)`` for the parameter's step count.
        """
        raise NotImplementedError

    def _init_state(self, st: dict[str, Any], p: Tensor, names: tuple) -> None:
        """Fill a new parameter's state: a step counter and a zero buffer per name."""
        st["step"] = _util.new_step()
        for name in names:
            if name is not None:
                st[name] = _util.state_like(p)

    def _prepare(self, p: Tensor, names: tuple, args: tuple, per_step) -> tuple[tuple, tuple]:
        """The state arrays and kernel arguments to update ``p`` with (counts the step)."""
        st = self.state[p]
        if not st:
            self._init_state(st, p, names)
        step_t = st["step"]._data
        # step += 1 through a Python float: the same value (exact, then rounded once to the
        # counter's dtype), without the cost of an in-place ufunc on a 0-d array
        step_t[...] = float(step_t) + 1.0
        states = tuple([None if n is None else st[n]._data for n in names])
        if per_step is None:
            return states, args
        return states, args + per_step(float(step_t), st)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step; returns the closure's loss when a closure is given.

        Args:
            closure: re-evaluates the model and returns the loss (optional); it runs with
                gradients enabled.
        """
        loss = self._eval_closure(closure)
        batch = _util.Batch(self._scratches())
        add = batch.add
        kernel, ntmp, prepare = self._kernel, self._ntmp, self._prepare
        for group in self.param_groups:
            self._check_differentiable(group)
            names, args, per_step = self._group_args(group)
            # fused / foreach on CUDA: the group's parameters in one multi-tensor launch
            fused = self._cuda_multi is not None and (group.get("fused") or group.get("foreach"))
            items = [] if fused else None
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                states, kargs = prepare(p, names, args, per_step)
                pa, ga = p._data, g._data
                if (
                    fused
                    and pa.__class__ is not _ndarray
                    and _cuda_optim().eligible(pa, ga, states)
                ):
                    items.append((pa, ga, states, kargs))
                else:
                    add(kernel, pa, ga, states, ntmp, kargs)
                p._bump_version()
            if items:
                self._cuda_multi(items)
        batch.run()
        return loss

    def _scratches(self) -> list:
        # temporaries reused from step to step (one set per thread); not part of the state
        s = self.__dict__.get("_scratch_buffers")
        if s is None:
            s = self.__dict__["_scratch_buffers"] = [_util.Scratch()]
        return s
