"""Named label sets for zero-shot tagging (and later detection): class ids, names and text prompts."""

from __future__ import annotations

from dataclasses import dataclass

from pixembed.errors import InvalidRequest


@dataclass(frozen=True)
class Label:
    """One class: its id as clients send it, its display name, and the prompt CLIP compares with."""

    id: int
    name: str
    prompt: str


@dataclass(frozen=True)
class LabelSet:
    """An ordered set of labels whose ids are their positions."""

    name: str
    labels: tuple[Label, ...]

    @property
    def prompts(self) -> list[str]:
        """The prompt of every label, in id order."""
        return [label.prompt for label in self.labels]

    def subset(self, ids: list[int]) -> list[Label]:
        """The labels with these ids, refusing unknown ones with a message that lists the valid range."""
        unknown = [i for i in ids if not 0 <= i < len(self.labels)]
        if unknown:
            raise InvalidRequest(
                f"unknown {self.name} class id(s) {unknown}: ids run from 0 to {len(self.labels) - 1}"
            )
        return [self.labels[i] for i in ids]


# The ten categories APIClaw's fashion detector reports, with its class ids (0=Bag ... 9=Watch).
FASHION = LabelSet(
    "fashion",
    (
        Label(0, "Bag", "a photo of a bag"),
        Label(1, "Cap", "a photo of a cap or hat"),
        Label(2, "Down-Clothing", "a photo of trousers, a skirt or shorts"),
        Label(3, "Glasses", "a photo of glasses"),
        Label(4, "Jewelry", "a photo of jewelry"),
        Label(5, "Others", "a photo of a fashion accessory"),
        Label(6, "Shoes", "a photo of shoes"),
        Label(7, "Sock", "a photo of socks"),
        Label(8, "Up-Clothing", "a photo of a shirt, top or jacket"),
        Label(9, "Watch", "a photo of a watch"),
    ),
)


def label_set_from_texts(texts: list[str]) -> LabelSet:
    """An ad-hoc label set whose names and prompts are the given texts, ids their positions."""
    if not texts or any(not t.strip() for t in texts):
        raise InvalidRequest("labels must be a non-empty list of non-empty texts")
    return LabelSet("labels", tuple(Label(i, t.strip(), t.strip()) for i, t in enumerate(texts)))
