import importlib.metadata

import tocha.text


def test_version_matches_distribution_metadata():
    assert tocha.text.__version__ == importlib.metadata.version("tocha-text")


def test_unknown_attribute_names_the_module():
    import pytest

    with pytest.raises(AttributeError, match="tocha.text"):
        tocha.text.no_such_thing  # noqa: B018
