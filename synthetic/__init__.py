"""Synthetic daily deliveries per ../shared/spec/extracts.md, with planted audit-rule cases.

API: `generate(out, start, days, seed, encoding, scale)`; corrections for
re-delivery tests live in `synthetic.corrections`.
"""

from synthetic.generate import GenerationError, Result, generate, grain_key

__all__ = ["generate", "grain_key", "GenerationError", "Result"]
