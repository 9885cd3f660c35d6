"""splitsim: how much of a marketing budget should go to retention rather than acquisition."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("splitsim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
