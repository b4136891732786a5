"""vsr - the vSphere security reconciler."""

__version__ = "0.1.0"
