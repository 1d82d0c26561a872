"""A template with a system prompt: the packet in 16-bit words, the rules up front, hex back.

Hypothesis to test: writing the packet as 16-bit words (the units the checksum adds) makes the arithmetic
easier to follow. Only a real model can test it; the simulated model does not read a prompt's wording.
"""

NAME = "words-spec"
SYSTEM = ("You are the ICMP part of an IP stack. For an echo request, answer with the echo reply: swap the "
          "source and destination addresses, set the ICMP type to 0 (ICMPv6: 129), keep identifier, sequence "
          "and data, and recompute the checksums as RFC 1071 describes: add the 16-bit words, fold the carries "
          "back in, complement. Answer with the reply packet as hex and nothing else.")
STRATEGY = "Request (IPv{version}) in 16-bit words:\n{words}\nReply as hex:"
ANSWER = "hex"
