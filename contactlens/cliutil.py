"""What every command shares: friendly errors and the column-mapping flags."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from contactlens.data import Columns
from contactlens.errors import ContactLensError
from contactlens.registry import load_model as load_model  # re-exported: it lives in the registry now

F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """Turn a ContactLensError into one line on stderr and exit status 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ContactLensError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


TextCol = Annotated[str, typer.Option("--text-col", help="Column holding the verbatim.")]
LabelCol = Annotated[
    str, typer.Option("--label-col", help="Column holding the description (its id or its label as written).")
]
SentimentCol = Annotated[str, typer.Option("--sentiment-col", help="Column holding the sentiment.")]
DateCol = Annotated[str, typer.Option("--date-col", help="Column holding the date received.")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="Artifact directory or models:/NAME@ALIAS (default: the champion)."),
]


def columns(
    text_col: str = "text",
    label_col: str = "description",
    sentiment_col: str = "sentiment",
    date_col: str = "received_at",
) -> Columns:
    """The column map from the shared CLI flags."""
    return Columns(text=text_col, label=label_col, sentiment=sentiment_col, date=date_col)
