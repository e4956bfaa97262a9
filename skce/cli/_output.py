"""Errors, exit statuses and the CLI's output streams.

Every error the user can cause is a :class:`CLIError` subclass that carries its
exit status; :func:`skce.cli.main` prints it as one ``skce: error:`` line.
"""

import contextlib
import os
import stat
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

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


# -- output files ------------------------------------------------------------------------
def _same_file(a, b):
    """Whether ``a`` and ``b`` name one file (also through links); False if either is absent."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(path, *, option, inputs, force):
    """Check before any work that ``path`` can be written; return it as a Path.

    Raises :class:`UsageError` if ``path`` names one of the ``inputs`` (a
    mapping of description -> path, or an iterable of such pairs, e.g.
    ``{"the training data": path}``: never overwritten, even with ``force``;
    the comparison follows symbolic and hard links), if it exists and ``force`` is
    false, if it is a directory, or if its directory is missing or not
    writable. ``option`` (e.g. ``"--model"``) names the path in the messages.
    """
    path = Path(path)
    pairs = inputs.items() if hasattr(inputs, "items") else inputs
    for what, source in pairs:
        if _same_file(path, source):
            raise UsageError(
                f"{option} {path} would overwrite {what} ({source}); choose another file"
            )
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory; give a file name")
    if path.exists() and not force:
        raise UsageError(f"{option} {path} exists; pass --force to replace it")
    directory = path.parent
    if not directory.is_dir():
        raise UsageError(f"{option} {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: the directory {directory} is not writable")
    return path


@contextlib.contextmanager
def atomic_writer(path, what):
    """A text file (UTF-8) that replaces ``path`` only once it is completely written.

    It is written as a temporary file in the same directory and renamed over
    ``path`` at the end (``os.replace``, atomic on POSIX and Windows), so an
    interrupted or failed write leaves the previous file, not half of a new one.
    A failure is a :class:`CLIError` naming ``what`` was being written.
    """
    path = Path(path)
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        # mkstemp creates the file readable by its owner only; give it the
        # permissions of the file it replaces (``--force``), or those a new
        # file gets (the umask's).
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        if os.chmod in os.supports_fd:
            os.chmod(descriptor, mode)
        with open(descriptor, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(temporary, path)
        temporary = None
    except OSError as exc:
        raise CLIError(f"cannot write {what} to {path}: {exc.strerror or exc}") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
