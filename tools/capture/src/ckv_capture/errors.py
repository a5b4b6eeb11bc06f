"""Two tiers of errors, as in ckv-sweep (docs/spec/STYLE.md): one stops the command, one fails a sample."""


class InputError(Exception):
    """Bad input or options: the command stops before doing any work (exit 1)."""


class SampleError(Exception):
    """One sample cannot be captured or generated (too long, empty answer, ...): it is reported
    with its name and the command goes on with the others (exit 3 at the end)."""


# Exit codes shared with ckv-sweep (README "Exit codes of a run").
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
