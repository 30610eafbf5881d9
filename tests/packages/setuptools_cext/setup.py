from setuptools import Extension, setup

setup(ext_modules=[Extension("cext_demo._speed", ["src/cext_demo/_speed.c"])])
