"""Row-sparse optimizers that update only the rows a batch touched.

Each one implements ``step_rows(weight, rows, grad)`` on raw arrays: ``rows`` are unique row
ids and ``grad`` their summed gradient. State arrays are allocated with ``zeros`` on first use:
on the CPU that is calloc'd memory, so the pages of rows never touched are never committed
and a 10M-row table's Adagrad state costs only what the batches actually reach.
"""

from __future__ import annotations

import numpy as np

from .._kernels import accumulate_rows

__all__ = ["SparseAdagrad", "SparseAdam", "SparseRowWiseAdagrad", "SparseSGD", "RowOptimizer"]


def _xp(a):
    return np if isinstance(a, np.ndarray) else __import__("cupy")


class RowOptimizer:
    """Base class: hyper-parameters in ``defaults``, per-table arrays in ``state``."""

    def __init__(self, **defaults) -> None:
        self.defaults = defaults
        self.state: dict[str, object] = {}

    def step_bags(self, weight, offsets, ids, coef, grad) -> bool:
        """Optionally applies the update straight from the bag form of the gradient
        (``sum_i coef[i] * grad[bag(i)]`` into row ``ids[i]``); returns False when the
        optimizer needs the de-duplicated row gradient (``step_rows``) instead."""
        return False

    def step_rows(self, weight, rows, grad, current=None) -> None:
        """Updates ``weight[rows]`` given their summed gradient; ``current`` may carry the
        rows' present values (saves a gather)."""
        raise NotImplementedError

    def _buf(self, name: str, shape, dtype, weight, fill: float = 0.0):
        buf = self.state.get(name)
        if buf is None:
            xp = _xp(weight)
            buf = xp.zeros(shape, dtype=dtype)
            if fill:
                buf += fill
            self.state[name] = buf
        return buf

    def state_dict(self) -> dict:
        return {"state": dict(self.state), "defaults": dict(self.defaults)}

    def load_state_dict(self, sd: dict) -> None:
        self.state = dict(sd["state"])
        self.defaults.update(sd.get("defaults", {}))

    def __repr__(self) -> str:
        kw = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({kw})"


class SparseSGD(RowOptimizer):
    """``w[rows] -= lr * (g + weight_decay * w[rows])`` (torch SGD on a sparse gradient)."""

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0) -> None:
        super().__init__(lr=lr, weight_decay=weight_decay)

    def step_bags(self, weight, offsets, ids, coef, grad) -> bool:
        if self.defaults["weight_decay"]:
            return False
        # one in-place pass over the touched rows: no dedup, gather or scatter
        accumulate_rows(weight, offsets, ids, coef, grad, -self.defaults["lr"])
        return True

    def step_rows(self, weight, rows, grad, current=None) -> None:
        lr, wd = self.defaults["lr"], self.defaults["weight_decay"]
        cur = weight.take(rows, axis=0) if current is None else current
        if wd:
            grad = grad + wd * cur
        # gather-compute-scatter is about twice as fast as NumPy's fancy-index "-="
        weight[rows] = cur - (lr * grad).astype(weight.dtype, copy=False)


class SparseAdagrad(RowOptimizer):
    """Element-wise Adagrad on the touched rows (torch Adagrad on a sparse gradient)."""

    def __init__(
        self, lr: float = 0.01, eps: float = 1e-10, initial_accumulator_value: float = 0.0
    ) -> None:
        super().__init__(lr=lr, eps=eps, initial_accumulator_value=initial_accumulator_value)

    def step_rows(self, weight, rows, grad, current=None) -> None:
        d = self.defaults
        cur = weight.take(rows, axis=0) if current is None else current
        acc = self._buf("sum", weight.shape, np.float32, weight)
        if d["initial_accumulator_value"] and "init_rows" not in self.state:
            acc += d["initial_accumulator_value"]
            self.state["init_rows"] = True
        s = acc[rows] + grad * grad
        acc[rows] = s
        weight[rows] = cur - (d["lr"] * grad / (np.sqrt(s) + d["eps"])).astype(
            weight.dtype, copy=False
        )


class SparseRowWiseAdagrad(RowOptimizer):
    """Row-wise Adagrad: one accumulator per row, the mean of the squared row gradient
    (torchrec's RowWiseAdagrad, FBGEMM's EXACT_ROWWISE_ADAGRAD); its state is
    ``num_embeddings`` floats. ``lr_decay`` divides the step size by ``1 + (t - 1) * lr_decay``
    as torch's Adagrad does."""

    def __init__(
        self,
        lr: float = 0.01,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        lr_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
    ) -> None:
        super().__init__(
            lr=lr,
            eps=eps,
            weight_decay=weight_decay,
            lr_decay=lr_decay,
            initial_accumulator_value=initial_accumulator_value,
        )
        self.step_count = 0

    def step_rows(self, weight, rows, grad, current=None) -> None:
        d = self.defaults
        self.step_count += 1
        cur = weight.take(rows, axis=0) if current is None else current
        if d["weight_decay"]:
            grad = grad + d["weight_decay"] * cur
        acc = self._buf(
            "momentum1", (weight.shape[0],), np.float32, weight, d["initial_accumulator_value"]
        )
        s = acc[rows] + (grad * grad).mean(axis=1)
        acc[rows] = s
        clr = d["lr"] / (1 + (self.step_count - 1) * d["lr_decay"])
        mult = (clr / (np.sqrt(s) + d["eps"]))[:, None]
        weight[rows] = cur - (mult * grad).astype(weight.dtype, copy=False)


class SparseAdam(RowOptimizer):
    """Adam on the touched rows only (torch.optim.SparseAdam semantics: moments of rows not in
    the batch are left alone; bias correction uses the global step count)."""

    def __init__(self, lr: float = 0.001, betas: tuple = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(lr=lr, betas=tuple(betas), eps=eps)
        self.step_count = 0

    def step_rows(self, weight, rows, grad, current=None) -> None:
        d = self.defaults
        cur = weight.take(rows, axis=0) if current is None else current
        b1, b2 = d["betas"]
        self.step_count += 1
        m = self._buf("exp_avg", weight.shape, np.float32, weight)
        v = self._buf("exp_avg_sq", weight.shape, np.float32, weight)
        mr = m[rows] * b1 + (1 - b1) * grad
        vr = v[rows] * b2 + (1 - b2) * grad * grad
        m[rows] = mr
        v[rows] = vr
        bc1 = 1 - b1**self.step_count
        bc2 = 1 - b2**self.step_count
        step = d["lr"] * np.sqrt(bc2) / bc1
        weight[rows] = cur - (step * mr / (np.sqrt(vr) + d["eps"])).astype(weight.dtype, copy=False)
