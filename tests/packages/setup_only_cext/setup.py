from setuptools import Extension, find_packages, setup

setup(
    name="setup-only-demo",
    version="1.0.0",
    packages=find_packages("src"),
    package_dir={"": "src"},
    exclude_package_data={"setup_only_demo": ["*.c"]},
    ext_modules=[Extension("setup_only_demo._speed", ["src/setup_only_demo/_speed.c"])],
)
