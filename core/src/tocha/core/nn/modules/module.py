"""Module: the base class of every layer (torch.nn.Module).

A module keeps its parameters, buffers and sub-modules in three ordered dicts
(``_parameters``, ``_buffers``, ``_modules``); ``__setattr__`` routes assignments into them and
``__getattr__`` reads them back, so attribute access, ``state_dict`` key names
(``"layer1.0.bn1.running_mean"``), ``repr`` and the hook machinery behave as in torch.
"""

from __future__ import annotations

import functools
import itertools
import warnings
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ... import _dtype
from ..._device import to_device
from ..._tensor import Tensor, _zero_grads, wrap
from ...autograd.function import Node
from ...autograd.grad_mode import MODE, no_grad
from ..parameter import Buffer, Parameter, _buffer_persistent, is_lazy

__all__ = ["Module"]

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"
_ndarray = np.ndarray


# --- helpers ------------------------------------------------------------------------------------
def _typename(obj) -> str:
    """torch.typename: ``'torch.FloatTensor'`` for tensors, the qualified type name otherwise."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", None)
    prefix = module + "." if module not in (None, "builtins", "__builtin__") else ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(name, str):
        return type(obj).__qualname__ if not prefix else prefix + type(obj).__qualname__
    return prefix + name


def _addindent(s: str, num_spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    pad = " " * num_spaces
    return lines[0] + "\n" + "\n".join(pad + line for line in lines[1:])


class RemovableHandle:
    """A handle that removes a registered hook (torch.utils.hooks.RemovableHandle).

    ``handle.remove()`` unregisters the hook; the handle is also a context manager.
    """

    next_id: int = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        if isinstance(extra_dict, dict):
            extra_dict = [extra_dict]
        self.extra_dict_ref = tuple(weakref.ref(d) for d in (extra_dict or ()))

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            d = ref()
            if d is not None and self.id in d:
                del d[self.id]

    def __getstate__(self):
        extra = tuple(r() for r in self.extra_dict_ref)
        return (self.hooks_dict_ref(), self.id, extra)

    def __setstate__(self, state) -> None:
        hooks, self.id, extra = state
        self.hooks_dict_ref = weakref.ref(OrderedDict() if hooks is None else hooks)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra if d is not None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class _WrappedHook:
    """A hook that is given its module as first argument (when ``module`` is set)."""

    def __init__(self, hook: Callable, module: Module | None = None):
        self.hook = hook
        functools.update_wrapper(self, hook)
        self.module = module

    def __call__(self, *args, **kwargs):
        if self.module is not None:
            return self.hook(self.module, *args, **kwargs)
        return self.hook(*args, **kwargs)


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _add_hook(hooks: dict, hook, flags=(), prepend: bool = False) -> RemovableHandle:
    """Register ``hook`` in ``hooks`` under a fresh handle. ``flags`` holds ``(dict, on)``
    pairs of per-hook flags (with_kwargs, always_call): the hook's id is set in each dict that
    is ``on``, and the handle removes it from all of them. ``prepend`` runs it first."""
    handle = RemovableHandle(hooks, extra_dict=[d for d, _ in flags] if flags else None)
    hooks[handle.id] = hook
    for d, on in flags:
        if on:
            d[handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


# --- global hooks (torch.nn.modules.module.register_module_*) -----------------------------------
_global_buffer_registration_hooks: dict = OrderedDict()
_global_module_registration_hooks: dict = OrderedDict()
_global_parameter_registration_hooks: dict = OrderedDict()
_global_backward_pre_hooks: dict = OrderedDict()
_global_backward_hooks: dict = OrderedDict()
_global_is_full_backward_hook: bool | None = None
_global_forward_pre_hooks: dict = OrderedDict()
_global_forward_hooks: dict = OrderedDict()
_global_forward_hooks_always_called: dict = OrderedDict()
_global_forward_hooks_with_kwargs: dict = OrderedDict()


def register_module_buffer_registration_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, name, buffer)`` on every ``register_buffer``; it may return a new one."""
    return _add_hook(_global_buffer_registration_hooks, hook)


def register_module_module_registration_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, name, submodule)`` on every sub-module registration."""
    return _add_hook(_global_module_registration_hooks, hook)


def register_module_parameter_registration_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, name, param)`` on every ``register_parameter``."""
    return _add_hook(_global_parameter_registration_hooks, hook)


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """A forward pre-hook run before every module's own pre-hooks: ``hook(module, args)``."""
    return _add_hook(_global_forward_pre_hooks, hook)


def register_module_forward_hook(
    hook: Callable, *, with_kwargs: bool = False, always_call: bool = False
) -> RemovableHandle:
    """A forward hook run for every module, before its own: ``hook(module, args, output)``."""
    flags = (
        (_global_forward_hooks_always_called, always_call),
        (_global_forward_hooks_with_kwargs, with_kwargs),
    )
    return _add_hook(_global_forward_hooks, hook, flags)


_MIXED_HOOKS_MSG = (
    "Cannot use both regular backward hooks and full backward hooks as a global Module hook. "
    "Please use only one of them."
)
_MIXED_MODULE_HOOKS_MSG = (
    "Cannot use both regular backward hooks and full backward hooks on a single Module. "
    "Please use only one of them."
)


def register_module_backward_hook(hook: Callable) -> RemovableHandle:
    """Global non-full backward hook (deprecated in torch; prefer the full one)."""
    global _global_is_full_backward_hook
    if _global_is_full_backward_hook is True:
        raise RuntimeError(_MIXED_HOOKS_MSG)
    _global_is_full_backward_hook = False
    return _add_hook(_global_backward_hooks, hook)


