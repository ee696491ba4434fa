"""Text from outside made safe to encode: no lone UTF-16 surrogates.

JSON may spell a character as a `\\ud800`-style escape without the other half of its pair, and
aiohttp decodes undecodable header bytes to surrogates. Python keeps such a string, but cannot
encode it as UTF-8: a label value, a log line or a page holding one fails to render.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, as a UTF-8 decoder would."""
    if text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)
