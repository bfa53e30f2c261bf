"""tocha.text.models on a CUDA device: same results as on the CPU (skipped without a GPU)."""

import numpy as np
import pytest

import tocha.core as torch
from tocha.text.models import GPT, BertConfig, BertModel, GPTConfig, Pooling, SentenceEncoder

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU with cupy"),
]


def test_bert_and_packed_sentence_embeddings_on_cuda_match_cpu():
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64)  # fmt: skip
    enc = SentenceEncoder(BertModel(cfg), Pooling(32), normalize=True).eval()
    ids = torch.tensor([[1, 7, 9, 4, 2], [1, 5, 2, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with torch.no_grad():
        cpu_h = enc.bert(ids, mask).last_hidden_state
        cpu_e = enc(ids, mask)
        enc.to("cuda")
        gpu_h = enc.bert(ids.to("cuda"), mask.to("cuda")).last_hidden_state
        gpu_e = enc(ids.to("cuda"), mask.to("cuda"))
    assert gpu_e.device.type == "cuda"
    np.testing.assert_allclose(gpu_h.cpu().numpy(), cpu_h.numpy(), atol=1e-4)
    np.testing.assert_allclose(gpu_e.cpu().numpy(), cpu_e.numpy(), atol=1e-5)


def test_gpt_generate_on_cuda_matches_cpu():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, n_positions=64, n_embd=32, n_layer=2, n_head=4)).eval()
    prompt = torch.tensor([[3, 1, 4, 1, 5]])
    cpu = model.generate(prompt, max_new_tokens=10)
    model.to("cuda")
    gpu = model.generate(prompt.to("cuda"), max_new_tokens=10)
    nocache = model.generate(prompt.to("cuda"), max_new_tokens=10, use_cache=False)
    assert gpu.device.type == "cuda"
    np.testing.assert_array_equal(gpu.cpu().numpy(), cpu.numpy())
    np.testing.assert_array_equal(nocache.cpu().numpy(), cpu.numpy())