def register_module_full_backward_pre_hook(hook: Callable) -> RemovableHandle:
    """Global ``hook(module, grad_output)`` run before every module's backward."""
    return _add_hook(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """Global ``hook(module, grad_input, grad_output)`` run after every module's backward."""
    global _global_is_full_backward_hook
    if _global_is_full_backward_hook is False:
        raise RuntimeError(_MIXED_HOOKS_MSG)
    _global_is_full_backward_hook = True
    return _add_hook(_global_backward_hooks, hook)


# --- full backward hooks --------------------------------------------------------------------
class _BackwardHookNode(Node):
    """Identity on the module's input (or output) tensors; its graph node carries the hooks.

    Gradients pass through unchanged; the module hooks are attached as this node's pre-hook
    (gradients w.r.t. the module's outputs) and post-hook (gradients w.r.t. its inputs), as
    torch's BackwardHookFunction does.
    """

    def backward(self, *grads):
        # an output that got no gradient passes zeros on (torch materializes them too); hooks
        # have already seen None for it
        if None in grads:
            grads = tuple(
                g if g is not None else wrap(xp.zeros(shape, dt))
                for g, (shape, dt, xp) in zip(grads, self._zero_meta)
            )
        return grads

    def name(self) -> str:
        return "BackwardHookFunctionBackward"


def _identity_with_node(tensors: list) -> tuple:
    """New handles on ``tensors`` whose shared grad_fn is one `_BackwardHookNode`."""
    node = object.__new__(_BackwardHookNode)
    outs = []
    for t in tensors:
        o = wrap(t._data)
        o._vc = t._vc_list()  # same memory: in-place writes are seen through both
        outs.append(o)
    outs = tuple(outs)
    node.nondiff_outputs = tuple(i for i, t in enumerate(tensors) if not t._rg)
    node._record(tensors, outs)
    node._n_out = len(outs)
    # no zero-filling by the engine: hooks see None for an output that got no gradient, as
    # in torch; backward fills in zeros afterwards
    node._out_meta = [(o._data.shape, None) for o in outs]
    node._zero_meta = [(o._data.shape, o._data.dtype, o.xp) for o in outs]
    return outs, node


class _BackwardHook:
    """Runs a module's full backward (pre-)hooks around the gradient of one call."""

    def __init__(self, module: Module, user_hooks: list, user_pre_hooks: list):
        self.module = module
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.grad_outputs = None
        self.n_outputs = -1
        self.output_tensors_index = None
        self.n_inputs = -1
        self.input_tensors_index = None

    @staticmethod
    def _pack_with_none(indices, values, size) -> tuple:
        res = [None] * size
        for idx, val in zip(indices, values):
            res[idx] = val
        return tuple(res)

    @staticmethod
    def _unpack_none(indices, values) -> tuple:
        return tuple(values[idx] for idx in indices)

    def _apply_on_tensors(self, fn, args: tuple):
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in idx]
        if not (MODE.grad and any(t._rg for t in tensors)):
            return args, None
        new, node = _identity_with_node(tensors)
        fn(node)
        res = list(args)
        for i, t in zip(idx, new):
            res[i] = t
        return tuple(res), idx

    def setup_input_hook(self, args: tuple) -> tuple:
        def install(node):
            def hook(grad_inputs, _grad_outputs):
                if self.grad_outputs is None:
                    # the gradient reached the inputs without passing through the outputs
                    # (e.g. double backward): nothing to report
                    return None
                res = self._pack_with_none(self.input_tensors_index, grad_inputs, self.n_inputs)
                for user_hook in self.user_hooks:
                    out = user_hook(self.module, res, self.grad_outputs)
                    if out is None:
                        continue
                    if len(out) != len(res):
                        raise RuntimeError(
                            "Backward hook returned an invalid number of grad_input, "
                            f"got {len(out)}, but expected {len(res)}"
                        )
                    res = out
                self.grad_outputs = None
                return self._unpack_none(self.input_tensors_index, res)

            node.register_hook(hook)

        res, idx = self._apply_on_tensors(install, args)
        self.n_inputs = len(args)
        self.input_tensors_index = idx
        return res

    def setup_output_hook(self, result):
        def install(node):
            def hook(grad_outputs):
                self.grad_outputs = self._pack_with_none(
                    self.output_tensors_index, grad_outputs, self.n_outputs
                )
                for pre in self.user_pre_hooks:
                    out = pre(self.module, self.grad_outputs)
                    if out is None:
                        continue
                    if len(out) != len(self.grad_outputs):
                        raise RuntimeError(
                            "Backward pre hook returned an invalid number of grad_output, "
                            f"got {len(out)}, but expected {len(self.grad_outputs)}"
                        )
                    self.grad_outputs = out
                local = self.grad_outputs
                if self.input_tensors_index is None:
                    # no input needs a gradient: the hooks run now, with grad_input all None
                    grad_inputs = self._pack_with_none([], [], self.n_inputs)
                    if self.user_hooks:
                        warnings.warn(
                            "Full backward hook is firing when gradients are computed with "
                            "respect to module outputs since no inputs require gradients. See "
                            "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                            "#torch.nn.Module.register_full_backward_hook for more details.",
                            stacklevel=2,
                        )
                    for user_hook in self.user_hooks:
                        res = user_hook(self.module, grad_inputs, self.grad_outputs)
                        if res is not None and not (
                            isinstance(res, tuple) and all(r is None for r in res)
                        ):
                            raise RuntimeError(
                                "Backward hook for Modules where no input requires gradient "
                                "should always return None or None for all gradients."
                            )
                    self.grad_outputs = None
                return tuple(local[i] for i in self.output_tensors_index)

            node.register_prehook(hook)

        is_tuple = isinstance(result, tuple)
        args = result if is_tuple else (result,)
        res, idx = self._apply_on_tensors(install, args)
        self.n_outputs = len(args)
        self.output_tensors_index = idx
        return res if is_tuple else res[0]


