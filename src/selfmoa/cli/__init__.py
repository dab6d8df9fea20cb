"""Command line: one module per subcommand. The only layer that parses argv."""
