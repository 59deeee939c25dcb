"""Typer's option coercion without pydantic for the plain types the CLI uses (str, int, float, bool and lists).

Why: typer 0.29 coerces every option value through a pydantic TypeAdapter. Importing pydantic (and typer's
adapter module, which scans installed packages for pydantic plugins) and building the adapters took about
0.18 s of each `spotwise jobs list`: more than everything else the command does. For a plain str, int or float
the conversion is a one-liner, so `install()` hands those to `PlainParam` and leaves everything else (paths,
choices, ranges, files, datetimes, custom parsers) to typer's own code. A bad value still gets click's usage
error: "Invalid value for '--limit': 'x' is not a valid integer." and exit code 2.

This reaches into typer's private `_coercion` module, so it checks what it patches: with another typer whose
internals differ (older ones coerce through click and never needed pydantic), it patches nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast, get_args, get_origin

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off", ""}


def _to_bool(value: Any) -> bool:
    """As typer (via pydantic) reads a boolean: the usual words, any case; empty is False."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(text)


_PLAIN: dict[Any, tuple[Callable[[Any], Any], str]] = {
    str: (str, "string"),
    int: (int, "integer"),
    float: (float, "float"),
    bool: (_to_bool, "boolean"),
}


def _plain(annotation: Any) -> tuple[Callable[[Any], Any], str, bool] | None:
    """(convert, type name, is a list) for str/int/float or a list of one of them; None for anything else."""
    if annotation in _PLAIN:
        return (*_PLAIN[annotation], False)
    args = get_args(annotation)
    if get_origin(annotation) is list and len(args) == 1 and args[0] in _PLAIN:
        return (*_PLAIN[args[0]], True)
    return None


def install() -> bool:
    """Route plain option types around pydantic; False (nothing changed) when typer is not the expected shape."""
    try:
        from typer import _coercion, core
        from typer._click.exceptions import BadParameter
    except ImportError:
        return False
    typer_build: Any = getattr(core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if not callable(typer_build) or base is None or getattr(typer_build, "plain_params", False):
        return False
    if typer_build is not getattr(_coercion, "build_runtime_param", None):
        return False  # core no longer calls the coercion module's builder: another typer, leave it be
    fallback = cast(Callable[[Any], Any], typer_build)

    @dataclass(frozen=True)
    class PlainParam(base):  # type: ignore[misc, valid-type]
        """A str, int or float option (or a list of them), converted without pydantic."""

        convert: Callable[[Any], Any] = str
        type_name: str = "string"
        is_list: bool = False

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            items = list(value) if self.is_list else [value]
            converted = []
            for item in items:
                try:
                    converted.append(self.convert(item))
                except (TypeError, ValueError):
                    raise BadParameter(f"{item!r} is not a valid {self.type_name}.", ctx=ctx, param=param) from None
            return converted if self.is_list else converted[0]

    def build(descriptor: Any) -> Any:
        info = descriptor.parameter_info
        plain = _plain(descriptor.annotation)
        special = (info.parser is not None or getattr(info, "click_type", None) is not None
                   or descriptor.file_annotation is not None or descriptor.is_choice or descriptor.is_ranged
                   or descriptor.is_path or descriptor.is_datetime)
        if plain is None or special:
            return fallback(descriptor)
        convert, type_name, is_list = plain
        return PlainParam(parameter_info=info, annotation=descriptor.annotation, convert=convert,
                          type_name=type_name, is_list=is_list)

    build.plain_params = True  # type: ignore[attr-defined]
    core.build_runtime_param = build  # type: ignore[attr-defined]
    return True