def _copy_into(dst: Tensor, src: Tensor) -> None:
    """``dst.copy_(src)`` under no_grad; a direct array copy when both live on the CPU."""
    d, s = dst._data, src._data
    if (
        d.__class__ is _ndarray
        and s.__class__ is _ndarray
        and d.flags.writeable
        and not (s.dtype.kind == "c" and d.dtype.kind != "c")
    ):
        np.copyto(d, s, casting="unsafe")
        dst._bump_version()
    else:
        dst.copy_(src)


def _check_new_name(module: Module, kind: str, name) -> None:
    """torch's checks on the name of a buffer or parameter being registered."""
    store = module.__dict__.get(f"_{kind}s")
    if store is None:
        raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain "."')
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if hasattr(module, name) and name not in store:
        raise KeyError(f"attribute '{name}' already exists")


def _forward_unimplemented(self, *input: Any) -> None:
    raise NotImplementedError(
        f'Module [{type(self).__name__}] is missing the required "forward" function'
    )


def _parse_to(*args, **kwargs):
    """(device, dtype, non_blocking) from ``Module.to``'s overloads."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    non_blocking = kwargs.pop("non_blocking", False)
    kwargs.pop("memory_format", None)
    if "tensor" in kwargs:
        t = kwargs.pop("tensor")
        device, dtype = t.device, t.dtype
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, _dtype.dtype):
            dtype = a
        elif isinstance(a, bool):
            non_blocking = a
        elif isinstance(a, (str, int)) or a.__class__.__name__ == "device":
            device = a
        elif a is None:
            continue
        else:
            raise TypeError(f"to() received an invalid combination of arguments - got {a!r}")
    if device is not None:
        device = to_device(f"cuda:{device}" if isinstance(device, int) else device)
    return device, dtype, non_blocking


class Module:
    """Base class for all neural network modules (torch.nn.Module).

    Subclasses call ``super().__init__()`` and assign parameters, buffers and sub-modules as
    attributes; ``forward`` defines the computation and calling the module runs it with its
    hooks.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.core import nn
        >>> class Affine(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.weight = nn.Parameter(torch.ones(2, 3))
        ...         self.register_buffer("shift", torch.zeros(2))
        ...     def forward(self, x):
        ...         return x @ self.weight.T + self.shift
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.body = Affine()
        ...     def forward(self, x):
        ...         return self.body(x)
        >>> net = Net()
        >>> list(net.state_dict())
        ['body.weight', 'body.shift']
        >>> net(torch.ones(1, 3))
        tensor([[3., 3.]], grad_fn=<AddBackward0>)
        >>> net
        Net(
          (body): Affine()
        )
    """

    dump_patches: bool = False
    _version: int = 1
    training: bool
    _parameters: dict
    _buffers: dict
    _non_persistent_buffers_set: set
    _modules: dict
    call_super_init: bool = False
    _compiled_call_impl = None

    forward: Callable[..., Any] = _forward_unimplemented

    def __init__(self, *args, **kwargs) -> None:
        if self.call_super_init is False and kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                f"'{next(iter(kwargs))}'"
            )
        if self.call_super_init is False and args:
            raise TypeError(
                f"{type(self).__name__}.__init__() takes 1 positional argument but "
                f"{len(args) + 1} were given"
            )
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_is_full_backward_hook"] = None
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks_always_called"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = OrderedDict()
        d["_state_dict_hooks"] = OrderedDict()
        d["_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_post_hooks"] = OrderedDict()
        d["_modules"] = {}
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    # --- registration ---------------------------------------------------------------------
    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer (state that is not a parameter, e.g. BatchNorm's running mean).

        Persistent buffers are part of ``state_dict``; non-persistent ones are not.

        Example:
            >>> import tocha.core as torch
            >>> m = torch.nn.Module()
            >>> m.register_buffer("running_mean", torch.zeros(3))
            >>> m.running_mean
            tensor([0., 0., 0.])
        """
        _check_new_name(self, "buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                "(torch Tensor or None required)"
            )
        for hook in _global_buffer_registration_hooks.values():
            out = hook(self, name, tensor)
            if out is not None:
                tensor = out
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter under ``name`` (``module.name = param`` does the same).

        Example:
            >>> import tocha.core as torch
            >>> m = torch.nn.Module()
            >>> m.register_parameter("w", torch.nn.Parameter(torch.zeros(2)))
            >>> [n for n, _ in m.named_parameters()]
            ['w']
        """
        _check_new_name(self, "parameter", name)
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                "(torch.nn.Parameter or None required)"
            )
        if param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                f"created explicitly. To express '{name}' as a function of another Tensor, "
                "compute the value in the forward() method."
            )
        for hook in _global_parameter_registration_hooks.values():
            out = hook(self, name, param)
            if out is not None:
                param = out
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (``self.name = module`` does the same)."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        for hook in _global_module_registration_hooks.values():
            out = hook(self, name, module)
            if out is not None:
                module = out
        self._modules[name] = module

    def register_module(self, name: str, module: Module | None) -> None:
        """Alias of `add_module`."""
        self.add_module(name, module)

    def get_submodule(self, target: str) -> Module:
        """The sub-module at the dotted path ``target`` (``"net.0.conv"``); ``""`` is self."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Replace (or, unless ``strict``, add) the sub-module at the dotted path ``target``."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        atoms = target.split(".")
        if not isinstance(module, Module):
            raise ValueError("`module` is not an nn.Module, found " + str(type(module)))
        parent = self if len(atoms) == 1 else self.get_submodule(".".join(atoms[:-1]))
        last = atoms[-1]
        if strict and not hasattr(parent, last):
            raise AttributeError(parent._get_name() + " has no attribute `" + last + "`")
        if hasattr(parent, last) and not isinstance(getattr(parent, last), Module):
            raise AttributeError("`" + last + "` is not an nn.Module")
        setattr(parent, last, module)

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target`` (``"net.0.weight"``)."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target`` (``"bn.running_mean"``)."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        if name not in mod._buffers:
            raise AttributeError("`" + name + "` is not a buffer")
        return getattr(mod, name)

    def get_extra_state(self) -> Any:
        """Extra state for ``state_dict`` (override together with `set_extra_state`)."""
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called. "
            "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template="
            "bug-report.yml to report this bug."
        )

    def set_extra_state(self, state: Any) -> None:
        """Restore what `get_extra_state` returned."""
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called. "
            "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template="
            "bug-report.yml to report this bug."
        )

    # --- conversion -----------------------------------------------------------------------
    def _apply(self, fn: Callable, recurse: bool = True) -> Module:
        if recurse:
            for module in self.children():
                module._apply(fn)
        for param in self._parameters.values():
            if param is None:
                continue
            with no_grad():
                applied = fn(param)
            # keep the Parameter object (optimizers hold it): swap its data in place
            if applied is not param:
                param._data = applied._data
                param._bump_version()
            g = param.grad
            if g is not None:
                with no_grad():
                    g_applied = fn(g)
                if g_applied is not g:
                    g._data = g_applied._data
        for key, buf in self._buffers.items():
            if buf is not None:
                self._buffers[key] = fn(buf)
        return self

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every sub-module (children first) and on self; returns self.

        Example:
            >>> import tocha.core as torch
            >>> net = torch.nn.Sequential(torch.nn.Module(), torch.nn.Module())
            >>> names = []
            >>> _ = net.apply(lambda m: names.append(type(m).__name__))
            >>> names
            ['Module', 'Module', 'Sequential']
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def cuda(self, device=None) -> Module:
        """Move every parameter and buffer to the GPU."""
        return self._apply(lambda t: t.cuda(device))

    def cpu(self) -> Module:
        """Move every parameter and buffer to the CPU."""
        return self._apply(lambda t: t.cpu())

    def type(self, dst_type) -> Module:
        """Cast every parameter and buffer to ``dst_type``."""
        return self._apply(lambda t: t.type(dst_type))

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32."""
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64."""
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self) -> Module:
        """Cast floating-point parameters and buffers to float16."""
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def bfloat16(self) -> Module:
        """Cast floating-point parameters and buffers to bfloat16."""
        return self._apply(lambda t: t.bfloat16() if t.is_floating_point() else t)

    def to_empty(self, *, device=None, recurse: bool = True) -> Module:
        """Replace parameters and buffers by uninitialised tensors on ``device``."""
        from ..._ops.creation import empty_like

        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def to(self, *args, **kwargs) -> Module:
        """Move and/or cast parameters and buffers, in place: ``to(device)``, ``to(dtype)``,
        ``to(device, dtype)``, ``to(tensor)``.

        Only floating-point (and complex) tensors are cast; integer buffers keep their dtype.

        Example:
            >>> import tocha.core as torch
            >>> m = torch.nn.Module()
            >>> m.w = torch.nn.Parameter(torch.ones(2))
            >>> m.register_buffer("count", torch.tensor(0))
            >>> _ = m.to(torch.float64)
            >>> m.w.dtype, m.count.dtype
            (torch.float64, torch.int64)
        """
        device, dtype, non_blocking = _parse_to(*args, **kwargs)
        if dtype is not None:
            dtype = _dtype.to_dtype(dtype)
            if not (dtype.is_floating_point or dtype.is_complex):
                raise TypeError(
                    "nn.Module.to only accepts floating point or complex dtypes, but got "
                    f"desired dtype={dtype}"
                )
            if dtype.is_complex:
                warnings.warn(
                    "Complex modules are a new feature under active development whose design "
                    "may change, and some modules might not work as expected when using "
                    "complex tensors as parameters or buffers.",
                    stacklevel=2,
                )

        def convert(t):
            cast = dtype if (t.is_floating_point() or t.is_complex()) else None
            if device is None and cast is None:
                return t
            return t.to(device=device, dtype=cast, non_blocking=non_blocking)

        return self._apply(convert)

    def share_memory(self) -> Module:
        """Kept for compatibility; CPU tensors are not moved to shared memory here."""
        return self

    # --- hooks ----------------------------------------------------------------------------
    def register_forward_pre_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Run ``hook(module, args)`` before ``forward``; it may return new args.

        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs)`` and may return a
        ``(args, kwargs)`` pair. ``prepend=True`` runs it before the hooks already registered.

        Example:
            >>> import tocha.core as torch
            >>> class Double(torch.nn.Module):
            ...     def forward(self, x):
            ...         return 2 * x
            >>> m = Double()
            >>> h = m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
            >>> m(torch.tensor(1.0))
            tensor(4.)
            >>> h.remove(); m(torch.tensor(1.0))
            tensor(2.)
        """
        flags = ((self._forward_pre_hooks_with_kwargs, with_kwargs),)
        return _add_hook(self._forward_pre_hooks, hook, flags, prepend)

    def register_forward_hook(
        self,
        hook: Callable,
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """Run ``hook(module, args, output)`` after ``forward``; it may return a new output.

        ``with_kwargs=True``: ``hook(module, args, kwargs, output)``. ``always_call=True``
        runs the hook even when ``forward`` raises.

        Example:
            >>> import tocha.core as torch
            >>> m = torch.nn.Sequential()
            >>> _ = m.register_forward_hook(lambda mod, args, out: out * 10)
            >>> m(torch.tensor(1.5))
            tensor(15.)
        """
        flags = (
            (self._forward_hooks_with_kwargs, with_kwargs),
            (self._forward_hooks_always_called, always_call),
        )
        return _add_hook(self._forward_hooks, hook, flags, prepend)

    def register_full_backward_pre_hook(
        self, hook: Callable, prepend: bool = False
    ) -> RemovableHandle:
        """Run ``hook(module, grad_output)`` when the gradients w.r.t. the outputs are known;
        it may return new ``grad_output``.

        Example:
            >>> import tocha.core as torch
            >>> m = torch.nn.Sequential()
            >>> _ = m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))
            >>> x = torch.tensor(1.0, requires_grad=True)
            >>> m(x).backward(); x.grad
            tensor(3.)
        """
        return _add_hook(self._backward_pre_hooks, hook, prepend=prepend)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Run ``hook(module, grad_input, grad_output)`` once the gradients w.r.t. the module's
        positional tensor inputs are computed; it may return new ``grad_input``.

        Example:
            >>> import tocha.core as torch
            >>> class Square(torch.nn.Module):
            ...     def forward(self, x):
            ...         return x * x
            >>> m, seen = Square(), []
            >>> _ = m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
            >>> x = torch.tensor(3.0, requires_grad=True)
            >>> m(x).backward()
            >>> seen
            [((tensor(6.),), (tensor(1.),))]
        """
        if self._is_full_backward_hook is False:
            raise RuntimeError(_MIXED_MODULE_HOOKS_MSG)
        self._is_full_backward_hook = True
        return _add_hook(self._backward_hooks, hook, prepend=prepend)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        """Deprecated torch hook: ``hook(module, grad_input, grad_output)`` on the grad_fn of the
        module's (first) output, i.e. the inputs and outputs of the last op in ``forward``.
        Prefer `register_full_backward_hook`."""
        if self._is_full_backward_hook is True:
            raise RuntimeError(_MIXED_MODULE_HOOKS_MSG)
        self._is_full_backward_hook = False
        return _add_hook(self._backward_hooks, hook)

    def _get_backward_hooks(self) -> tuple[list, list]:
        full, non_full = [], []
        if _global_is_full_backward_hook is True:
            full += _global_backward_hooks.values()
        if self._is_full_backward_hook is True:
            full += self._backward_hooks.values()
        if _global_is_full_backward_hook is False:
            non_full += _global_backward_hooks.values()
        if self._is_full_backward_hook is False:
            non_full += self._backward_hooks.values()
        return full, non_full

    def _get_backward_pre_hooks(self) -> list:
        return [*_global_backward_pre_hooks.values(), *self._backward_pre_hooks.values()]

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Run ``hook(module, prefix, keep_vars)`` before ``state_dict`` saves this module."""
        return _add_hook(self._state_dict_pre_hooks, hook)

    def _register_state_dict_hook(self, hook: Callable) -> RemovableHandle:
        if getattr(hook, "_from_public_api", False):
            raise RuntimeError(
                "Cannot register the same function as the state dict post hook that was "
                "previously registered via register_state_dict_post_hook"
            )
        return _add_hook(self._state_dict_hooks, hook)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Run ``hook(module, state_dict, prefix, local_metadata)`` after this module is saved;
        it may edit ``state_dict`` in place (and must return None)."""
        hook._from_public_api = True
        return _add_hook(self._state_dict_hooks, hook)

    def _register_load_state_dict_pre_hook(
        self, hook: Callable, with_module: bool = False
    ) -> RemovableHandle:
        wrapped = _WrappedHook(hook, self if with_module else None)
        return _add_hook(self._load_state_dict_pre_hooks, wrapped)

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Run ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before this module loads (it may rename keys)."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Run ``hook(module, incompatible_keys)`` after ``load_state_dict``; it may edit the
        key lists in place."""
        return _add_hook(self._load_state_dict_post_hooks, hook)

    # --- calling --------------------------------------------------------------------------
    def _run_forward_hook(self, hook_id, hook, args, kwargs, result):
        """One forward hook (given ``kwargs`` when registered ``with_kwargs``): what it
        returns replaces ``result``, unless that is None."""
        if (
            hook_id in self._forward_hooks_with_kwargs
            or hook_id in _global_forward_hooks_with_kwargs
        ):
            out = hook(self, args, kwargs, result)
        else:
            out = hook(self, args, result)
        return result if out is None else out

    def _call_impl(self, *args, **kwargs):
        forward_call = self.forward
        if not (
            self._forward_hooks
            or self._forward_pre_hooks
            or self._backward_hooks
            or self._backward_pre_hooks
            or _global_forward_hooks
            or _global_forward_pre_hooks
            or _global_backward_hooks
            or _global_backward_pre_hooks
        ):
            return forward_call(*args, **kwargs)

        result = None
        called_always = set()
        try:
            full_hooks, non_full_hooks = [], []
            pre_bw_hooks = []
            if self._backward_pre_hooks or _global_backward_pre_hooks:
                pre_bw_hooks = self._get_backward_pre_hooks()
            if self._backward_hooks or _global_backward_hooks:
                full_hooks, non_full_hooks = self._get_backward_hooks()
            if _global_forward_pre_hooks or self._forward_pre_hooks:
                with_kw = self._forward_pre_hooks_with_kwargs
                for hook_id, hook in (
                    *_global_forward_pre_hooks.items(),
                    *self._forward_pre_hooks.items(),
                ):
                    if hook_id in with_kw:
                        out = hook(self, args, kwargs)
                        if out is not None:
                            if isinstance(out, tuple) and len(out) == 2:
                                args, kwargs = out
                            else:
                                raise RuntimeError(
                                    "forward pre-hook must return None or a tuple of "
                                    f"(new_args, new_kwargs), but got {out}."
                                )
                    else:
                        out = hook(self, args)
                        if out is not None:
                            args = out if isinstance(out, tuple) else (out,)
            bw_hook = None
            if full_hooks or pre_bw_hooks:
                bw_hook = _BackwardHook(self, full_hooks, pre_bw_hooks)
                args = bw_hook.setup_input_hook(args)
            result = forward_call(*args, **kwargs)
            if _global_forward_hooks or self._forward_hooks:
                for hook_id, hook in (
                    *_global_forward_hooks.items(),
                    *self._forward_hooks.items(),
                ):
                    if (
                        hook_id in self._forward_hooks_always_called
                        or hook_id in _global_forward_hooks_always_called
                    ):
                        called_always.add(hook_id)
                    result = self._run_forward_hook(hook_id, hook, args, kwargs, result)
            if bw_hook is not None:
                if not isinstance(result, (Tensor, tuple)):
                    warnings.warn(
                        "For backward hooks to be called, module output should be a Tensor or "
                        f"a tuple of Tensors but received {type(result)}",
                        stacklevel=2,
                    )
                result = bw_hook.setup_output_hook(result)
            if non_full_hooks:
                var = result
                while not isinstance(var, Tensor):
                    if isinstance(var, dict):
                        var = next(v for v in var.values() if isinstance(v, Tensor))
                    else:
                        var = var[0]
                grad_fn = var.grad_fn
                if grad_fn is not None:
                    for hook in non_full_hooks:
                        grad_fn.register_hook(_WrappedHook(hook, self))
            return result
        except Exception:
            # hooks registered with always_call=True still run when forward raised
            for hook_id, hook in (*_global_forward_hooks.items(), *self._forward_hooks.items()):
                if hook_id in called_always or not (
                    hook_id in self._forward_hooks_always_called
                    or hook_id in _global_forward_hooks_always_called
                ):
                    continue
                try:
                    result = self._run_forward_hook(hook_id, hook, args, kwargs, result)
                except Exception as e:
                    warnings.warn(
                        "forward hook with ``always_call=True`` raised an exception that was "
                        f"silenced as another error was raised in forward: {e}",
                        stacklevel=2,
                    )
            raise

    def _wrapped_call_impl(self, *args, **kwargs):
        # the hook-free call is the hot path: check the hook dicts here, without a second call
        if (
            self._forward_hooks
            or self._forward_pre_hooks
            or self._backward_hooks
            or self._backward_pre_hooks
            or _global_forward_hooks
            or _global_forward_pre_hooks
            or _global_backward_hooks
            or _global_backward_pre_hooks
        ):
            return self._call_impl(*args, **kwargs)
        return self.forward(*args, **kwargs)

    __call__: Callable[..., Any] = _wrapped_call_impl

    # --- attribute protocol ----------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_compiled_call_impl", None)
        return state

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        d = self.__dict__
        # objects pickled by older code may lack newer attributes
        for name in (
            "_forward_pre_hooks",
            "_forward_pre_hooks_with_kwargs",
            "_forward_hooks",
            "_forward_hooks_with_kwargs",
            "_forward_hooks_always_called",
            "_state_dict_hooks",
            "_state_dict_pre_hooks",
            "_load_state_dict_pre_hooks",
            "_load_state_dict_post_hooks",
            "_backward_pre_hooks",
            "_backward_hooks",
        ):
            if name not in d:
                d[name] = OrderedDict()
        d.setdefault("_non_persistent_buffers_set", set())
        d.setdefault("_is_full_backward_hook", None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        if "_parameters" in d:
            params = d["_parameters"]
            if name in params:
                return params[name]
        if "_buffers" in d:
            buffers = d["_buffers"]
            if name in buffers:
                return buffers[name]
        if "_modules" in d:
            modules = d["_modules"]
            if name in modules:
                return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__

        def remove_from(*containers):
            for c in containers:
                if name in c:
                    if isinstance(c, dict):
                        del c[name]
                    else:
                        c.discard(name)

        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as parameter '{name}' "
                    "(torch.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            remove_from(d, self._parameters, self._buffers, self._non_persistent_buffers_set)
            for hook in _global_module_registration_hooks.values():
                out = hook(self, name, value)
                if out is not None:
                    value = out
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as child module '{name}' "
                    "(torch.nn.Module or None expected)"
                )
            for hook in _global_module_registration_hooks.values():
                out = hook(self, name, value)
                if out is not None:
                    value = out
            modules[name] = value
            return
        buffers = d.get("_buffers")
        is_buffer = isinstance(value, Buffer)
        if is_buffer or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as buffer '{name}' "
                    "(torch.nn.Buffer, torch.Tensor or None expected)"
                )
            if is_buffer:
                persistent = _buffer_persistent(value)
            else:
                persistent = name not in self._non_persistent_buffers_set
            if buffers is not None and name in buffers and not is_buffer:
                # the common ``self.running_mean = new_tensor``: no re-validation needed
                for hook in _global_buffer_registration_hooks.values():
                    out = hook(self, name, value)
                    if out is not None:
                        value = out
                buffers[name] = value
                return
            self.register_buffer(name, value, persistent)
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if name in d.get("_parameters", ()):
            del self._parameters[name]
        elif name in d.get("_buffers", ()):
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in d.get("_modules", ()):
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = itertools.chain(
            dir(self.__class__),
            self.__dict__.keys(),
            self._parameters.keys(),
            self._modules.keys(),
            self._buffers.keys(),
        )
        # names that are not identifiers (Sequential's "0", "1", ...) are left out, like torch
        return sorted({k for k in keys if not k[0].isdigit()})

    # --- state_dict -----------------------------------------------------------------------
    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        """Write this module's own parameters and persistent buffers into ``destination``.

        Subclasses override it to save more (or differently); ``state_dict`` calls it once
        per module, with ``prefix`` the module's dotted path plus ``"."``.
        """
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        non_persistent = self._non_persistent_buffers_set
        for name, buf in self._buffers.items():
            if buf is not None and name not in non_persistent:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if getattr(type(self), "get_extra_state", Module.get_extra_state) is not (
            Module.get_extra_state
        ):
            destination[extra_key] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered dict of every parameter and persistent buffer, keyed by dotted path.

        Values are detached tensors sharing memory with the module's (``keep_vars=True``
        keeps the Parameters themselves).

        Example:
            >>> import tocha.core as torch
            >>> inner = torch.nn.Module()
            >>> inner.weight = torch.nn.Parameter(torch.zeros(2))
            >>> inner.register_buffer("steps", torch.tensor(0))
            >>> inner.register_buffer("cache", torch.zeros(1), persistent=False)
            >>> net = torch.nn.Sequential(inner)
            >>> list(net.state_dict())
            ['0.weight', '0.steps']
        """
        if args:
            warnings.warn(
                "Positional args are being deprecated, use kwargs instead. Refer to "
                "https://pytorch.org/docs/main/generated/torch.nn.Module.html"
                "#torch.nn.Module.state_dict for details.",
                FutureWarning,
                stacklevel=2,
            )
            if destination is None and len(args) > 0:
                destination = args[0]
            if len(args) > 1 and prefix == "":
                prefix = args[1]
            if len(args) > 2 and keep_vars is False:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = dict(version=self._version)
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(
                    destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
                )
        for hook in self._state_dict_hooks.values():
            out = hook(self, destination, prefix, local_metadata)
            if getattr(hook, "_from_public_api", False):
                if out is not None:
                    raise RuntimeError("state_dict post-hook must return None")
            elif out is not None:
                destination = out
        return destination

    def _load_from_state_dict(
        self,
        state_dict: dict,
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
    ) -> None:
        """Copy this module's own entries of ``state_dict`` (keys ``prefix + name``) in place.

        Subclasses override it to read extra entries or to convert old formats; it records
        what is missing, unexpected or mismatched in the given lists.
        """
        for hook in self._load_state_dict_pre_hooks.values():
            hook(
                state_dict,
                prefix,
                local_metadata,
                strict,
                missing_keys,
                unexpected_keys,
                error_msgs,
            )
        non_persistent = self._non_persistent_buffers_set
        local_state = {k: v for k, v in self._parameters.items() if v is not None}
        for k, v in self._buffers.items():
            if v is not None and k not in non_persistent:
                local_state[k] = v
        assign = local_metadata.get("assign_to_params_buffers", False)
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            input_param = state_dict[key]
            if not isinstance(input_param, Tensor):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected torch.Tensor or '
                    "Tensor-like object from checkpoint but received "
                    f"{type(input_param)}"
                )
                continue
            lazy = is_lazy(param)
            if not lazy and param.dim() == 0 and input_param.dim() == 1:
                # checkpoints of torch 0.3 stored scalars as 1-element vectors
                input_param = input_param[0]
            if not lazy and input_param.shape != param.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {input_param.shape} "
                    f"from checkpoint, the shape in current model is {param.shape}."
                )
                continue
            try:
                with no_grad():
                    if assign:
                        if isinstance(param, Parameter):
                            if not isinstance(input_param, Parameter):
                                input_param = Parameter(input_param, param.requires_grad)
                            else:
                                input_param.requires_grad_(param.requires_grad)
                        setattr(self, name, input_param)
                    elif lazy:
                        param.materialize(input_param.shape, dtype=input_param.dtype)
                        param.copy_(input_param)
                    else:
                        _copy_into(param, input_param)
            except Exception as ex:
                error_msgs.append(
                    f'While copying the parameter named "{key}", whose dimensions in the model '
                    f"are {param.size()} and whose dimensions in the checkpoint are "
                    f"{input_param.size()}, an exception occurred : {ex.args}."
                )
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if getattr(type(self), "set_extra_state", Module.set_extra_state) is not (
            Module.set_extra_state
        ):
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            modules = self._modules
            for key in state_dict:
                if key.startswith(prefix) and key != extra_key:
                    head, dot, _ = key[len(prefix) :].partition(".")
                    if dot:
                        if head not in modules:
                            unexpected_keys.append(key)
                    elif head not in local_state:
                        unexpected_keys.append(key)

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ):
        """Copy parameters and buffers from ``state_dict`` into this module and its children.

        With ``strict=True`` (default) the keys must match ``self.state_dict()`` exactly;
        otherwise a RuntimeError lists the missing and unexpected keys. Shape mismatches are
        always errors. ``assign=True`` puts the given tensors in place of the current ones
        instead of copying into them. Returns ``(missing_keys, unexpected_keys)``.

        Example:
            >>> import tocha.core as torch
            >>> m = torch.nn.Module()
            >>> m.w = torch.nn.Parameter(torch.zeros(2))
            >>> m.load_state_dict({"w": torch.ones(2)})
            <All keys matched successfully>
            >>> m.w
            Parameter containing:
            tensor([1., 1.], requires_grad=True)
            >>> m.load_state_dict({"v": torch.ones(2)}, strict=False)
            _IncompatibleKeys(missing_keys=['w'], unexpected_keys=['v'])
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys: list = []
        unexpected_keys: list = []
        error_msgs: list = []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata

        def load(module, local_state_dict, prefix=""):
            local_metadata = {} if metadata is None else metadata.get(prefix[:-1], {})
            if assign:
                local_metadata["assign_to_params_buffers"] = assign
            module._load_from_state_dict(
                local_state_dict,
                prefix,
                local_metadata,
                True,
                missing_keys,
                unexpected_keys,
                error_msgs,
            )
            if module._modules:
                # split the keys among the children in one pass (not one pass per child)
                groups: dict = {}
                n = len(prefix)
                for k, v in local_state_dict.items():
                    if k.startswith(prefix):
                        head, dot, _ = k[n:].partition(".")
                        if dot:
                            groups.setdefault(head, {})[k] = v
                for name, child in module._modules.items():
                    if child is not None:
                        load(child, groups.get(name, {}), prefix + name + ".")
            incompatible = _IncompatibleKeys(missing_keys, unexpected_keys)
            for hook in module._load_state_dict_post_hooks.values():
                out = hook(module, incompatible)
                if out is not None:
                    raise AssertionError(
                        "Hooks registered with ``register_load_state_dict_post_hook`` are not "
                        "expected to return new values, if incompatible_keys need to be "
                        "modified, it should be done inplace."
                    )

        load(self, state_dict)
        if strict:
            if unexpected_keys:
                error_msgs.insert(
                    0,
                    "Unexpected key(s) in state_dict: {}. ".format(
                        ", ".join(f'"{k}"' for k in unexpected_keys)
                    ),
                )
            if missing_keys:
                error_msgs.insert(
                    0,
                    "Missing key(s) in state_dict: {}. ".format(
                        ", ".join(f'"{k}"' for k in missing_keys)
                    ),
                )
        if error_msgs:
            raise RuntimeError(
                "Error(s) in loading state_dict for {}:\n\t{}".format(
                    type(self).__name__, "\n\t".join(error_msgs)
                )
            )
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # --- iteration ------------------------------------------------------------------------
    def _named_members(
        self, get_members_fn, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ):
        memo = set()
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for module_prefix, module in modules:
            for k, v in get_members_fn(module):
                if v is None or v in memo:
                    continue
                if remove_duplicate:
                    memo.add(v)
                yield (module_prefix + ("." if module_prefix else "") + k), v

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter of this module (and, with ``recurse``, of its sub-modules), once.

        Example:
            >>> import tocha.core as torch
            >>> m = torch.nn.Module()
            >>> m.w = torch.nn.Parameter(torch.zeros(2, 3))
            >>> [tuple(p.shape) for p in m.parameters()]
            [(2, 3)]
        """
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs; a shared parameter is listed once unless
        ``remove_duplicate=False``."""
        yield from self._named_members(
            lambda module: module._parameters.items(),
            prefix=prefix,
            recurse=recurse,
            remove_duplicate=remove_duplicate,
        )

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer of this module (and, with ``recurse``, of its sub-modules)."""
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` pairs, persistent or not."""
        yield from self._named_members(
            lambda module: module._buffers.items(),
            prefix=prefix,
            recurse=recurse,
            remove_duplicate=remove_duplicate,
        )

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, each once."""
        for _, module in self.named_children():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for the direct sub-modules, each once."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def modules(self) -> Iterator[Module]:
        """Self and every sub-module, depth first, each once."""
        for _, module in self.named_modules():
            yield module

    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ):
        """``(dotted name, module)`` for self (name ``prefix``) and every sub-module, depth
        first; a module reachable twice is listed once unless ``remove_duplicate=False``.

        Example:
            >>> import tocha.core as torch
            >>> shared = torch.nn.Module()
            >>> net = torch.nn.Sequential(shared, torch.nn.Sequential(shared))
            >>> [name for name, _ in net.named_modules()]
            ['', '0', '1']
        """
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    # --- modes and gradients ----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``True``) or evaluation mode on self and every sub-module."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (e.g. to freeze a backbone); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (set them to None by default, else zero)."""
        _zero_grads(self.parameters(), set_to_none)

    # --- repr -----------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The module's own settings for ``repr`` (override it, e.g. ``'in_features=2, ...'``)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            "(" + key + "): " + _addindent(repr(module), 2) for key, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def _replicate_for_data_parallel(self) -> Module:
        replica = self.__new__(type(self))
        replica.__dict__ = self.__dict__.copy()
        replica._parameters = dict()
        replica._buffers = replica._buffers.copy()
        replica._modules = replica._modules.copy()
        replica._is_replica = True
        return replica
