"""The backward engine: iterative, dependency-counted, pruned to what the inputs need.

Graph targets are `Node`s (an op's grad_fn) and leaf `Tensor`s (accumulated into ``.grad``).
A node runs once every edge leading into it from a node that will run has delivered its
gradient, so each node sees the full sum; no recursion, so graph depth is unbounded.
"""

from __future__ import annotations

from .._tensor import Tensor
from .function import Node
from .grad_mode import MODE


def _sum_to(grad: Tensor, shape: tuple) -> Tensor:
    """Reduce a broadcast gradient back to ``shape`` (the one shared helper for all ops)."""
    gshape = grad._data.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    dims = list(range(lead))
    for i, s in enumerate(shape):
        if s == 1 and gshape[lead + i] != 1:
            dims.append(lead + i)
    if lead < 0 or any(s != 1 and s != gshape[lead + i] for i, s in enumerate(shape)):
        raise RuntimeError(
            f"autograd: gradient of shape {tuple(gshape)} cannot be reduced to the input's "
            f"shape {tuple(shape)}"
        )
    if dims:
        grad = grad.sum(dim=tuple(dims), keepdim=True)
    if lead or grad._data.shape != shape:
        grad = grad.reshape(shape)
    return grad


def _accumulate(buf: list, nr: int, g: Tensor) -> None:
    cur = buf[nr]
    buf[nr] = g if cur is None else cur + g


def _plan(root_targets, wanted_nodes, wanted_leaves):
    """Decide which nodes must run: those with an edge into a wanted part of the graph.

    A target is wanted when it is a leaf whose gradient is accumulated or captured, a node at
    which a gradient is captured, or a node from which such a target is reachable. Returns
    (runs, wanted, deps), deps counting for each target the edges into it from nodes that run.
    """
    wanted: dict = {}
    stack = [(t, False) for t in root_targets]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, Tensor):
            if node not in wanted:
                wanted[node] = node in wanted_leaves
            continue
        if expanded:
            ok = node in wanted_nodes
            if not ok:
                for e in node.next_edges:
                    if e is not None and wanted.get(e[0]):
                        ok = True
                        break
            wanted[node] = ok
            continue
        if node in wanted:
            continue
        wanted[node] = False  # provisional: guards against revisiting
        stack.append((node, True))
        for e in node.next_edges:
            if e is not None and e[0] not in wanted:
                stack.append((e[0], False))
    runs = set()
    deps: dict = {}
    for n, ok in wanted.items():
        if not ok or isinstance(n, Tensor):
            continue
        edges = [e for e in n.next_edges if e is not None and wanted.get(e[0])]
        if edges:
            runs.add(n)
            for e in edges:
                deps[e[0]] = deps.get(e[0], 0) + 1
    return runs, wanted, deps


def _count_deps(root_targets) -> dict:
    """For a plain backward every reachable node runs: count the edges into each target."""
    deps: dict = {}
    seen = set()
    stack = [t for t in root_targets if not isinstance(t, Tensor)]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for e in node.next_edges:
            if e is not None:
                t = e[0]
                if t in deps:
                    deps[t] += 1
                else:
                    deps[t] = 1
                    if not isinstance(t, Tensor):
                        stack.append(t)
    return deps


def run_backward(
    roots,
    root_grads,
    *,
    retain_graph: bool,
    create_graph: bool,
    inputs=None,
    accumulate: bool = True,
    allow_unused: bool = False,
):
    """Propagate ``root_grads`` from ``roots``; return the gradients of ``inputs`` if given."""
    capture_leaves: dict = {}
    capture_nodes: dict = {}
    root_targets = [r.grad_fn if r.grad_fn is not None else r for r in roots]
    if inputs is None:
        deps = _count_deps(root_targets)
        runs = wanted = None
    else:
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"autograd: inputs must be Tensors, got {type(t).__name__}")
            if not t._rg:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            if t.grad_fn is None:
                capture_leaves.setdefault(t, []).append(i)
            else:
                capture_nodes.setdefault((t.grad_fn, t._nr), []).append(i)
        runs, wanted, deps = _plan(root_targets, {n for n, _ in capture_nodes}, capture_leaves)
    results = [None] * (len(inputs) if inputs is not None else 0)
    buffers: dict = {}
    leaf_grads: dict = {}
    # gradients already owned elsewhere (the caller's, or given to another leaf) are copied
    # before they become a leaf's .grad, so in-place updates of one .grad never leak
    handed = {id(g) for g in root_grads}
    for r, t, g in zip(roots, root_targets, root_grads):
        if isinstance(t, Tensor):
            cur = leaf_grads.get(t)
            leaf_grads[t] = g if cur is None else cur + g
        else:
            buf = buffers.get(t)
            if buf is None:
                buf = buffers[t] = [None] * t._n_out
            _accumulate(buf, r._nr, g)
    ready = [t for t in dict.fromkeys(root_targets) if deps.get(t, 0) == 0]
    prev = MODE.grad
    MODE.grad = create_graph
    try:
        while ready:
            target = ready.pop()
            if isinstance(target, Tensor):
                _finish_leaf(
                    target,
                    leaf_grads.pop(target, None),
                    capture_leaves,
                    results,
                    accumulate,
                    create_graph,
                    handed,
                )
                continue
            buf = buffers.pop(target, None)
            if buf is None:
                # no gradient reached this node (e.g. a backward returned None for it): it
                # sends nothing, but what it leads to must stop waiting for it
                for e in target.next_edges:
                    if e is not None:
                        d = deps.get(e[0])
                        if d is not None:
                            if d == 1:
                                ready.append(e[0])
                            deps[e[0]] = d - 1
                continue
            if target._pre_hooks:
                _run_pre_hooks(target, buf)
            if capture_nodes:
                for nr in range(len(buf)):
                    for i in capture_nodes.get((target, nr), ()):
                        results[i] = buf[nr]
                if target not in runs:
                    continue
            grads_in = _call_backward(target, buf)
            if not retain_graph:
                target._release()
            for e, g in zip(target.next_edges, grads_in):
                if e is None:
                    continue
                t = e[0]
                if g is not None and (wanted is None or wanted.get(t)):
                    data = g._data
                    if data.shape != e[2]:
                        g = _sum_to(g, e[2])
                    if data.dtype != e[3]:
                        g = g.to(_dtype_of(e[3]))
                    if isinstance(t, Tensor):
                        cur = leaf_grads.get(t)
                        leaf_grads[t] = g if cur is None else cur + g
                    else:
                        buf = buffers.get(t)
                        if buf is None:
                            buf = buffers[t] = [None] * t._n_out
                        cur = buf[e[1]]
                        buf[e[1]] = g if cur is None else cur + g
                d = deps.get(t)
                if d is not None:
                    if d == 1:
                        ready.append(t)
                    deps[t] = d - 1
    finally:
        MODE.grad = prev

    if inputs is not None and not allow_unused:
        for r in results:
            if r is None:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
    return results


