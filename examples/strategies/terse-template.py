"""A prompt template: the shortest strategy a student can submit.

`{hex}` is where labkit puts the request; ANSWER says how the model's answer is read ("hex": the reply packet
as hex). Run it: labkit bench --strategy examples/strategies/terse-template.py
"""

NAME = "terse-template"
STRATEGY = ("IPv{version} echo request, {length} bytes: {hex}\n"
            "Write the echo reply packet as hex: swap the addresses, change the type, recompute every "
            "checksum. Hex only.")
ANSWER = "hex"
