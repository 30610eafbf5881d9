"""hatchling test package: a wheel built from the tree has extra.py, one from the sdist does not."""


def has_extra():
    import importlib.util

    return importlib.util.find_spec("sdx_demo.extra") is not None