def _run_pre_hooks(node: Node, buf: list) -> None:
    for nr, hooks in node._pre_hooks.items():
        if buf[nr] is not None:
            for h in list(hooks):
                new = h(buf[nr])
                if new is not None:
                    buf[nr] = new


def _dtype_of(np_dtype):
    from .._dtype import from_numpy_dtype

    return from_numpy_dtype(np_dtype)


def _call_backward(node: Node, buf: list) -> tuple:
    if node._released:
        from .function import _RELEASED_MSG

        raise RuntimeError(_RELEASED_MSG)
    if len(buf) > 1 or buf[0] is None:
        buf = _materialize(node, buf)
    pre = node._node_prehooks
    if pre:
        for h in pre:
            new = h(tuple(buf))
            if new is not None:
                buf = list(new)
    grads = node.backward(*buf)
    if grads.__class__ is not tuple:
        grads = (grads,) if not isinstance(grads, list) else tuple(grads)
    if len(grads) != len(node.next_edges):
        raise RuntimeError(
            f"function {node.name()} returned an incorrect number of gradients "
            f"(expected {len(node.next_edges)}, got {len(grads)})"
        )
    post = node._node_posthooks
    if post:
        for h in post:
            new = h(grads, tuple(buf))
            if new is not None:
                grads = tuple(new)
    if MODE.anomaly:
        _check_anomaly(node, grads)
    return grads


def _materialize(node: Node, buf: list) -> list:
    """Zero-fill gradients for outputs that received none (e.g. unused ``max`` indices)."""
    from .._ops.creation import zeros

    meta = getattr(node, "_out_meta", None)
    res = []
    for nr, g in enumerate(buf):
        if g is None and meta is not None and meta[nr][1] is not None:
            shape, np_dtype = meta[nr]
            if np_dtype.kind in "fcV":
                g = zeros(shape, dtype=_dtype_of(np_dtype))
        res.append(g)
    return res


def _check_anomaly(node: Node, grads) -> None:
    for i, g in enumerate(grads):
        if g is None:
            continue
        if bool(g.isnan().any()):
            trace = node._trace or ""
            msg = f"Function '{node.name()}' returned nan values in its {i}th output."
            if trace:
                msg += "\nTraceback of forward call that caused the error:\n" + trace
            raise RuntimeError(msg)


def _finish_leaf(t: Tensor, g, capture_leaves, results, accumulate, create_graph, handed):
    if g is None:
        return
    hooks = t._extra.get("hooks") if t._extra else None
    if hooks:
        for h in list(hooks):
            new = h(g)
            if new is not None:
                g = new
    idx = capture_leaves.get(t)
    if idx:
        for i in idx:
            results[i] = g
    if not accumulate:
        return
    if not create_graph:
        g = g.detach() if g.grad_fn is not None else g
        if t.grad is None:
            data = g._data
            # own the buffer: a gradient may alias another tensor (e.g. add passes it through)
            if id(g) in handed or data.base is not None or not data.flags.writeable:
                g = g.clone()
            handed.add(id(g))
            t.grad = g
        else:
            t.grad._data += g._data
            t.grad._bump_version()
    else:
        t.grad = g if t.grad is None else t.grad + g
    post = t._extra.get("post_acc_hooks") if t._extra else None
    if post:  # Tensor.register_post_accumulate_grad_hook: after .grad holds this backward's sum
        for h in list(post):
            h(t)
