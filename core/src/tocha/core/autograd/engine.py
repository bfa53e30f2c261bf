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


def _plan(root_targets, capture_nodes, capture_leaves, all_leaves):
    """Find which nodes must run: those from which a wanted target is reachable.

    Returns (run_set, deps): deps counts, for each target, the edges into it from nodes
    that will run.
    """
    useful: dict = {}
    stack = [(t, False) for t in root_targets]
    while stack:
        node, expanded = stack.pop()
        if node.__class__ is Tensor or isinstance(node, Tensor):
            if node not in useful:
                useful[node] = all_leaves or node in capture_leaves
            continue
        if expanded:
            ok = False
            for e in node.next_edges:
                if e is not None and useful.get(e[0]):
                    ok = True
                    break
            useful[node] = ok
            continue
        if node in useful:
            continue
        useful[node] = False  # provisional, guards against revisiting
        stack.append((node, True))
        for e in node.next_edges:
            if e is not None and e[0] not in useful:
                stack.append((e[0], False))
    runs = {n for n, ok in useful.items() if ok and isinstance(n, Node)}
    deps: dict = {}
    for n in runs:
        for e in n.next_edges:
            if e is not None:
                t = e[0]
                deps[t] = deps.get(t, 0) + 1
    # nodes that only need their incoming gradient captured still count as reached
    return runs, useful, deps


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
    if inputs is not None:
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"autograd: inputs must be Tensors, got {type(t).__name__}")
            if not t._rg:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            if t.grad_fn is None:
                capture_leaves.setdefault(t, []).append(i)
            else:
                capture_nodes.setdefault((t.grad_fn, t._nr), []).append(i)
    root_targets = []
    for r in roots:
        root_targets.append(r.grad_fn if r.grad_fn is not None else r)
    extra_targets = {n for n, _ in capture_nodes}
    all_leaves = inputs is None

    # A node we must capture at is "useful" even if nothing below it is wanted.
    runs, useful, deps = _plan(
        root_targets, capture_nodes, capture_leaves | dict.fromkeys(extra_targets), all_leaves
    )
    results = [None] * (len(inputs) if inputs is not None else 0)
    buffers: dict = {}
    leaf_grads: dict = {}

    def deliver(target, nr, g):
        if target.__class__ is Tensor or isinstance(target, Tensor):
            cur = leaf_grads.get(target)
            leaf_grads[target] = g if cur is None else cur + g
        else:
            buf = buffers.get(target)
            if buf is None:
                buf = buffers[target] = [None] * target._n_out
            _accumulate(buf, nr, g)

    # gradients already owned elsewhere (the caller's, or given to another leaf) are copied
    # before they become a leaf's .grad, so in-place updates of one .grad never leak
    handed = {id(g) for g in root_grads}
    prev = MODE.grad
    MODE.grad = create_graph
    try:
        for r, t, g in zip(roots, root_targets, root_grads):
            deliver(t, r._nr, g)
        ready = [t for t in dict.fromkeys(root_targets) if deps.get(t, 0) == 0]
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
                continue
            if target._pre_hooks:
                for nr, hooks in target._pre_hooks.items():
                    if buf[nr] is not None:
                        for h in list(hooks):
                            new = h(buf[nr])
                            if new is not None:
                                buf[nr] = new
            for nr in range(len(buf)):
                idx = capture_nodes.get((target, nr))
                if idx:
                    for i in idx:
                        results[i] = buf[nr]
            if target not in runs:
                continue
            grads_in = _call_backward(target, buf, create_graph)
            if not retain_graph:
                target._release()
            for e, g in zip(target.next_edges, grads_in):
                if e is None:
                    continue
                t = e[0]
                if g is not None:
                    if g._data.shape != e[2]:
                        g = _sum_to(g, e[2])
                    if g._data.dtype != e[3]:
                        g = g.to(_dtype_of(e[3]))
                    if useful.get(t) or t in extra_targets:
                        deliver(t, e[1], g)
                d = deps.get(t)
                if d is not None:
                    d -= 1
                    deps[t] = d
                    if d == 0:
                        ready.append(t)
    finally:
        MODE.grad = prev

    if inputs is not None:
        for i, r in enumerate(results):
            if r is None and not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
    return results


def _dtype_of(np_dtype):
    from .._dtype import from_numpy_dtype

    return from_numpy_dtype(np_dtype)


def _call_backward(node: Node, buf: list, create_graph: bool) -> tuple:
    if node._released:
        if node._saved_in is None:
            from .function import _RELEASED_MSG

            raise RuntimeError(_RELEASED_MSG)
    if len(buf) > 1 or buf[0] is None:
        buf = _materialize(node, buf)
    pre = node.__dict__.get("_node_prehooks") if node.__dict__ else None
    if pre:
        for h in pre:
            new = h(tuple(buf))
            if new is not None:
                buf = list(new)
    grads = node.backward(*buf)
    if grads.__class__ is not tuple:
        grads = (grads,) if not isinstance(grads, list) else tuple(grads)
    n_in = len(node.next_edges)
    if len(grads) != n_in:
        raise RuntimeError(
            f"function {node.name()} returned an incorrect number of gradients "
            f"(expected {n_in}, got {len(grads)})"
        )
    post = node.__dict__.get("_node_posthooks") if node.__dict__ else None
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
