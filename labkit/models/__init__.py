"""Floor 4: models turn a request packet into an Attempt. Pick one by name with get_model (see registry)."""

from labkit.models.base import Attempt, Completion, Model, Usage
from labkit.models.registry import choose_model, describe_default, describe_model, get_model

__all__ = ["Attempt", "Completion", "Model", "Usage", "choose_model", "describe_default", "describe_model", "get_model"]
