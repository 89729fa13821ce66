"""batch_sync: nightly sync of warehouse stock levels to the e-CROSS inventory API."""

__version__ = "0.1.0"
