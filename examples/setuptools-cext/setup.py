from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "setuptools_cext_example._core",
            sources=[
                "csrc/module.c",
                "csrc/primes.c",
                "csrc/stats.c",
                "csrc/text.c",
            ],
            depends=["csrc/example.h"],
            include_dirs=["csrc"],
        )
    ]
)
