"""Text -> token ids, and ids -> the words to put on an axis.

The checkpoint's own `tokenizer.json` through the `tokenizers` library when present; otherwise
UTF-8 bytes as ids (a fallback the UI and `.meta` state); a workbench run whose vocabulary is
smaller than 256 reads its text as whitespace-separated integer ids.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import SpecError


class TextTokenizer:
    kind = "tokenizer.json"

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as err:  # noqa: BLE001 - a broken tokenizer.json is the user's file
            raise SpecError("tokenizer.json", str(path), f"a file the tokenizers library reads ({err})") from None

    def encode(self, text: str) -> tuple[list[int], list[str]]:
        """(ids, words): each word is the text span its token covers (the token itself if it covers none)."""
        enc = self._tok.encode(text, add_special_tokens=False)
        words = [text[s:e] if e > s else t for t, (s, e) in zip(enc.tokens, enc.offsets)]
        return list(enc.ids), words


class ByteTokenizer:
    kind = "byte-level fallback (no tokenizer.json in the checkpoint)"

    def __init__(self, vocab_size: int):
        if vocab_size < 256:
            raise SpecError("tokenizer", "bytes", f"a vocabulary of ≥ 256 tokens (this model has {vocab_size})")

    def encode(self, text: str) -> tuple[list[int], list[str]]:
        ids = list(text.encode("utf-8"))
        return ids, [chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in ids]


class IdTokenizer:
    kind = "integer ids (vocabulary under 256 tokens: type whitespace-separated ids)"

    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size

    def encode(self, text: str) -> tuple[list[int], list[str]]:
        words = text.split()
        bad = [w for w in words if not w.isdigit() or int(w) >= self.vocab_size]
        if bad:
            raise SpecError("text", bad[0], f"whitespace-separated token ids in [0, {self.vocab_size})")
        return [int(w) for w in words], words


def tokenizer_for(folder: Path | None, vocab_size: int):
    if folder is not None and (folder / "tokenizer.json").exists():
        return TextTokenizer(folder / "tokenizer.json")
    return ByteTokenizer(vocab_size) if vocab_size >= 256 else IdTokenizer(vocab_size)
