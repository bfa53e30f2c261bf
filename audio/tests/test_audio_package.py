import importlib.metadata

import tocha.audio


def test_version_matches_distribution_metadata():
    assert tocha.audio.__version__ == importlib.metadata.version("tocha-audio")


def test_unknown_attribute_names_the_module():
    import pytest

    with pytest.raises(AttributeError, match="tocha.audio"):
        tocha.audio.no_such_thing  # noqa: B018
