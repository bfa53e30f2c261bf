import importlib.metadata

import tocha.geometric


def test_version_matches_distribution_metadata():
    assert tocha.geometric.__version__ == importlib.metadata.version("tocha-geometric")


def test_unknown_attribute_names_the_module():
    import pytest

    with pytest.raises(AttributeError, match="tocha.geometric"):
        tocha.geometric.no_such_thing  # noqa: B018
