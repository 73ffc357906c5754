"""Package discovery for setuptools (the metadata lives in pyproject.toml).

Every `nasdsl.*` package is found, so a new subpackage cannot be left out of the wheel
(pyproject's hand-written list once omitted nasdsl.engines and nasdsl.backends.supernet).
grammars/ and templates/ live at the top of the repository (they are not Python); in a
wheel they become the packages nasdsl.grammars and nasdsl.templates (nasdsl.paths finds
them in either place).
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["nasdsl", "nasdsl.*"])
    + ["nasdsl.grammars", "nasdsl.templates"],
    package_dir={"nasdsl.grammars": "grammars", "nasdsl.templates": "templates"},
)
