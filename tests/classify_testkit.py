"""Sixty short texts on sports and on cooking with their labels: a set SmolLM2 and MiniLM both label well, large
enough for ``--method auto`` to ask the generator about a sample only."""

from __future__ import annotations

from itertools import product

LABELS = {"sports": "a text about sports", "cooking": "a text about cooking"}
SPORTS = [f"The {who} {did} in the {event}." for who, did, event in product(
    ["striker", "tennis champion", "goalkeeper", "marathon runner", "cyclist"],
    ["won the final", "scored twice", "trained hard for the race"],
    ["cup match", "championship"])]
COOKING = [f"{verb} the {food} {how}." for verb, food, how in product(
    ["Chop", "Simmer", "Roast", "Whisk", "Season"],
    ["onions", "tomato sauce", "chicken"],
    ["with garlic and butter", "for twenty minutes in the oven"])]
TEXTS = SPORTS + COOKING
GOLD = ["sports"] * len(SPORTS) + ["cooking"] * len(COOKING)


def accuracy(predicted: list[str]) -> float:
    """Share of :data:`TEXTS` whose predicted label is the gold one."""
    return sum(p == g for p, g in zip(predicted, GOLD, strict=True)) / len(GOLD)
