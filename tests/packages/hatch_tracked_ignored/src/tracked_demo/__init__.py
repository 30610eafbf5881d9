"""hatchling test package that ships settings.dat, a gitignored file git tracks."""


def settings():
    from importlib.resources import files

    return files(__name__).joinpath("settings.dat").read_text().strip()
