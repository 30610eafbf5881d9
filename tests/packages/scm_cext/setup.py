from setuptools import Extension, setup

setup(ext_modules=[Extension("scm_demo._speed", ["src/scm_demo/_speed.c"])])
