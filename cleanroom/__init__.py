"""cleanroom: an open-source data clean room for retail media."""

__version__ = "0.1.0"
