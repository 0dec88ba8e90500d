"""Only a workaround; the project's metadata lives in pyproject.toml.

setuptools leaves [tool.setuptools.data-files] (the man page and completions) out of
editable installs: its editable_wheel asks the distribution `has_data()`, a method
that does not exist (the real one is `has_data_files()`), so it never installs them
(pypa/setuptools#3399). pip then replaces a regular install with an editable one
that has no share/ files, and the README's test line would remove what its
install line put there. Answering `has_data()` puts them into editable installs too.
"""

from setuptools import setup
from setuptools.dist import Distribution


class _Distribution(Distribution):
    def has_data(self) -> bool:
        return self.has_data_files()


setup(distclass=_Distribution)
