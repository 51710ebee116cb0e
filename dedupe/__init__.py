"""dedupe: clean duplicated text out of scraped corpora, with an audit of every removal.

The public API::

    from dedupe import Config, clean

    for result in clean(["first doc...", {"id": "b", "text": "second doc..."}], Config()):
        if result.text is not None:
            print(result.text)
        for removal in result.removals:
            print(removal.reason, removal.text)
"""

from typing import TYPE_CHECKING, Any

from dedupe.config import PRESETS, Config, ConfigError, preset
from dedupe.io import InputError
from dedupe.model import Document, Ref, Removal, Result

if TYPE_CHECKING:
    from dedupe.pipeline import clean


def __getattr__(name: str) -> Any:
    """``clean`` is imported on first use: the command line starts its worker pool's server
    before it imports the pipeline (numpy, numba, ftfy: about a second)."""
    if name == "clean":
        from dedupe.pipeline import clean

        return clean
    raise AttributeError(f"module 'dedupe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "clean"})

__all__ = ["PRESETS", "Config", "ConfigError", "Document", "InputError", "Ref", "Removal",
           "Result", "clean", "preset"]
