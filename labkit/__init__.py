"""labkit: Jupyter labs in which an LLM plays the part of an IP stack.

The package follows the data: packet -> prompt -> model -> parsed answer -> judge -> wire.
See docs/ARCHITECTURE.md for the floors and which module owns which stage.
"""

__version__ = "0.1.0"
