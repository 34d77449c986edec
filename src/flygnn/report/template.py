"""The book's generated prose: Jinja2 templates in ``templates/`` fed with numbers.

Python computes; a template words it. Quarto's attributes start with ``{#`` (``{#tbl-x}``),
so Jinja's comments are ``<# … #>`` here; an undefined name is an error, never an empty string.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any


@cache
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (resources.files("flygnn.report") / "templates" / name).read_text()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        comment_start_string="<#",
        comment_end_string="#>",
    )


def render(name: str, **values: Any) -> str:
    """The template ``templates/<name>`` rendered with ``values``."""
    return _environment().get_template(name).render(**values)
