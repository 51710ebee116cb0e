"""dedupe: clean duplicated text out of scraped corpora, with an audit of every removal.

The public API::

    from dedupe import Config, clean

    for result in clean(["first doc...", {"id": "b", "text": "second doc..."}], Config()):
        if result.text is not None:
            print(result.text)
        for removal in result.removals:
            print(removal.reason, removal.text)
"""

from dedupe.config import PRESETS, Config, ConfigError, preset
from dedupe.io import InputError
from dedupe.model import Document, Ref, Removal, Result
from dedupe.pipeline import clean

__all__ = ["PRESETS", "Config", "ConfigError", "Document", "InputError", "Ref", "Removal",
           "Result", "clean", "preset"]
