"""Decoding algorithms; they talk to models through attnkit.protocols only."""

from attnkit.decoding.greedy import greedy_translate

__all__ = ["greedy_translate"]
