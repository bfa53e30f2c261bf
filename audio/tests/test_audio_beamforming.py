"""Beamforming functions against the textbook formulas in NumPy."""

import numpy as np
import pytest

import tocha.audio.functional as AF
import tocha.core as torch

RNG = np.random.default_rng(0)
C, Fq, Tm = 4, 6, 40


def _cplx(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


@pytest.fixture(scope="module")
def data():
    spec = _cplx(C, Fq, Tm)
    noise = 0.3 * _cplx(C, Fq, Tm)
    mask = RNG.random((Fq, Tm))
    return spec, noise, mask


def _np_psd(x, mask=None):
    x = np.swapaxes(x, -3, -2)  # (F, C, T)
    if mask is not None:
        mask = mask / (mask.sum(-1, keepdims=True) + 1e-10)
        return np.einsum("fct,fet,ft->fce", x, x.conj(), mask)
    return np.einsum("fct,fet->fce", x, x.conj())


def _reg(m, reg=1e-7, eps=1e-8):
    tr = np.trace(m, axis1=-2, axis2=-1).real
    return m + (tr * reg + eps)[..., None, None] * np.eye(m.shape[-1])


def test_psd(data):
    spec, _, mask = data
    np.testing.assert_allclose(AF.psd(torch.from_numpy(spec)).numpy(), _np_psd(spec), atol=1e-10)
    np.testing.assert_allclose(
        AF.psd(torch.from_numpy(spec), torch.from_numpy(mask)).numpy(),
        _np_psd(spec, mask),
        atol=1e-10,
    )


def test_mvdr_souden_rtf_and_apply(data):
    spec, noise, _ = data
    ps, pn = _np_psd(spec), _np_psd(noise)
    ts, tn = torch.from_numpy(ps), torch.from_numpy(pn)
    num = np.linalg.solve(_reg(pn), ps)
    ref = num / (np.trace(num, axis1=-2, axis2=-1)[..., None, None] + 1e-8)
    w = AF.mvdr_weights_souden(ts, tn, 1)
    np.testing.assert_allclose(w.numpy(), ref[..., 1], atol=1e-10)
    onehot = torch.tensor([0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(
        AF.mvdr_weights_souden(ts, tn, onehot).numpy(), ref[..., 1], atol=1e-10
    )
    # RTF estimates: the principal eigenvector, and power iteration converging to its direction.
    rtf = AF.rtf_evd(ts).numpy()
    vals, vecs = np.linalg.eigh(ps)
    np.testing.assert_allclose(
        np.abs(np.einsum("fc,fc->f", rtf.conj(), vecs[..., -1])), 1.0, atol=1e-8
    )
    rp = AF.rtf_power(ts, tn, 0, n_iter=3).numpy()
    phi = np.linalg.solve(_reg(pn), ps)
    # n_iter=3: one multiplication by phi, then the final one by the speech PSD
    ref_p = np.einsum("fce,fe->fc", ps, np.einsum("fce,fe->fc", phi, phi[..., 0]))
    np.testing.assert_allclose(rp, ref_p, rtol=1e-8)
    wr = AF.mvdr_weights_rtf(torch.from_numpy(rtf), tn, 0).numpy()
    n2 = np.linalg.solve(_reg(pn), rtf[..., None])[..., 0]
    ref_r = n2 / (np.einsum("fc,fc->f", rtf.conj(), n2).real[:, None] + 1e-8)
    ref_r = ref_r * rtf[..., 0].conj()[:, None]
    np.testing.assert_allclose(wr, ref_r, atol=1e-10)
    # Distortionless: w^H d equals d_ref (the reference channel's RTF) up to the loading.
    np.testing.assert_allclose(np.einsum("fc,fc->f", wr.conj(), rtf), rtf[..., 0].conj(), rtol=1e-5)
    out = AF.apply_beamforming(w, torch.from_numpy(spec)).numpy()
    np.testing.assert_allclose(out, np.einsum("fc,cft->ft", ref[..., 1].conj(), spec), atol=1e-10)
    with pytest.raises(ValueError, match="same shape"):
        AF.mvdr_weights_souden(ts, tn[:3], 0)
