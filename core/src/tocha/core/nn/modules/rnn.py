"""Recurrent layers (torch.nn.modules.rnn): RNN, LSTM, GRU and their single-step cells.

Each layer and direction computes its input projection for every time step with one GEMM
(`linear` on all rows at once) and runs its time loop as one fused node
(`tocha.core._ops.rnn`), so a layer costs two graph nodes however long the sequence. Padded
and packed inputs share that code path: a padded batch is a packed one whose batch sizes are
all equal. Parameters, their names (``weight_ih_l0``, ``bias_hh_l1_reverse``,
``weight_hr_l0``, ...), shapes and default initialisation are torch's, so a torch
``state_dict`` loads as is.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..._ops import rnn as _R
from ..._ops.creation import empty, zeros
from ..._ops.shape import cat, stack
from ..._tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _apply_permutation(t: Tensor, permutation, dim: int = 1) -> Tensor:
    return t.index_select(dim, permutation)


def _reset_uniform(module: Module) -> None:
    """torch's start for recurrent weights: every parameter from U(-1/sqrt(hidden_size),
    1/sqrt(hidden_size))."""
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -stdv, stdv)


def _refuse_proj_size(kwargs: dict) -> None:
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNNBase(Module):
    """The shared machinery of `RNN`, `LSTM` and `GRU` (``mode`` picks the cell).

    Example:
        >>> import tocha.core as torch
        >>> m = torch.nn.RNNBase("GRU", 3, 4, num_layers=2)
        >>> [n for n, _ in m.named_parameters()][:4]
        ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
    """

    __constants__ = [
        "mode",
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
        "proj_size",
    ]
    __jit_unused_properties__ = ["all_weights"]

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1

        if (
            not isinstance(dropout, numbers.Number)
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an "
                "element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                "dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections"
            )
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size

        self._flat_weights_names: list = []
        self._all_weights: list = []
        fk = {"device": device, "dtype": dtype}
        real_hidden = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                w_ih = Parameter(empty((gate_size, layer_input), **fk))
                w_hh = Parameter(empty((gate_size, real_hidden), **fk))
                b_ih = Parameter(empty(gate_size, **fk))
                b_hh = Parameter(empty(gate_size, **fk))
                if proj_size == 0:
                    layer_params = (w_ih, w_hh, b_ih, b_hh) if bias else (w_ih, w_hh)
                else:
                    w_hr = Parameter(empty((proj_size, hidden_size), **fk))
                    layer_params = (w_ih, w_hh, b_ih, b_hh, w_hr) if bias else (w_ih, w_hh, w_hr)
                suffix = "_reverse" if direction == 1 else ""
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    names += ["weight_hr_l{}{}"]
                names = [x.format(layer, suffix) for x in names]
                for name, param in zip(names, layer_params):
                    setattr(self, name, param)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    # --- weights ------------------------------------------------------------------------------
    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """The parameters per layer and direction, as lists in ``_all_weights`` order."""
        return [[getattr(self, w) for w in ws] for ws in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op (torch packs the weights for cuDNN here; tocha has nothing to pack)."""

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _reset_uniform(self)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # --- argument checks (torch's names and messages) ---------------------------------------
    def check_input(self, input: Tensor, batch_sizes) -> None:
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(
                f"input must have {expected_input_dim} dimensions, got {input.dim()}"
            )
        if self.input_size != input.size(-1):
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {input.size(-1)}"
            )

    def _state_shape(self, input: Tensor, batch_sizes, size: int) -> tuple:
        """(layers * directions, batch, size): the shape of an initial state."""
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, size)

    def get_expected_hidden_size(self, input: Tensor, batch_sizes) -> tuple:
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return self._state_shape(input, batch_sizes, size)

    def check_hidden_size(
        self, hx: Tensor, expected_hidden_size, msg: str = "Expected hidden size {}, got {}"
    ) -> None:
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(tuple(expected_hidden_size), list(hx.shape)))

    def check_forward_args(self, input: Tensor, hidden: Tensor, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Tensor, permutation):
        if permutation is None:
            return hx
        return _apply_permutation(hx, permutation)

    def _check_dtype(self, input: Tensor) -> None:
        w = self._flat_weights[0]
        if input.dtype != w.dtype:
            raise ValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype ({w.dtype}). "
                f"Convert input: input.to({w.dtype}), or convert model: model.to({input.dtype})"
            )

    # --- the computation --------------------------------------------------------------------
    def _layers(self, x: Tensor, steps, hx: Tensor, cx: Tensor | None):
        """Run every layer over rows ``x`` (N, input_size): output rows and final states."""
        mode = self.mode
        d_count = 2 if self.bidirectional else 1
        bias = self.bias
        proj = self.proj_size > 0
        training = self.training
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            ys = []
            for direction in range(d_count):
                k = layer * d_count + direction
                ws = [getattr(self, n) for n in self._all_weights[k]]
                w_ih, w_hh = ws[0], ws[1]
                b_ih, b_hh = (ws[2], ws[3]) if bias else (None, None)
                w_hr = ws[-1] if proj else None
                gx = F.linear(layer_in, w_ih, b_ih)
                out = _R.rnn_layer(
                    mode,
                    gx,
                    w_hh,
                    hx[k],
                    None if cx is None else cx[k],
                    b_hh,
                    w_hr,
                    steps,
                    direction == 1,
                )
                ys.append(out[0])
                hs.append(out[1])
                if cx is not None:
                    cs.append(out[2])
            layer_in = ys[0] if d_count == 1 else cat(ys, 1)
            if self.dropout and training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        h_n = stack(hs)
        c_n = stack(cs) if cx is not None else None
        return layer_in, h_n, c_n

    def _prepare(self, input, hx):
        """Unpack or un-batch ``input``: (rows, steps, batch, packed info, batched flag)."""
        name = "RNN" if self.mode.startswith("RNN") else self.mode
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            bs = np.asarray(batch_sizes.tolist(), dtype=np.int64)
            offs = np.concatenate(([0], np.cumsum(bs)[:-1]))
            steps = tuple(zip(offs.tolist(), bs.tolist()))
            return data, steps, int(bs[0]), batch_sizes, sorted_indices, unsorted_indices, True
        if input.dim() not in (2, 3):
            suffix = " tensor" if name == "RNN" else ""
            raise ValueError(
                f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{suffix} instead"
            )
        return input, None, None, None, None, None, input.dim() == 3


