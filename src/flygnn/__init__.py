"""flygnn: simulate the fly visual system on its connectome, train a GNN on the
voltage traces, and publish what it learned as a Quarto book."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("flygnn")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
