"""Floor 4: models turn a request packet into an Attempt. Pick one by name with get_model (see registry)."""

from labkit.models.base import Attempt, Completion, Model, Usage
from labkit.models.registry import describe_default, describe_model, get_model

__all__ = ["Attempt", "Completion", "Model", "Usage", "describe_default", "describe_model", "get_model"]
