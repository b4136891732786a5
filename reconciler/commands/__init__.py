"""One module per `vsr` command: `register(subparsers, common) -> parser` and `run(args) -> int`."""
