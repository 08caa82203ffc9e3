"""logenrich: classify JupyterHub-family log lines against a compiled table of known messages."""

__version__ = "0.1.0"
