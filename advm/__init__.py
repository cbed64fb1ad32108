"""advm: living documents in the Adama language on a Cython register VM."""

__version__ = "0.1.0"
