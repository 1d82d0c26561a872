"""A small class with the same interface as the built-in strategies (labkit.prompts.Strategy).

`build` makes the prompt for one request; the answer is read as the built-in hex strategies read it (the
default `answer_to_reply`), so only the prompt is new: a checklist that names each field that changes.
Run it: labkit bench --strategy examples/strategies/checklist-class.py
"""

from labkit.packets import to_hex
from labkit.prompts import Prompt, Strategy


class Checklist(Strategy):
    name = "checklist"
    teaches = "a checklist of the fields that change, in the order a stack writes them"

    def build(self, request: bytes) -> Prompt:
        version = request[0] >> 4
        reply_type = 0 if version == 4 else 129
        user = (f"Echo request (IPv{version}): {to_hex(request)}\n"
                "Write the echo reply packet as hex. Checklist:\n"
                "1. source and destination addresses swapped;\n"
                f"2. ICMP type {reply_type}, code 0; identifier, sequence number and data copied unchanged;\n"
                "3. checksums recomputed (RFC 1071) after 1 and 2.\n"
                "Answer with the hex only.")
        return Prompt(system="", user=user, max_tokens=self.max_tokens(request))
