"""Errors, exit statuses and the CLI's output streams.

Every error the user can cause is a :class:`CLIError` subclass that carries its
exit status; :func:`skce.cli.main` prints it as one ``skce: error:`` line.
"""

import contextlib
import sys
import textwrap
import warnings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CLIError(Exception):
    """An error reported as one ``skce: error:`` line; ``exit_code`` is the status."""

    exit_code = EXIT_FAILURE


class UsageError(CLIError):
    """The user asked for something that cannot work (exit status 2)."""

    exit_code = EXIT_USAGE


class MissingDependencyError(CLIError):
    """A command needs an optional dependency that is not installed (exit status 2).

    It is a usage error: the fix is an installation, not a change of the data.
    """

    exit_code = EXIT_USAGE


class ModelFileError(CLIError):
    """A model file that is not a valid skce model (exit status 1)."""

    exit_code = EXIT_FAILURE


def one_line(text):
    """``text`` with its line breaks replaced by spaces, for a one-line message."""
    return " ".join(str(text).split("\n")).strip()


def first_line(exc):
    """The first line of an exception's message (its name if it has none)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def wrap(text, width=92):
    """Wrap a paragraph for the terminal, continuation lines indented."""
    return textwrap.fill(text, width=width, subsequent_indent="    ", break_on_hyphens=False)


def import_pandas(what="this command"):
    """Import pandas, or raise :class:`MissingDependencyError` naming ``what`` needs it.

    The library does not need pandas, so it is an optional dependency (the
    ``cli`` extra); the commands import it only when they run, which keeps
    ``import skce`` and ``skce --help`` fast.
    """
    try:
        import pandas
    except ImportError:
        raise MissingDependencyError(
            f"{what} needs pandas, which is not installed: python -m pip install 'skce[cli]'"
        ) from None
    return pandas


class Output:
    """Results go to stdout; progress, notes and warnings to stderr unless quiet.

    The streams are looked up at every write (not stored), so that pytest's
    ``capsys`` and ``contextlib.redirect_stdout`` see the output of
    :func:`skce.cli.main` called in-process.
    """

    def __init__(self, quiet=False):
        self.quiet = quiet

    def result(self, text=""):
        print(text, flush=True)

    def info(self, text=""):
        if not self.quiet:
            print(text, flush=True)

    def progress(self, text):
        if not self.quiet:
            print(f"skce: {text}", file=sys.stderr, flush=True)

    def warning(self, text):
        if not self.quiet:
            print(f"skce: warning: {one_line(text)}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def warnings_as_lines(out):
    """Show the warnings raised in this block as ``skce: warning:`` lines.

    ``catch_warnings`` restores both the filters and ``warnings.showwarning``
    on exit, so calling :func:`skce.cli.main` repeatedly in one process leaves
    no trace in the caller's warning machinery.
    """

    def show(message, category, filename, lineno, file=None, line=None):
        out.warning(f"{category.__name__}: {message}")

    with warnings.catch_warnings():
        if out.quiet:
            warnings.simplefilter("ignore")
        warnings.showwarning = show
        yield
