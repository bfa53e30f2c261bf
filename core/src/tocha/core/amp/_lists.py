"""torch's autocast op lists ("Autocast Op Reference" in torch's amp documentation), written as
the tocha functions that implement each op.

An entry is ``"where:name"``:
    ``torch``   ``tocha.core.<name>`` and the Tensor method of that name
    ``F``       ``tocha.core.nn.functional.<name>``
    ``linalg``  ``tocha.core.linalg.<name>``; ``fft`` ``tocha.core.fft.<name>``
    ``Tensor``  the Tensor method only (operators such as ``__matmul__``)
    ``_ops.<family>``  an internal entry point that public code calls directly (``_ops.layers
                linear`` is what multi-head attention calls; ``_ops.rnn rnn_layer`` is the fused
                recurrent layer behind nn.RNN/LSTM/GRU and their cells)
Entries whose function tocha does not have (yet) are skipped when the table is built.
"""

from __future__ import annotations


def _entries(text: str) -> list:
    """One entry per whitespace-separated word (the lists read like torch's documentation)."""
    return text.split()


# --- CPU (bfloat16 or float16; "float16 shares the lists of bfloat16") ---------------------------
CPU_LOWER = _entries(
    """
torch:conv1d torch:conv2d torch:conv3d torch:bmm torch:mm linalg:vecdot torch:baddbmm torch:addmm
torch:addbmm F:linear _ops.layers:linear torch:matmul Tensor:__matmul__ Tensor:__rmatmul__
torch:conv_transpose1d torch:conv_transpose2d torch:conv_transpose3d F:conv1d F:conv2d F:conv3d
F:conv_transpose1d F:conv_transpose2d F:conv_transpose3d torch:prelu F:prelu
F:scaled_dot_product_attention
"""
)

CPU_FP32 = _entries(
    """
F:avg_pool3d F:binary_cross_entropy F:grid_sample torch:polar torch:prod torch:quantile
torch:nanquantile torch:stft torch:cdist torch:trace torch:view_as_complex torch:cholesky_inverse
torch:cholesky_solve torch:inverse torch:lu_solve torch:orgqr torch:ormqr torch:pinverse
F:max_pool3d F:max_unpool2d F:max_unpool3d F:adaptive_avg_pool3d F:mse_loss
F:cosine_embedding_loss F:nll_loss F:hinge_embedding_loss F:poisson_nll_loss F:cross_entropy
F:l1_loss F:huber_loss F:margin_ranking_loss F:soft_margin_loss F:triplet_margin_loss
F:multi_margin_loss F:ctc_loss F:kl_div F:multilabel_margin_loss
F:binary_cross_entropy_with_logits fft:fft fft:ifft fft:fft2 fft:ifft2 fft:fftn fft:ifftn
fft:rfft fft:irfft fft:rfft2 fft:irfft2 fft:rfftn fft:irfftn fft:hfft fft:ihfft linalg:cond
linalg:matrix_rank linalg:solve linalg:cholesky linalg:svdvals linalg:eigvals linalg:eigvalsh
linalg:inv linalg:householder_product linalg:tensorinv linalg:tensorsolve torch:geqrf torch:qr
torch:svd torch:triangular_solve F:fractional_max_pool2d F:fractional_max_pool3d
F:adaptive_max_pool3d linalg:qr linalg:cholesky_ex linalg:svd linalg:eig linalg:eigh
linalg:lstsq linalg:inv_ex
"""
)

CPU_PROMOTE = ["torch:cat", "torch:stack", "torch:index_copy"]

# --- CUDA (float16 or bfloat16) ------------------------------------------------------------------
CUDA_LOWER = _entries(
    """
Tensor:__matmul__ Tensor:__rmatmul__ torch:addbmm torch:addmm torch:addmv torch:addr
torch:baddbmm torch:bmm torch:chain_matmul linalg:multi_dot torch:conv1d torch:conv2d
torch:conv3d torch:conv_transpose1d torch:conv_transpose2d torch:conv_transpose3d F:conv1d
F:conv2d F:conv3d F:conv_transpose1d F:conv_transpose2d F:conv_transpose3d F:linear
_ops.layers:linear torch:matmul torch:mm torch:mv torch:prelu F:prelu _ops.rnn:rnn_layer
F:scaled_dot_product_attention
"""
)

CUDA_FP32 = _entries(
    """
Tensor:__pow__ Tensor:__rdiv__ Tensor:__rpow__ Tensor:__rtruediv__ torch:acos torch:asin
F:binary_cross_entropy_with_logits torch:cosh F:cosine_embedding_loss torch:cdist
torch:cosine_similarity F:cosine_similarity F:cross_entropy torch:cumprod torch:cumsum
torch:dist torch:erfinv torch:exp torch:expm1 F:group_norm F:hinge_embedding_loss F:kl_div
F:l1_loss F:layer_norm torch:log torch:log_softmax F:log_softmax torch:log10 torch:log1p
torch:log2 F:margin_ranking_loss F:mse_loss F:multilabel_margin_loss F:multi_margin_loss
F:nll_loss torch:norm F:normalize F:pdist torch:pdist F:poisson_nll_loss torch:pow torch:prod
torch:reciprocal torch:rsqrt torch:sinh F:smooth_l1_loss F:soft_margin_loss torch:softmax
F:softmax F:softmin F:softplus torch:sum torch:renorm torch:tan F:triplet_margin_loss
"""
)

CUDA_PROMOTE = _entries(
    """
torch:addcdiv torch:addcmul torch:atan2 F:bilinear torch:cross torch:dot F:grid_sample
torch:index_put torch:scatter_add torch:tensordot
"""
)

# torch raises for these under CUDA autocast (their backward is unsafe in float16)
CUDA_BANNED = ["F:binary_cross_entropy"]

BANNED_MESSAGE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional."
    "binary_cross_entropy_with_logits\nor torch.nn.BCEWithLogitsLoss.  "
    "binary_cross_entropy_with_logits and BCEWithLogits are\nsafe to autocast."
)
