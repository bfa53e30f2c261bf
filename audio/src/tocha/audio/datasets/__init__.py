"""torchaudio.datasets: speech corpora by their folder layouts, plus a labelled-folder loader.

Example:
    >>> import os, tempfile, tocha.core as torch, tocha.audio as ta
    >>> from tocha.audio.datasets import YESNO
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "waves_yesno"))
    >>> ta.save(os.path.join(root, "waves_yesno", "0_1_1_0_0_1_0_1.wav"), torch.zeros(1, 80), 8000)
    >>> w, sr, labels = YESNO(root)[0]
    >>> sr, labels
    (8000, [0, 1, 1, 0, 0, 1, 0, 1])
"""

from ._datasets import LIBRISPEECH, LJSPEECH, SPEECHCOMMANDS, VCTK_092, YESNO, AudioFolder

__all__ = ["LIBRISPEECH", "LJSPEECH", "SPEECHCOMMANDS", "VCTK_092", "YESNO", "AudioFolder"]
