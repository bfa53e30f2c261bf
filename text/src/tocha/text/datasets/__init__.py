"""torchtext-style datasets read from a local folder (downloaded, MD5-checked, when missing).

Each function takes ``root`` and ``split`` (one name, or a tuple giving a tuple of datasets)
and returns in-memory datasets that iterate like torchtext's and also index and have a length.

Example:
    >>> from tocha.text import datasets
    >>> sorted(datasets.__all__)
    ['AG_NEWS', 'IMDB', 'SST2', 'WikiText103', 'WikiText2']
"""

from .ag_news import AG_NEWS
from .imdb import IMDB
from .sst2 import SST2
from .wikitext import WikiText2, WikiText103

__all__ = ["AG_NEWS", "IMDB", "SST2", "WikiText2", "WikiText103"]