class RNN(RNNBase):
    """An Elman RNN, ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu),
    over ``num_layers`` layers, optionally bidirectional.

    Arguments: ``input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False``. ``forward(input, hx=None)``
    takes (T, B, input_size) (or (B, T, ...) with ``batch_first``, or (T, input_size)
    unbatched, or a `PackedSequence`) and returns ``(output, h_n)``.

    Example:
        >>> import tocha.core as torch
        >>> rnn = torch.nn.RNN(10, 20, 2)
        >>> out, h = rnn(torch.randn(5, 3, 10))
        >>> out.shape, h.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
    """

    def __init__(self, *args, **kwargs) -> None:
        _refuse_proj_size(kwargs)
        if len(args) > 3:
            self_nl = args[3]
            args = args[:3] + args[4:]
        else:
            self_nl = kwargs.pop("nonlinearity", "tanh")
        if self_nl == "tanh":
            mode = "RNN_TANH"
        elif self_nl == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self_nl}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)
        self.nonlinearity = self_nl

    def forward(self, input, hx: Tensor | None = None):
        return _forward(self, input, hx)


class LSTM(RNNBase):
    """A long short-term memory network: gates ``i, f, g, o`` (in that order in the weights),
    ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)`` (times ``W_hr`` with ``proj_size``).

    Arguments: ``input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0``. ``forward(input, (h_0, c_0)=None)``
    returns ``(output, (h_n, c_n))``.

    Example:
        >>> import tocha.core as torch
        >>> lstm = torch.nn.LSTM(10, 20, 2, batch_first=True)
        >>> out, (h, c) = lstm(torch.randn(3, 5, 10))
        >>> out.shape, h.shape, c.shape
        (torch.Size([3, 5, 20]), torch.Size([2, 3, 20]), torch.Size([2, 3, 20]))
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes) -> tuple:
        return self._state_shape(input, batch_sizes, self.hidden_size)

    def check_forward_args(self, input: Tensor, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(
            hidden[0],
            self.get_expected_hidden_size(input, batch_sizes),
            "Expected hidden[0] size {}, got {}",
        )
        self.check_hidden_size(
            hidden[1],
            self.get_expected_cell_size(input, batch_sizes),
            "Expected hidden[1] size {}, got {}",
        )

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return _apply_permutation(hx[0], permutation), _apply_permutation(hx[1], permutation)

    def forward(self, input, hx=None):
        return _forward(self, input, hx)


class GRU(RNNBase):
    """A gated recurrent unit network: gates ``r, z, n`` (in that order),
    ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``.

    Arguments: ``input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False``. ``forward(input, hx=None)`` returns
    ``(output, h_n)``.

    Example:
        >>> import tocha.core as torch
        >>> gru = torch.nn.GRU(10, 20, bidirectional=True)
        >>> out, h = gru(torch.randn(5, 3, 10))
        >>> out.shape, h.shape
        (torch.Size([5, 3, 40]), torch.Size([2, 3, 20]))
    """

    def __init__(self, *args, **kwargs) -> None:
        _refuse_proj_size(kwargs)
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx: Tensor | None = None):
        return _forward(self, input, hx)


def _forward(self: RNNBase, input, hx):
    """torch's RNN/LSTM/GRU forward: argument handling around `RNNBase._layers`."""
    lstm = self.mode == "LSTM"
    d_count = 2 if self.bidirectional else 1
    data, steps, max_batch, batch_sizes, sorted_indices, unsorted_indices, batched = self._prepare(
        input, hx
    )
    packed = steps is not None
    real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
    batch_dim = 0 if self.batch_first else 1
    x = data
    if not packed:
        if not batched:
            x = x.unsqueeze(batch_dim)
            if hx is not None:
                if lstm:
                    if hx[0].dim() != 2 or hx[1].dim() != 2:
                        raise RuntimeError(
                            "For unbatched 2-D input, hx and cx should also be 2-D but got "
                            f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors"
                        )
                    hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
                else:
                    if hx.dim() != 2:
                        raise RuntimeError(
                            "For unbatched 2-D input, hx should also be 2-D but got "
                            f"{hx.dim()}-D tensor"
                        )
                    hx = hx.unsqueeze(1)
        elif hx is not None:
            if lstm:
                if hx[0].dim() != 3 or hx[1].dim() != 3:
                    raise RuntimeError(
                        "For batched 3-D input, hx and cx should also be 3-D but got "
                        f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors"
                    )
            elif hx.dim() != 3:
                raise RuntimeError(
                    f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor"
                )
        max_batch = x.size(0) if self.batch_first else x.size(1)
    self._check_dtype(x)
    fk = {"dtype": x.dtype, "device": x.device}
    if hx is None:
        h0 = zeros((self.num_layers * d_count, max_batch, real_hidden), **fk)
        c0 = zeros((self.num_layers * d_count, max_batch, self.hidden_size), **fk) if lstm else None
        hidden = (h0, c0) if lstm else h0
    else:
        hidden = self.permute_hidden(hx, sorted_indices)
    self.check_forward_args(x, hidden, batch_sizes)
    h0, c0 = hidden if lstm else (hidden, None)
    if packed:
        rows = x
    else:
        if self.batch_first:
            x = x.transpose(0, 1)
        t_len, b = x.shape[0], x.shape[1]
        rows = x.reshape(t_len * b, x.shape[2])
        steps = tuple((t * b, b) for t in range(t_len))
    y, h_n, c_n = self._layers(rows, steps, h0, c0)
    if packed:
        out = PackedSequence(y, batch_sizes, sorted_indices, unsorted_indices)
    else:
        out = y.reshape(t_len, b, y.shape[-1])
        if self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(batch_dim)
            h_n = h_n.squeeze(1)
            if lstm:
                c_n = c_n.squeeze(1)
    hidden = (h_n, c_n) if lstm else h_n
    return out, self.permute_hidden(hidden, unsorted_indices)


