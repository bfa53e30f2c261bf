import importlib.metadata

import tocha.rec


def test_version_matches_distribution_metadata():
    assert tocha.rec.__version__ == importlib.metadata.version("tocha-rec")


def test_unknown_attribute_names_the_module():
    import pytest

    with pytest.raises(AttributeError, match="tocha.rec"):
        tocha.rec.no_such_thing  # noqa: B018
