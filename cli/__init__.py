"""The ``perpflow`` command line: one module per command group, registered in ``cli.app``."""
