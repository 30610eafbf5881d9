import os

from setuptools import Extension, setup

setup(
    # version.txt is gitignored (a release script writes it)
    version=open("version.txt").read().strip(),
    ext_modules=[
        Extension(
            "learned_c._values",
            ["src/learned_c/_values.c"],
            include_dirs=["../setuptools_learned_shared"],
            define_macros=[("FLAVOR", os.environ.get("CEXT_FLAVOR", "1"))],
        )
    ],
)
