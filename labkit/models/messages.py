"""Any server that speaks Anthropic's Messages API -- Ollama, llama.cpp's llama-server, vLLM, a
LiteLLM proxy -- through the unchanged `anthropic` SDK, named by one string that carries server and model.

Why a name and not environment variables: a class without an Anthropic key should reach a local open model
by changing one name, the same in the CLI, a notebook and $LABKIT_MODEL:

    messages:<model-id>@<base-url>        e.g. messages:qwen2.5:7b@http://localhost:11434

The model id may contain colons (Ollama's "qwen2.5:7b"); the URL starts at the first "@http://" or
"@https://". The base URL is what ANTHROPIC_BASE_URL would be (Ollama: no /v1). Credentials in the URL
(user:password@, ?query) are used for the connection but never shown: the model's name, errors and
recordings carry the URL without them.

The key: LABKIT_MESSAGES_API_KEY if set, else a placeholder ("local servers require a key but ignore it",
per Ollama's Anthropic-compatibility docs). ANTHROPIC_API_KEY is deliberately NOT sent: an Anthropic key has
no business going to another server. Cost: unknown -- labkit never prices a model it has no price for, so
the summary says "cost unknown", never an invented figure.
"""

from __future__ import annotations

import os
import re

from labkit.errors import LabkitError
from labkit.models.base import Completion
from labkit.models.claude import ClaudeModel
from labkit.models.http_retry import displayable_url

KEY_ENV = "LABKIT_MESSAGES_API_KEY"
PLACEHOLDER_KEY = "labkit-local-server"
_URL_START = re.compile(r"@(?=https?://)", re.IGNORECASE)
EXAMPLE = "messages:qwen2.5:7b@http://localhost:11434"


def split_name(rest: str) -> tuple[str, str]:
    """(model id, base URL) from what follows "messages:"; LabkitError naming the grammar when either is missing."""
    found = _URL_START.search(rest)
    if found is None:
        raise LabkitError(f"messages needs <model-id>@<http(s) URL>, e.g. {EXAMPLE}")
    model_id, url = rest[: found.start()].strip(), rest[found.end() :].strip()
    if not model_id:
        raise LabkitError(f"messages needs a model id before the @, e.g. {EXAMPLE}")
    if not re.match(r"https?://[^/\s]+", url, re.IGNORECASE):
        raise LabkitError(f"messages needs a server URL after the @, e.g. {EXAMPLE}")
    return model_id, url


def display_name(model_id: str, url: str) -> str:
    """The name shown and recorded: the URL without credentials."""
    return f"messages:{model_id}@{displayable_url(url)}"


class MessagesModel(ClaudeModel):
    """A model behind a Messages API server other than Anthropic's. Real answers, wall-clock latency, cost unknown."""

    key_env = KEY_ENV

    def __init__(self, model_id: str, base_url: str, **kw: object) -> None:
        super().__init__(model_id, base_url=base_url, **kw)  # type: ignore[arg-type]
        self.name = display_name(model_id, base_url)
        self.priced_as = ""

    def _api_key(self, given: str | None) -> str:
        return given if given is not None and given.strip() else os.environ.get(KEY_ENV, "").strip() or PLACEHOLDER_KEY

    def _base_url(self, given: str | None) -> str | None:
        return given

    def cost(self, completion: Completion) -> tuple[float, str]:
        """Unknown, whatever id the server reports: a local model has no list price, and none is invented."""
        return 0.0, ""

    def describe(self) -> str:
        return (
            f"{self.name} -- {self.model_id} served by a Messages API server at {self.base_url}: real "
            "answers, real latency, cost unknown (not priced)"
        )
