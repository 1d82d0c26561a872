"""The reference stack as a model: what a perfect answer looks like, in every strategy's format.

It is code, not an LLM: always correct, no tokens, no cost, no latency (reported as 0 s of virtual time).
It lets a lab compare any model against the right answer through exactly the same prompt/parse path.
"""

from __future__ import annotations

from labkit.models.base import Completion, Model, Usage
from labkit.prompts import Prompt, Strategy
from labkit.stack import echo_reply

MODEL_ID = "reference-stack"
NO_REPLY = "No reply: the reference stack answers only ICMP and ICMPv6 echo requests, and this is not one."


class ReferenceModel(Model):
    """Answers with the reference stack's echo reply, written out by the strategy's render_answer."""

    name = "reference"
    model_id = MODEL_ID
    simulated = False
    virtual_time = True
    priced_as = ""

    def describe(self) -> str:
        return "reference -- the reference stack (deterministic code, not an LLM): always correct, 0 s, no cost"

    def cost(self, completion: Completion) -> tuple[float, str]:
        return 0.0, ""

    def complete(self, prompt: Prompt, strategy: Strategy, request: bytes) -> Completion:
        reply = echo_reply(bytes(request))
        text = NO_REPLY if reply is None else strategy.render_answer(reply, request)
        return Completion(text=text, usage=Usage(), latency_s=0.0, model_id=MODEL_ID, virtual_latency=True)
