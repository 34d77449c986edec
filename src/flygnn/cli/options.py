"""Options several subcommands share, with their defaults spelled from :data:`flygnn.project.DEFAULT_PATHS`."""

from __future__ import annotations

from flygnn.project import DEFAULT_PATHS


def default_path(key: str, tail: str = "") -> str:
    """The default path ``key`` of the project layout as help text shows it (``tail`` appended)."""
    return DEFAULT_PATHS[key] + tail


def add_conditions_file_option(parser) -> None:
    parser.add_argument(
        "--conditions-file", metavar="YAML", help=f"the conditions (default: {default_path('conditions_file')})"
    )