# --- cells ------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """The parameters shared by the cells: ``weight_ih`` (chunks * hidden, input),
    ``weight_hh`` (chunks * hidden, hidden), ``bias_ih``, ``bias_hh``.

    Example:
        >>> import tocha.core as torch
        >>> torch.nn.RNNCellBase(3, 4, True, 2).weight_ih.shape
        torch.Size([8, 3])
    """

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        fk = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), **fk))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), **fk))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, **fk))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, **fk))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += f", bias={self.bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        _reset_uniform(self)

    def _one_state_input(self, name: str, input: Tensor, hx):
        """RNNCell/GRUCell: (input, hx) batched, with zeros for a missing hx, and whether the
        input was batched."""
        batched = _cell_input(name, input, hx)
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = zeros((input.size(0), self.hidden_size), dtype=input.dtype, device=input.device)
        elif not batched:
            hx = hx.unsqueeze(0)
        return input, hx, batched

    def _step(self, mode: str, input: Tensor, h: Tensor, c: Tensor | None):
        """One time step through the fused layer node (a one-step sequence)."""
        ni = input.size(1)
        if ni != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {ni} expected {self.input_size}"
            )
        for k, st in enumerate((h,) if c is None else (h, c)):
            if st.size(0) != input.size(0):
                raise RuntimeError(
                    f"Input batch size {input.size(0)} doesn't match hidden{k} batch size "
                    f"{st.size(0)}"
                )
            if st.size(1) != self.hidden_size:
                raise RuntimeError(
                    f"hidden{k} has inconsistent hidden_size: got {st.size(1)}, expected "
                    f"{self.hidden_size}"
                )
        gx = F.linear(input, self.weight_ih, self.bias_ih)
        b = input.size(0)
        return _R.rnn_layer(mode, gx, self.weight_hh, h, c, self.bias_hh, None, ((0, b),), False)


def _cell_input(name: str, input: Tensor, hx, what: str = "hidden"):
    if input.dim() not in (1, 2):
        raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
    if hx is not None and hx.dim() not in (1, 2):
        raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {hx.dim()}D instead")
    return input.dim() == 2


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu).

    Example:
        >>> import tocha.core as torch
        >>> cell = torch.nn.RNNCell(10, 20)
        >>> cell(torch.randn(3, 10)).shape
        torch.Size([3, 20])
    """

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, hx, batched = self._one_state_input("RNNCell", input, hx)
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        ret = self._step(mode, input, hx, None)[1]
        return ret if batched else ret.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: returns ``(h', c')`` from ``(h, c)`` (zeros when ``hx`` is None).

    Example:
        >>> import tocha.core as torch
        >>> cell = torch.nn.LSTMCell(10, 20)
        >>> h, c = cell(torch.randn(3, 10))
        >>> h.shape, c.shape
        (torch.Size([3, 20]), torch.Size([3, 20]))
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx=None) -> tuple[Tensor, Tensor]:
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for k in range(2):
                if hx[k].dim() not in (1, 2):
                    raise ValueError(
                        f"LSTMCell: Expected hx[{k}] to be 1D or 2D, got {hx[k].dim()}D instead"
                    )
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            z = zeros((input.size(0), self.hidden_size), dtype=input.dtype, device=input.device)
            hx = (z, z)
        elif not batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        _, h, c = self._step("LSTM", input, hx[0], hx[1])
        if not batched:
            return h.squeeze(0), c.squeeze(0)
        return h, c


class GRUCell(RNNCellBase):
    """One GRU step: ``h' = (1 - z) n + z h``.

    Example:
        >>> import tocha.core as torch
        >>> cell = torch.nn.GRUCell(10, 20)
        >>> cell(torch.randn(3, 10)).shape
        torch.Size([3, 20])
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, hx, batched = self._one_state_input("GRUCell", input, hx)
        ret = self._step("GRU", input, hx, None)[1]
        return ret if batched else ret.squeeze(0)
