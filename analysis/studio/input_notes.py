"""Notes on input the model cannot read well: the tokenizer's [UNK] (emoji, most symbols and scripts outside the
English WordPiece vocabulary become one unknown token, which carries no meaning), and text that is mostly not
English (the model was fine-tuned on English sentences only)."""
from __future__ import annotations

UNK = "[UNK]"
FOREIGN_SHARE = 0.5  # letters outside ASCII beyond this share: probably not English


def non_ascii_share(text: str) -> float:
    """The share of the letters in `text` that are outside ASCII (0 without letters)."""
    letters = [c for c in text if c.isalpha()]
    return sum(not c.isascii() for c in letters) / len(letters) if letters else 0.0


def input_note(text: str, tokens: list[str]) -> str:
    """A warning line for the answer ('' when the input reads well): how many tokens were [UNK], and whether the
    text is mostly in another script or language."""
    notes = []
    unknown = sum(t == UNK for t in tokens)
    if unknown:
        notes.append(f"{unknown} of {len(tokens)} tokens are {UNK}: emoji and characters outside the model's English "
                     "vocabulary become one unknown token, so whatever they said (an emoji's sentiment) is lost.")
    if non_ascii_share(text) > FOREIGN_SHARE:
        notes.append("Most letters are not English (ASCII): the model was fine-tuned on English sentences only, so "
                     "its answer for other languages is unreliable.")
    return "".join(f"\n\n⚠️ {n}" for n in notes)
