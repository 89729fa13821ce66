"""The subcommands of ``batch-sync``: each module adds its parser and runs the command."""
