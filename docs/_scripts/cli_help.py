"""Sphinx directive ``skce-help``: the ``--help`` text of the ``skce`` command.

``.. skce-help::`` shows ``skce --help``; ``.. skce-help:: fit`` shows
``skce fit --help``. The text comes from :func:`skce.cli.build_parser` at build
time, so the page cannot drift from the code.
"""

import argparse
import os
from unittest import mock

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


def help_text(command=None, width=92):
    from skce.cli import build_parser

    with mock.patch.dict(os.environ, {"COLUMNS": str(width)}):
        parser = build_parser()
        if command:
            actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            parser = actions[0].choices[command]
        return parser.format_help().rstrip()


class SkceHelp(SphinxDirective):
    optional_arguments = 1
    has_content = False

    def run(self):
        command = self.arguments[0] if self.arguments else None
        text = help_text(command)
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    app.add_directive("skce-help", SkceHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
