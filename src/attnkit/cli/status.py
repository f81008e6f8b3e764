"""Exit statuses of ``attnkit``: 0 success, 2 a user's mistake (argparse's code for usage
errors, so a bad value reads the same whether argparse or attnkit caught it), 130 Ctrl-C
(the shell's 128 + SIGINT)."""

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
