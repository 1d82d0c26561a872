"""Write the teaching notebooks (notebooks/NN-*.ipynb) from the cell texts below.

Why a generator: the prose and code of the series live in one reviewable Python file, and every
notebook gets the same opening (learning goals) and closing (summary) shape. The committed .ipynb
files are the product: after building, execute them so they carry outputs:

    python scripts/build_notebooks.py            # writes notebooks without outputs
    python scripts/build_notebooks.py --execute  # ... and runs them (offline, simulated model)

Execution uses the offline default (LABKIT_MODEL and ANTHROPIC_API_KEY removed), so the committed
outputs are exactly what CI and every reader see.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str):
    return new_code_cell(textwrap.dedent(text).strip("\n"))


PRECURSOR = (
    "Adam Dunkels (author of the lwIP and uIP embedded TCP/IP stacks), "
    "*How Fast Does Claude, Acting as a User Space IP Stack, Respond to Pings?* (May 2026)"
)

NOTEBOOK_SPECS: dict[str, list] = {}


def notebook(name: str):
    def register(builder):
        NOTEBOOK_SPECS[name] = builder
        return builder
    return register


# --------------------------------------------------------------------------------------------- 00
@notebook("00-setup")
def nb00():
    return [
        md(f"""
        # 00 · Setup: a language model as an IP stack

        **Learning goals**
        - know what this series is about: a large language model playing the part of a network stack;
        - check that your environment has what the labs need;
        - choose the model the labs will talk to — Claude (with a key), a recording (replay), or the
          **simulated** model that runs offline — and always know which one you are looking at.
        """),
        md(f"""
        ## The experiment behind the series

        A ping is the smallest conversation on the Internet: an ICMP *Echo Request* goes out, an *Echo Reply*
        comes back, and the kernel answers in well under a millisecond. The seed experiment of this series
        replaced that kernel code with a language model:

        1. a raw socket captures the Echo Request;
        2. the packet becomes a hex string inside a prompt;
        3. Claude answers with the Echo Reply as hex — addresses swapped, type 8 turned into 0, checksums recomputed;
        4. Python turns the answer back into bytes and puts it on the wire.

        It worked — sometimes. Each ping took **2–5 seconds** instead of a fraction of a millisecond, and when
        the model *hallucinated a single hex digit*, the checksum no longer matched and the receiving kernel
        silently dropped the reply.

        A public precursor went further: {PRECURSOR} drove Claude Code over a TUN device, with no calculator
        allowed, so the model had to do the checksum arithmetic itself. One ping with Claude Haiku 4.5 took
        **42,593 ms**.

        These labs let you repeat and dissect that experiment: read the bytes, compute the checksum by hand,
        ask a model, judge its answer byte by byte, compare prompt strategies, and put a model on a (virtual)
        wire.
        """),
        md("""
        ## 1. Check the environment

        The next cell prints versions and what this machine allows. Its output differs from machine to
        machine (that is its point), so the automatic notebook tests do not compare it.
        """),
        code("""
        # NBVAL_IGNORE_OUTPUT
        # output not compared by the notebook tests: versions, root and tshark differ between machines
        import os, platform, shutil
        import labkit, scapy, matplotlib, pandas, ipywidgets

        print("Python    ", platform.python_version())
        for module in (labkit, scapy, matplotlib, pandas, ipywidgets):
            print(f"{module.__name__:10}", module.__version__)
        print("root      ", "yes" if os.geteuid() == 0 else "no (fine: only the live half of notebook 08 needs root)")
        print("tshark    ", shutil.which("tshark") or "not installed (fine: notebook 07 falls back to scapy)")
        print("API key   ", "set" if os.environ.get("ANTHROPIC_API_KEY") else "not set (fine: the simulated model works offline)")
        """),
        md("""
        *No root?* Fine: everything except the live part of notebook 08 runs without it. *No tshark?* Notebook 07
        falls back to scapy's own decoding.

        ## 2. Choose the model

        labkit talks to every model through one interface, `get_model(name)`. The names:

        | name | what answers | needs |
        |---|---|---|
        | `simulated` (`simulated:SEED`) | an offline stand-in that makes the mistakes LLMs make on this task, at rates labkit assumes (not measured), with the seed experiment's 2–5 s latency in *virtual* time | nothing |
        | `claude` (`claude:MODEL-ID`) | Anthropic's Claude through the API | an API key |
        | `record:FILE:claude` | Claude, and every exchange is written to FILE | an API key |
        | `replay:FILE` | a recording made earlier, answered from FILE | the file |
        | `reference` | labkit's reference stack (answers like Linux) | nothing |

        **The rule of these labs: simulated output always says *simulated*.** Everything it produces is
        labelled, so you never mistake it for something Claude said.

        If you have an Anthropic API key, set `ASK_FOR_KEY = True` in the next cell and run it: you are asked for
        the key with hidden input, and it goes straight to the API client in this kernel's memory — never printed,
        never written to the notebook, an environment variable or a recording. The switch is off
        (`ASK_FOR_KEY = False`) so that the notebook also runs unattended — in CI, on Binder, in the automatic
        tests — where nobody could type a key. To replay a recording someone made with a key, name it in
        `RECORDING` instead.
        """),
        code(MODEL_CHOICE_CODE),
        md("""
        With no key and no recording, the model is the **simulated** one, and the banner above says so. That is
        what the saved outputs of every notebook in this series show, so that everyone — in class, on Binder,
        in CI — sees the same text.

        The key you typed lives in this kernel only. Each notebook runs in its own kernel, so the notebooks that
        talk to a model (04–10) have the same cell with the same switch; or start Jupyter with `ANTHROPIC_API_KEY`
        and `LABKIT_MODEL=claude` in the environment, and every notebook uses Claude.

        ## 3. One ping through the chosen model

        A smoke test of the whole pipeline: build a request, ask the model, judge the answer.
        """),
        code("""
        from labkit.packets import echo_request
        from labkit.judge import judge

        request = echo_request()
        attempt = model.attempt(request, "zero-shot")
        verdict = judge(request, attempt.reply)
        print(f"model    : {attempt.model} (simulated: {attempt.simulated})")
        print(f"latency  : {attempt.latency_s * 1000:,.0f} ms")
        print(f"verdict  : {verdict.reason}")
        """),
        md("""
        ## Exercise

        Every notebook has an exercise like this one: replace `None` with your answer and run the cell. The check
        says ✓, or ✗ with a hint. (The saved notebook shows the hint for `None`.)

        The first hex digit of every IPv4 packet is its version. What is the version of `request` above?
        """),
        code("""
        from labkit import exercises

        answer = None  # your answer here
        exercises.check_hex_field(request, "ip.version", answer)
        """),
        md("""
        ## Summary

        - The series follows one experiment: a ping answered by a language model instead of kernel code.
        - The seed experiment took 2–5 s per ping; the precursor, with no calculator, 42,593 ms — and one wrong
          hex digit was enough for the reply to be dropped.
        - `get_model` gives you Claude, a recording, the reference stack or the **simulated** model; simulated
          output always says so.

        Next: **01 · hexdump** — what an Echo Request looks like as bytes.
        """),
    ]


# --------------------------------------------------------------------------------------------- 01
@notebook("01-hexdump")
def nb01():
    return [
        md("""
        # 01 · An Echo Request, byte by byte

        **Learning goals**
        - build an ICMP Echo Request (labkit uses scapy for that);
        - see it the two ways people see packets: a hex string (what the model gets) and a hexdump (what
          you read);
        - read the first bytes by hand: version, header length, addresses, ICMP type.
        """),
        md("""
        ## 1. Build a request

        `echo_request()` builds what `ping 10.0.0.2` sends from 10.0.0.1: an IPv4 header, an ICMP header and
        56 bytes of payload (like Linux `ping`: 8 bytes of timestamp — zero here, so the packet is the same every
        time — then the bytes 0x10, 0x11, ...).
        """),
        code("""
        from labkit.packets import echo_request, to_hex, from_hex, hexdump

        request = echo_request(src="10.0.0.1", dst="10.0.0.2", ident=0x1234, seq=1)
        len(request)
        """),
        md("""
        84 bytes: 20 bytes of IPv4 header, 8 bytes of ICMP header, 56 bytes of data.

        ## 2. As a hex string — what the model sees

        In the experiment, this string is pasted into the prompt. Two hex digits per byte, 168 digits in all:
        every single one has to come back right (or be changed on purpose).
        """),
        code("""
        to_hex(request)
        """),
        md("""
        ## 3. As a hexdump — what people read

        Sixteen bytes a row (split 8 + 8), the offset on the left, printable characters on the right.
        """),
        code("""
        print(hexdump(request))
        """),
        md("""
        ## 4. Read it by hand

        - **Byte 0, `45`**: two 4-bit fields. The high nibble is the *version* (4), the low one the *header
          length* in 32-bit words (5 × 4 = 20 bytes, no options).
        - **Bytes 2–3, `00 54`**: the total length, 0x54 = 84 bytes.
        - **Byte 8, `40`**: the time to live, 64.
        - **Byte 9, `01`**: the protocol, 1 = ICMP.
        - **Bytes 12–15 and 16–19**: source and destination addresses, `0a 00 00 01` = 10.0.0.1 and
          `0a 00 00 02` = 10.0.0.2.
        - **Byte 20, `08`**: where the IP header ends, ICMP begins: type 8 = Echo Request.
        """),
        code("""
        version, header_words = request[0] >> 4, request[0] & 0x0F
        print("version      :", version)
        print("header length:", header_words * 4, "bytes")
        print("total length :", int.from_bytes(request[2:4], "big"), "bytes")
        print("source       :", ".".join(str(b) for b in request[12:16]))
        print("destination  :", ".".join(str(b) for b in request[16:20]))
        print("ICMP type    :", request[20])
        """),
        md("""
        scapy, the packet library labkit builds on, decodes the same bytes into named fields — a good way to
        check your reading:
        """),
        code("""
        from scapy.layers.inet import IP

        IP(request).show()
        """),
        md("""
        ## 5. Back from hex

        `from_hex` turns a hex string back into bytes. It is strict on purpose: whitespace is fine, anything else
        is an error with a message that says where. (Model answers are messier; notebook 04 shows the tolerant
        parser for those.)
        """),
        code("""
        assert from_hex(to_hex(request)) == request
        try:
            from_hex("45 00 00 5g")
        except ValueError as error:
            print("ValueError:", error)
        """),
        md("""
        ## Exercises

        1. The ICMP header starts at byte 20. Bytes 24–25 hold the *identifier* that `ping` uses to recognise its
           own replies. What is it? (Hex like `"12 34"` or a number both work.)
        """),
        code("""
        from labkit import exercises

        answer = None  # your answer here
        exercises.check_hex_field(request, "icmp.id", answer)
        """),
        md("""
        2. Which field holds byte 8 (the ninth byte, `40`)?
        """),
        code("""
        answer = None  # your answer here, a field name such as "protocol"
        exercises.check_which_field(request, 8, answer)
        """),
        md("""
        ## Summary

        - A ping is 84 bytes here: IPv4 header (20), ICMP header (8), data (56).
        - The model sees it as 168 hex digits; people read it as a hexdump.
        - Fields sit at fixed offsets: byte 0 holds version and header length, bytes 12–19 the addresses, byte 20
          the ICMP type.

        Next: **02 · anatomy** — every field, and what the kernel checks before it accepts a reply.
        """),
    ]


# --------------------------------------------------------------------------------------------- 02
@notebook("02-anatomy")
def nb02():
    return [
        md("""
        # 02 · Anatomy of a ping

        **Learning goals**
        - name every IPv4 and ICMP field of an Echo Request and find it in the bytes;
        - see which fields an Echo Reply changes, and which it copies;
        - know what the receiving kernel checks — the test every model answer has to pass.
        """),
        code("""
        from labkit.packets import echo_request
        from labkit.fields import field_map
        from labkit.widgets import PacketView

        request = echo_request()
        PacketView(request)
        """),
        md("""
        *PacketView* colours each byte by the field it belongs to; hover or click a byte (in a live notebook) to
        see the field's name and decoded value. The same map as a table:
        """),
        code("""
        import pandas as pd

        pd.DataFrame(
            [(f.name, f.offset, f.length, f.describe()) for f in field_map(request)],
            columns=["field", "offset", "length", "value"],
        )
        """),
        md("""
        ## The reply: what changes, what is copied

        labkit's *reference stack* answers like Linux does. Compare its reply to the request field by field.
        """),
        code("""
        from labkit.stack import echo_reply

        reply = echo_reply(request)
        before = {f.name: f.describe() for f in field_map(request)}
        after = {f.name: f.describe() for f in field_map(reply)}
        pd.DataFrame(
            [(name, before[name], after.get(name), "changed" if before[name] != after.get(name) else "copied")
             for name in before],
            columns=["field", "request", "reply", ""],
        )
        """),
        md("""
        Only a handful of fields change: the **addresses swap**, the **type** goes from 8 to 0, and the **ICMP
        checksum** is recomputed. The IP header checksum has to be recomputed too — yet in the table it did not
        change: swapping two addresses leaves the sum of the header's words the same (notebook 03 shows why).
        Everything else — identifier, sequence number, all 56 data bytes — is copied.

        That split is the heart of the series: **copying is easy for a language model; arithmetic is hard**.

        ## What the kernel checks

        When a reply arrives, Linux drops it silently unless:

        1. the IP version is 4 and the header length is sane;
        2. the **IP header checksum** is right;
        3. the destination is one of its addresses, and the protocol is ICMP;
        4. the **ICMP checksum** (over the ICMP header and the data) is right;
        5. the type is 0 (Echo Reply), and the identifier belongs to a `ping` that is waiting — which then matches
           the sequence number and prints a line.

        `labkit.checksum.verify` runs the two checksum checks:
        """),
        code("""
        from labkit.checksum import verify

        for check in verify(reply):
            print(f"{check.name:12} found 0x{check.found:04x}  expected 0x{check.expected:04x}  ok={check.ok}")
        """),
        md("""
        labkit's judge runs the whole list, in the kernel's order, and says why Linux would drop a reply. Three
        replies, each broken in one way:
        """),
        code("""
        from labkit.judge import judge

        def broken(offset, value):
            packet = bytearray(reply)
            packet[offset] = value
            return bytes(packet)

        unswapped = reply[:12] + reply[16:20] + reply[12:16] + reply[20:]
        for what, packet in {"correct reply": reply,
                             "one bit off in the IP checksum": broken(10, reply[10] ^ 0x01),
                             "type left at 8": broken(20, 8),
                             "addresses not swapped": unswapped}.items():
            print(f"{what:32} -> {judge(request, packet).reason}")
        """),
        md("""
        "Type left at 8" is reported as a checksum error: changing the type changes the sum, so the first check
        that fails is the checksum — the kernel never even looks at the type.
        """),
        md("""
        ## Exercises

        1. Which field holds bytes 22–23 of the request? (Give the field of byte 22.)
        """),
        code("""
        from labkit import exercises

        answer = None  # your answer here, a field name
        exercises.check_which_field(request, 22, answer)
        """),
        md("""
        2. Do the first step of a reply by hand: take the request and swap source and destination (bytes 12–15 and
           16–19). Slicing is enough, e.g. `request[:12] + ... + request[20:]`.
        """),
        code("""
        answer = None  # your answer here: the request with the two addresses swapped
        exercises.check_swap(request, answer)
        """),
        md("""
        ## Summary

        - An Echo Request is 28 header bytes in 17 named fields, plus data.
        - An Echo Reply swaps the addresses, sets type 0, recomputes two checksums and copies everything else.
        - The kernel drops a reply with a wrong checksum without telling anyone: to `ping`, a reply with one bad
          byte looks exactly like no reply at all.

        Next: **03 · checksum by hand** — the arithmetic the model has to get right.
        """),
    ]


# --------------------------------------------------------------------------------------------- 03
@notebook("03-checksum-by-hand")
def nb03():
    return [
        md("""
        # 03 · The internet checksum, by hand

        **Learning goals**
        - compute the RFC 1071 checksum step by step: 16-bit words, one's-complement sum, end-around carry,
          complement;
        - verify a checksum, and see one flipped bit break it;
        - see what the checksum cannot detect.
        """),
        md("""
        ## 1. The recipe (RFC 1071)

        1. Set the checksum field to zero.
        2. Cut the bytes into 16-bit big-endian words (pad an odd byte with zero).
        3. Add them up. Whenever the sum overflows 16 bits, take the carry and **add it back at the bottom**
           (the *end-around carry*).
        4. Complement every bit of the result. That is the checksum.

        The receiver adds up everything *including* the checksum; the result must be 0xffff.

        Here is the ICMP part of the reply from notebook 02 (header and data, checksum zeroed), traced step by step:
        """),
        code("""
        from labkit.packets import echo_request, hexdump
        from labkit.stack import echo_reply
        from labkit.checksum import trace, verify, internet_checksum

        reply = echo_reply(echo_request())
        icmp = bytearray(reply[20:])
        icmp[2:4] = b"\\x00\\x00"          # step 1: zero the checksum field
        lines = trace(bytes(icmp)).lines()
        print("\\n".join(lines[:8] + ["    ... (the walkthrough below shows every step)"] + lines[-6:]))
        """),
        md("""
        That is 32 additions for a model to do in its head, each a 4-digit hex sum, with carries. A person with
        pencil and paper gets one wrong now and then; so does a model that predicts digits rather than computes
        them.

        The walkthrough below shows the same steps one at a time: press *next* and watch the running sum, with
        the two bytes each step reads highlighted in the packet's field colours. (In a saved notebook without a
        kernel you see its text form.)
        """),
        code("""
        from labkit.widgets import ChecksumWalkthrough

        ChecksumWalkthrough.for_packet(reply, "icmp.chksum")
        """),
        md("""
        ## 2. Your turn

        The IPv4 header of the reply, with its checksum zeroed, is these ten words. Add them with end-around
        carry and complement the result. (Use Python as a calculator if you like: `0x4500 + 0x0054`, `~x & 0xffff`.)
        """),
        code("""
        header = bytearray(reply[:20])
        header[10:12] = b"\\x00\\x00"
        print(" ".join(f"{header[i]:02x}{header[i + 1]:02x}" for i in range(0, 20, 2)))
        """),
        code("""
        from labkit import exercises

        answer = None  # your answer here, e.g. 0x1234
        exercises.check_checksum(bytes(header), answer)
        """),
        md("""
        ## 3. Check, then flip one bit

        `verify` recomputes each checksum and compares. The reply is correct:
        """),
        code("""
        def show(packet):
            for check in verify(packet):
                status = "ok" if check.ok else "WRONG - Linux drops this packet"
                print(f"{check.name:12} found 0x{check.found:04x}  expected 0x{check.expected:04x}  {status}")

        show(reply)
        """),
        md("""
        Now flip **one bit** of the data — the kind of error a model makes when it writes `3` instead of `2` in
        one of 168 hex digits:
        """),
        code("""
        damaged = bytearray(reply)
        damaged[40] ^= 0x01             # one bit, in the data
        show(bytes(damaged))
        """),
        md("""
        One bit in the data changes one word of the ICMP sum, so the ICMP check fails; the IP header check still
        passes because the header did not change. `ping` would print nothing for this sequence number.

        ## 4. What the checksum cannot see

        The one's-complement sum does not care about *order*. Swap two 16-bit words and the checksum is still
        right — which is also why swapping the source and destination addresses leaves the IP header checksum
        unchanged:
        """),
        code("""
        swapped = bytearray(reply)
        swapped[40:42], swapped[42:44] = reply[42:44], reply[40:42]
        show(bytes(swapped))
        print("same bytes?", bytes(swapped) == reply)
        """),
        md("""
        The packet is wrong but passes. Checksums catch the *typical* transmission error (a flipped bit, a burst),
        not every error — and not a model that confidently reorders data. labkit's judge (notebook 05) therefore
        compares every byte with the reference, not just the checksums.

        ## Exercise: be the model

        Now do what the model is asked to do: write the whole Echo Reply to `request` as hex. Start from
        `to_hex(request)`, change what must change (notebook 02), and recompute both checksums (`trace` or
        `internet_checksum` may help — the model has neither). The check judges your answer exactly as it judges
        a model's.
        """),
        code("""
        from labkit.packets import to_hex

        request = echo_request()
        print(to_hex(request))
        """),
        code("""
        answer = None  # your answer here: the reply as a hex string
        exercises.check_echo_reply(request, answer)
        """),
        md("""
        ## Summary

        - The internet checksum is a one's-complement sum of 16-bit words, with end-around carry, complemented.
        - One flipped bit breaks it, so one hallucinated hex digit gets a reply dropped.
        - It cannot see reordered words (or errors that cancel): a checksum that passes is not proof of a
          correct packet.

        Next: **04 · asking Claude** — the prompt of the original experiment, and what comes back.
        """),
    ]


# --------------------------------------------------------------------------------------------- 04
MODEL_CHOICE_MD = """
    **Which model?** The next cell chooses as notebook 00 explains: Claude if you type a key (set
    `ASK_FOR_KEY = True`), a recording if you name one, otherwise the offline **simulated** model. The saved
    outputs come from the simulated model, and its banner says so.
    """

MODEL_CHOICE_CODE = """
    from labkit.models import choose_model

    ASK_FOR_KEY = False   # True: type an Anthropic API key and use Claude (kept in memory only, never printed)
    RECORDING = None      # e.g. "class.jsonl": replay a recorded session instead

    model = choose_model(ask_for_key=ASK_FOR_KEY, recording=RECORDING)
    print(model.describe())
    """


@notebook("04-asking-claude")
def nb04():
    return [
        md(f"""
        # 04 · Asking a model for the reply

        **Learning goals**
        - read the prompt of the original experiment;
        - send one request and look at the model's raw text;
        - turn that text back into bytes, and judge them.

        The seed experiment asked Claude, in one message, to answer an Echo Request given as hex. {PRECURSOR}
        made the same demand of Claude Code over a TUN device, without a calculator. This notebook makes one such
        attempt and looks at every step.
        """),
        md(MODEL_CHOICE_MD),
        code(MODEL_CHOICE_CODE),
        md("""
        ## 1. The prompt

        The *zero-shot* strategy is the original experiment's prompt: a short instruction and the request hex.
        No examples, no specification — the model must know what an Echo Reply is, and compute two checksums.
        """),
        code("""
        from labkit.packets import echo_request
        from labkit.prompts import get_strategy

        request = echo_request()
        strategy = get_strategy("zero-shot")
        prompt = strategy.build(request)
        print(prompt.text())
        """),
        md("""
        ## 2. One attempt

        `model.attempt` builds the prompt, sends it, and parses the answer. The `Attempt` keeps everything: the
        raw text, the reply bytes (or why they could not be parsed), the latency, the tokens and the cost.
        """),
        code("""
        attempt = model.attempt(request, strategy)
        print(f"model     : {attempt.model}   (model id: {attempt.model_id}, simulated: {attempt.simulated})")
        print(f"latency   : {attempt.latency_s * 1000:,.0f} ms")
        print(f"tokens    : {attempt.usage.input_tokens} in, {attempt.usage.output_tokens} out")
        print(f"cost      : ${attempt.cost_usd:.5f}")
        print()
        print("raw text:")
        print(attempt.raw_text)
        """),
        md("""
        With the offline default this is the **simulated** model: labkit's stand-in that writes answers in the
        format a model would and makes the kinds of mistakes LLMs make on this task, at rates labkit assumes
        rather than measured, with a *virtual* latency so that no one waits. It is not Claude's output, and it says so in `attempt.model` and `attempt.simulated`. With a key,
        the same cell shows what Claude actually wrote.

        ## 3. From text to bytes

        Model answers are text: code fences, spaces, `0x` prefixes, a sentence before and after. `extract_hex`
        finds the hex in it — tolerant of layout, strict about the digits themselves (a `g` inside the hex, or an
        odd number of digits, is an error, not something to guess around).
        """),
        code("""
        from labkit.parse import extract_hex

        from labkit.packets import hexdump

        parsed = strategy.answer_to_reply(attempt.raw_text, request)
        if parsed.ok:
            print(f"{len(parsed.data)} bytes:")
            print(hexdump(parsed.data))
        else:
            print("no usable reply:", parsed.error)
        """),
        code("""
        from labkit.packets import to_hex
        from labkit.stack import echo_reply

        good = to_hex(echo_reply(request))
        answers = {
            "chatty, fenced": f"Sure! Here is the echo reply:\\n```hex\\n{good}\\n```\\nAddresses swapped, checksums recomputed.",
            "0x-prefixed": " ".join("0x" + good[i:i + 2] for i in range(0, len(good), 2)),
            "letter O for zero": f"FINAL: {good[:40]}O{good[41:]}",
            "a digit missing": good[:-1],
            "prose only": "I cannot send packets, but the reply would swap 10.0.0.1 and 10.0.0.2 and set the type to 0.",
        }
        for label, text in answers.items():
            result = extract_hex(text)
            print(f"{label:18} -> {f'{len(result.data)} bytes' if result.ok else result.error}")
        """),
        md("""
        Refusing to guess matters: if the parser "fixed" the letter O or the missing digit, it would invent a byte
        the model never wrote — and then the judge would be judging the parser, not the model.
        """),
        md("""
        ## 4. The verdict

        The judge compares the reply with what the reference stack would send, byte by byte and field by field,
        and runs the kernel's checks. Its one-line `reason` is what matters on the wire: would Linux `ping`
        accept this?
        """),
        code("""
        from labkit.judge import judge

        verdict = judge(request, attempt.reply)
        print(verdict.reason)
        print("bytes that differ from the reference:", list(verdict.hallucinated))
        """),
        md("""
        ## Exercise

        Suppose the judge reports that a reply differs from the reference at byte 22 only. Which field did the
        model get wrong — and is that a *copying* or an *arithmetic* mistake?
        """),
        code("""
        from labkit import exercises
        from labkit.stack import echo_reply

        answer = None  # your answer here, a field name
        exercises.check_which_field(echo_reply(request), 22, answer)
        """),
        md("""
        ## Summary

        - The original prompt is short: an instruction and 168 hex digits.
        - An `Attempt` records the raw text, the parsed reply, latency, tokens and cost — and whether it came from
          a simulated model.
        - Text becomes bytes through a tolerant-but-strict parser; bytes become a verdict through the judge.

        Next: **05 · hallucinated bytes** — many attempts, and which bytes go wrong.
        """),
    ]


# --------------------------------------------------------------------------------------------- 05
@notebook("05-hallucinated-bytes")
def nb05():
    return [
        md("""
        # 05 · Hallucinated bytes

        **Learning goals**
        - judge many attempts and see *where* answers go wrong;
        - read a byte diff between a model's reply and the correct one;
        - explain the pattern: copying is easy, arithmetic is hard.
        """),
        md(MODEL_CHOICE_MD),
        code(MODEL_CHOICE_CODE),
        md("""
        ## 1. Forty pings

        One attempt tells you little; a model that is right 80% of the time looks perfect half the time you try
        it twice. Ask the model forty times (sequence numbers 1 to 40) and judge every answer:
        """),
        code("""
        from labkit.packets import echo_request
        from labkit.judge import judge

        attempts = [model.attempt(echo_request(seq=seq), "zero-shot") for seq in range(1, 41)]
        verdicts = [judge(a.request, a.reply) for a in attempts]
        print(f"{sum(v.accepted for v in verdicts)} of {len(verdicts)} replies would be accepted by Linux ping")
        for seq, verdict in enumerate(verdicts, start=1):
            if not verdict.accepted:
                print(f"  seq {seq:2}: {verdict.reason}")
        """),
        md("""
        ## 2. One failure, byte by byte

        Take the first rejected answer and compare it with the reference reply. Marked bytes differ; hover one
        (in a live notebook) to see which field it belongs to.
        """),
        code("""
        from labkit.widgets import DiffView

        first_failure = next(a for a, v in zip(attempts, verdicts) if not v.accepted)
        DiffView.from_attempt(first_failure)
        """),
        md("""
        ## 3. Many attempts, all kinds of pings

        `run_bench` goes further: 300 varied requests — payloads from 0 to 1472 bytes, different patterns,
        identifiers, TOS and TTL values, some IPv6 — each answered and judged. The simulated model runs in virtual
        time, so this takes seconds; with Claude it would take a while and cost money (notebook 09).
        """),
        code("""
        from labkit.bench import run_bench, summarise

        results = run_bench([model], ["zero-shot"], n=300)
        summarise(results)[["model", "strategy", "n", "valid_rate", "accept_rate", "byte_error_rate",
                            "top_wrong_fields"]]
        """),
        md("""
        The judge also gives a verdict per field. The share of attempts in which each field was wrong:
        """),
        code("""
        field_errors = results["wrong_fields"].explode().dropna().value_counts() / len(results)
        field_errors.rename("share of attempts wrong").head(10).to_frame()
        """),
        code("""
        %matplotlib inline
        from labkit.plots import field_error_heatmap

        field_error_heatmap(results)
        """),
        md("""
        (An answer that could not be parsed at all — cut off, or prose instead of hex — counts as wrong in every
        field; that is the small floor under all the rows.)

        **Careful: these are the simulated model's numbers.** Its error rates are assumptions built into labkit,
        modelled on what the original experiment reported — not measurements of Claude. Run this notebook with a
        key or a recording to measure the real thing. The pattern it was built to reproduce:

        - **Checksums** are wrong about as often as the whole data — yet a checksum is 2 bytes and the data is 56
          to 1472. Per byte, the computed fields fail far more often than the copied ones. A checksum is the
          result of 30-odd additions with carries; a model that predicts the next digit has no adder, and one
          wrong digit is a wrong checksum.
        - **Copied bytes** — identifier, sequence number, data — are nearly always right: copying a run of hex
          digits is what language models are good at. When they slip, it is a digit here or there in a long run.
        - **Swapped addresses** are usually right: a small, well-known rearrangement.

        And a wrong checksum is fatal: the kernel drops the reply silently. One bad digit in 168 costs the whole ping.

        ## Exercise

        The diff in section 2 marks the bytes the model got wrong. Which field holds the first marked byte?
        """),
        code("""
        from labkit import exercises

        first_marked = DiffView.from_attempt(first_failure).marked_offsets[0]
        print("first marked byte:", first_marked)
        answer = None  # your answer here, a field name
        exercises.check_which_field(first_failure.request, first_marked, answer)
        """),
        md("""
        ## Summary

        - Judging many attempts shows a clear pattern: copied bytes survive, computed bytes (checksums) break.
        - A byte diff shows exactly where; a per-field table shows how often.
        - Because the kernel checks checksums, an error in *any* computed digit makes the reply disappear.

        Next: **06 · prompt strategies** — can a better prompt fix the arithmetic?
        """),
    ]


# --------------------------------------------------------------------------------------------- 06
@notebook("06-prompt-strategies")
def nb06():
    return [
        md("""
        # 06 · Prompt strategies

        **Learning goals**
        - know six ways of asking for the same reply, and what each teaches;
        - compare them in one table and two plots;
        - see what tool use changes: the model stops doing arithmetic.
        """),
        md(MODEL_CHOICE_MD),
        code(MODEL_CHOICE_CODE),
        md("""
        ## 1. The strategies
        """),
        code("""
        from labkit.prompts import STRATEGIES

        for name, strategy in STRATEGIES.items():
            print(f"{name}\\n    {strategy.teaches}\\n")
        """),
        md("""
        ## 2. One request, six prompts

        Prompts differ a lot in size, and input tokens cost money (notebook 09). Prompt lengths for the same
        request:
        """),
        code("""
        import pandas as pd
        from labkit.packets import echo_request

        request = echo_request()
        pd.DataFrame(
            [(name, len(s.build(request).text()), len(s.build(request).tools)) for name, s in STRATEGIES.items()],
            columns=["strategy", "prompt characters", "tools"],
        ).set_index("strategy")
        """),
        md("""
        ## 3. Compared

        100 attempts per strategy, each judged. (Simulated, virtual time: a few seconds.)
        """),
        code("""
        from labkit.bench import run_bench, summarise

        results = run_bench([model], list(STRATEGIES), n=100)
        summary = summarise(results)
        summary[["strategy", "n", "accept_rate", "accept_lo", "accept_hi", "top_wrong_fields", "latency_p50_s",
                 "input_tokens_mean", "output_tokens_mean", "cost_per_reply_usd"]]
        """),
        md("""
        **These are the simulated model's numbers**: its error rates per strategy are assumptions built into labkit
        (how much each strategy is *expected* to help), not measurements of Claude. The table shows how to compare
        strategies; run it with a key or a recording to get real numbers. Token counts are estimates too, and the
        latencies are virtual.
        """),
        code("""
        %matplotlib inline
        from labkit.plots import success_by_strategy, latency_cdf

        success_by_strategy(results)
        """),
        code("""
        latency_cdf({strategy: group["latency_s"] for strategy, group in results.groupby("strategy", sort=False)})
        """),
        md("""
        ## 4. What tool use changes

        With *tool use*, the prompt offers the model a checksum tool. The model still decides what the reply is —
        which fields change, and to what (type, addresses) — and calls the tool with those decisions; labkit
        builds that packet, runs the RFC 1071 code and hands back the checksums, which the model copies into a
        small JSON answer. The decisions are the model's, the arithmetic is code's. That removes the most common
        failure of notebook 05, at the price of an extra round trip (the tool call) per reply. Below: one
        attempt, and the model's final answer.
        """),
        code("""
        tool_use = STRATEGIES["tool-use"]
        attempt = model.attempt(request, tool_use)
        print(attempt.summary())
        print(f"tool calls: {attempt.tool_calls}")
        print(attempt.raw_text)
        """),
        md("""
        Neither the seed experiment nor the precursor gave the model a calculator — Dunkels ruled one out on
        purpose, so the model had to add the words itself, and his one ping took 42.6 seconds. Tool use is the
        obvious fix, and also the first step towards not needing the model at all.

        ## Exercise: be the tool

        With *tool use*, the model tells the tool what the reply should be, and the tool builds the packet and
        computes its checksums. Be that tool: here are the ICMP bytes of the reply it builds (type 0, checksum
        field zeroed while summing). What checksum goes into bytes 2–3?
        """),
        code("""
        from labkit import exercises
        from labkit.packets import hexdump

        icmp = bytearray(echo_request()[20:])
        icmp[0] = 0                    # type 0: echo reply
        icmp[2:4] = b"\\x00\\x00"        # checksum zeroed while summing
        print(hexdump(bytes(icmp)))
        answer = None  # your answer here, e.g. 0x1234
        exercises.check_checksum(bytes(icmp), answer)
        """),
        md("""
        ## Summary

        - Strategies trade prompt size (cost, latency) against accuracy.
        - Each strategy aims at one weakness: specifications and examples at knowing *what* to change; step-by-step
          at the arithmetic (by writing it out); fields-only at output length and copying; tool use at the
          arithmetic (by taking it away).
        - Tool use helps most with checksums because it takes the arithmetic away from the model.

        Next: **07 · pcap mode** — answering a whole capture and opening it like Wireshark.
        """),
    ]


# --------------------------------------------------------------------------------------------- 07
@notebook("07-pcap-mode")
def nb07():
    return [
        md("""
        # 07 · pcap mode: answer a capture

        **Learning goals**
        - answer every request in a packet capture with a model, offline;
        - open the result the way Wireshark would;
        - see the round-trip times a model causes.

        This is the part of the series that runs anywhere, including Binder: no root, no network, just files.
        """),
        md(MODEL_CHOICE_MD),
        code(MODEL_CHOICE_CODE),
        md("""
        ## 1. A capture of pings

        Sixteen Echo Requests, one a second — what `ping -c 16` sends — written to a pcap file the way
        `tcpdump -w` would (raw IP, no Ethernet header). With your own capture — `tcpdump -w mine.pcap icmp` — you would skip this step.
        """),
        code("""
        from pathlib import Path
        from labkit.packets import echo_request
        from labkit.pcap import LINKTYPE_RAW, Capture, CapturedPacket, write_capture

        requests_path = Path("pings.pcap")
        pings = [echo_request(seq=seq) for seq in range(1, 17)]
        write_capture(requests_path, Capture(LINKTYPE_RAW, [
            CapturedPacket(ts_ns=(seq - 1) * 1_000_000_000, data=ping, wirelen=len(ping))
            for seq, ping in enumerate(pings, start=1)]))
        print(f"wrote {len(pings)} requests to {requests_path}")
        """),
        md("""
        ## 2. Answer it

        `answer_capture` reads every packet, asks the model, judges the answer, and writes requests and replies to
        a new capture. The timestamps are *virtual*: a reply appears as long after its request as the model took
        (for the simulated model, the simulated latency) — so the capture shows what a user at the other end would
        have seen.
        """),
        code("""
        from labkit.pcap import answer_capture

        answered_path = Path("pings-answered.pcap")
        summary = answer_capture(requests_path, answered_path, model)
        print(summary)
        """),
        md("""
        ## 3. Open it like Wireshark

        `tshark` is Wireshark's text-mode twin. If it is installed, the next cell shows what Wireshark would list,
        and then the packets Wireshark flags with a bad ICMP checksum (the display filter
        `icmp.checksum.status == 0` — type it into Wireshark's filter bar to see the same). Its column layout
        varies between versions, so the automatic tests do not compare this cell. Without tshark the cell says so,
        and the cell after it shows the same packets decoded by scapy, with labkit's checksum verdicts.
        """),
        code("""
        # NBVAL_IGNORE_OUTPUT
        # output not compared by the notebook tests: tshark may be missing (Binder), its columns vary by version
        import shutil, subprocess

        if shutil.which("tshark"):
            listing = subprocess.run(["tshark", "-r", str(answered_path)], capture_output=True, text=True)
            print(listing.stdout)
            flagged = subprocess.run(["tshark", "-r", str(answered_path), "-Y", "icmp.checksum.status == 0"],
                                     capture_output=True, text=True)
            print("Wireshark flags a bad ICMP checksum in:")
            print(flagged.stdout or "  (none)")
        else:
            print("tshark is not installed here, so no Wireshark view; the scapy listing below shows the same packets.")
        """),
        code("""
        from scapy.utils import rdpcap
        from labkit.checksum import verify

        for number, packet in enumerate(rdpcap(str(answered_path)), start=1):
            bad = [check.name for check in verify(bytes(packet)) if not check.ok]
            flag = f"   <- bad {', '.join(bad)}: Linux drops it" if bad else ""
            print(f"{number:3}  {float(packet.time):7.3f}  {packet.summary()}{flag}")
        """),
        md("""
        ## 4. Round-trip times

        The RTT is the time between a request and its reply — what `ping` prints as `time=`. Here they come from
        the model, not the network.
        """),
        code("""
        for seq, latency in enumerate(summary.model_latencies_s, start=1):
            print(f"icmp_seq={seq}  time={latency * 1000:,.0f} ms")
        """),
        md("""
        A kernel answers in tens of microseconds; here every RTT is seconds. Notice also that the replies overtake
        each other: a fast answer to a later request arrives before a slow answer to an earlier one — `ping`
        copes, because it matches replies by sequence number.

        And a reply with a bad checksum is still in the capture — pcap mode writes what the model said, and
        Wireshark flags it — but `ping` would never have printed it: for the user it is simply lost.

        ## Exercise

        Read a reply out of the capture yourself. Replies arrive seconds after their requests, so the first reply
        is the fifth packet of the capture (index 4). What is its ICMP type?
        """),
        code("""
        from labkit import exercises
        from labkit.pcap import read_capture

        first_reply = read_capture(answered_path).packets[4].data
        answer = None  # your answer here
        exercises.check_hex_field(first_reply, "icmp.type", answer)
        """),
        md("""
        ## Summary

        - pcap mode answers a capture offline and writes a new one with virtual-time timestamps.
        - Wireshark/tshark (or scapy) shows the replies, bad checksums included.
        - The RTTs are the model's latency: seconds, not microseconds.

        Next: **08 · live responder** — the model on a real wire.
        """),
    ]


# --------------------------------------------------------------------------------------------- 08
@notebook("08-live-responder")
def nb08():
    return [
        md("""
        # 08 · A live responder

        **Learning goals**
        - put a model on a wire and let real `ping` talk to it;
        - watch it with a dashboard: latency, accepted and dropped replies, cost;
        - understand the safety rails: a guard that drops malformed replies, a budget, a rate limit.

        Two versions: **with root** a real network namespace where the kernel's own `ping` is answered; **without
        root** (Binder, CI, most laptops) a *software wire* inside Python with a classic ping printer.
        """),
        md(MODEL_CHOICE_MD),
        code(MODEL_CHOICE_CODE),
        md("""
        ## 1. Without root: the software wire

        The software wire is an in-memory cable. At one end a pinger sends Echo Requests and prints lines the way
        Linux `ping` does; at the other a *responder* takes each request, asks the model, runs the guard and sends
        the reply back. With the simulated model everything runs in virtual time: nothing waits, and the printed
        `time=` is the model's (simulated) latency.
        """),
        code("""
        from labkit.responder import ping_software

        ping_stats, responder_stats = ping_software(model, count=8, budget_usd=0.10)
        """),
        md("""
        A sequence number that never comes back is a reply the responder's guard dropped because Linux would have
        dropped it anyway (section 3): the same silent loss the seed experiment saw. Replies also overtake each
        other — a quick answer to a later request can arrive before a slow answer to an earlier one.

        ## 2. The dashboard

        The dashboard shows what the responder did: requests, answers, drops by reason, money spent, and a
        latency histogram. Given a running `Responder` it updates live; here it shows the finished run.
        """),
        code("""
        from labkit.widgets import Dashboard

        Dashboard(responder_stats, title="software wire")
        """),
        md("""
        ## 3. The safety rails

        A responder puts whatever a model writes onto a network, so it has three rails:

        - **the guard** (`strict=True`, the default): a reply goes out only if it parses as IP, is addressed to
          whoever asked, is the echo reply to that request, and has correct checksums. Everything else is dropped
          and counted by reason — the dashboard's *dropped* table.
        - **the budget** (`budget_usd=`): no model call starts once the money is spent (notebook 09).
        - **the rate limit** (`rate=`, calls per second): a flood of pings cannot become a flood of API calls.

        The original experiment had no guard: whatever came back went onto the wire. `raw=True` does the same
        (it still only sends IP packets addressed to the requester), and `send_bad_checksum=True` lets through
        replies with wrong checksums — so you can watch them arrive, and see the pinger say why Linux would
        drop each one:
        """),
        code("""
        _ = ping_software(model, count=8, raw=True, send_bad_checksum=True)
        """),
        md("""
        ## 4. With root: real ping, real kernel

        The cells below need root: they create a TUN device, `labkit0`, give the kernel the address 10.77.0.1/30
        on it, and answer for 10.77.0.2 — so the system's own `ping 10.77.0.2` goes into the device, to the
        model, and back through the kernel, which checks every checksum. The /30 route covers only those two
        addresses, so no packet leaves the machine; the device disappears when the wire is closed.

        They are marked `# NBVAL_SKIP`: the automatic tests, Binder and most laptops have no root, so they are
        not run there and no output is saved. Run them yourself where you are root. (The same from a shell:
        `sudo labkit respond --tun labkit0`, then `ping 10.77.0.2` in another terminal.)
        """),
        code("""
        # NBVAL_SKIP
        # not run by the notebook tests: needs root to create the TUN device labkit0 (kernel side 10.77.0.1/30)
        from labkit.responder import Responder
        from labkit.wire.tun import TunWire

        # a simulated model must sleep its latency for real here, or the replies would come back instantly
        live_model = get_model(f"{model.name}:real_time=1") if model.simulated else model
        tun = TunWire("labkit0", kernel_address="10.77.0.1/30")
        live = Responder(tun, live_model, "zero-shot", addresses=("10.77.0.2",), budget_usd=0.10)
        live.start()
        Dashboard(live, title="TUN labkit0")
        """),
        code("""
        # NBVAL_SKIP
        # not run by the notebook tests: needs root (the system ping, answered through the TUN device)
        import subprocess

        print(subprocess.run(["ping", "-c", "4", "-W", "60", "10.77.0.2"], capture_output=True, text=True).stdout)
        """),
        code("""
        # NBVAL_SKIP
        # not run by the notebook tests: needs root (stops the responder, removes the TUN device)
        live.stop()
        tun.close()
        """),
        md("""
        The TUN device lives in this kernel's own network namespace, next to your real interfaces. For a cleaner
        separation, `scripts/live-demo.sh` builds two throw-away network namespaces joined by a virtual cable:
        the system `ping` in one, `labkit respond` on a raw socket in the other, where the kernel has no address
        and so cannot answer first. It removes both namespaces when it ends, even on an error. (Run from a shell,
        the same: `sudo scripts/live-demo.sh`.)
        """),
        code("""
        # NBVAL_SKIP
        # not run by the notebook tests: needs root to create network namespaces
        demo_model = f"{model.name}:real_time=1" if model.simulated else model.name
        !bash ../scripts/live-demo.sh {demo_model} 4
        """),
        md("""
        ## Exercise

        `ping` printed `icmp_seq=...` for every reply: it read the sequence number out of the reply. Which bytes
        hold it? Give the sequence number of this reply as hex (two bytes, e.g. `"00 07"`).
        """),
        code("""
        from labkit import exercises
        from labkit.packets import echo_request, hexdump
        from labkit.stack import echo_reply

        reply = echo_reply(echo_request(seq=3))
        print(hexdump(reply))
        answer = None  # your answer here
        exercises.check_hex_field(reply, "icmp.seq", answer)
        """),
        md("""
        ## Summary

        - A responder connects a wire (software, TUN or raw socket) to a model, with a guard, a budget and a rate
          limit.
        - Without root, the software wire shows the same behaviour in virtual time; with root, real `ping` prints
          the model's latency.
        - Dropped replies are silent: `ping` just shows a missing sequence number.

        Next: **09 · latency and cost** — what it costs, and what would make it faster.
        """),
    ]


# --------------------------------------------------------------------------------------------- 09
@notebook("09-latency-and-cost")
def nb09():
    return [
        md(f"""
        # 09 · Latency and cost

        **Learning goals**
        - compare three responders: the kernel, labkit's reference stack (Python), and a model;
        - count tokens and money per ping, and see the budget guard stop a run;
        - name what would make a model-based stack faster — and why it would still lose.

        The numbers to beat: the seed experiment's **2–5 s** per ping, and {PRECURSOR}: **42,593 ms** for one ping
        with Claude Haiku 4.5, no calculator allowed.
        """),
        md(MODEL_CHOICE_MD),
        code(MODEL_CHOICE_CODE),
        md("""
        ## 1. Three responders

        The same job three ways: the kernel answering `ping 127.0.0.1`, labkit's reference stack (Python code that
        builds the reply), and the model. The next cell measures the first two for real — so its numbers differ
        from run to run and machine to machine, and the automatic tests do not compare them — and asks the model
        twenty times (in virtual time when it is simulated).
        """),
        code("""
        # NBVAL_IGNORE_OUTPUT
        # output not compared by the notebook tests: wall-clock measurements differ between runs and machines
        import re, shutil, subprocess, timeit
        from labkit.packets import echo_request
        from labkit.stack import echo_reply

        request = echo_request()
        kernel = []
        if shutil.which("ping"):
            output = subprocess.run(["ping", "-n", "-c", "10", "-i", "0.2", "127.0.0.1"],
                                    capture_output=True, text=True, timeout=30).stdout
            kernel = [float(ms) / 1000 for ms in re.findall(r"time=([\\d.]+) ms", output)]
        reference = [timeit.timeit(lambda: echo_reply(request), number=1) for _ in range(200)]
        by_model = [model.attempt(echo_request(seq=seq), "zero-shot").latency_s for seq in range(1, 21)]

        ladder = {"kernel (ping 127.0.0.1)": kernel, "reference stack (Python)": reference, model.name: by_model}
        for name, samples in ladder.items():
            median = sorted(samples)[len(samples) // 2] * 1000 if samples else float("nan")
            print(f"{name:28} median {median:12,.3f} ms   ({len(samples)} samples)")
        """),
        code("""
        %matplotlib inline
        from labkit.plots import latency_cdf

        latency_cdf(ladder, title="Who answers a ping, and how fast")
        """),
        md("""
        Both pieces of code answer in microseconds. (The kernel's number is a whole round trip — the `ping`
        program, two system calls, the loopback device — which is why Python merely *building* a reply can look
        faster.) The model takes seconds: five to six orders of magnitude more. A language model is not a slow
        computer; it is a different kind of thing, writing the reply one token at a time.

        ## 2. Tokens and money

        Every call is paid for in tokens: the prompt (input) and the answer (output, several times dearer).
        labkit estimates the cost at list prices; the simulated model estimates its tokens too and prices them as
        the Claude model it stands in for.
        """),
        code("""
        attempt = model.attempt(echo_request(), "zero-shot")
        print(attempt.summary())
        print()
        print(f"input tokens : {attempt.usage.input_tokens}")
        print(f"output tokens: {attempt.usage.output_tokens}")
        print(f"cost per ping: ${attempt.cost_usd:.6f}  (priced as {attempt.priced_as or 'unknown'})")
        print(f"ping -c 1000 : ${attempt.cost_usd * 1000:.2f}")
        print(f"one ping a second for a day (86,400 pings): ${attempt.cost_usd * 86_400:,.2f}")
        """),
        md("""
        ## 3. The budget guard

        A responder with `budget_usd` stops calling the model once the money is spent — and it counts each call
        at its *worst* case before making it, so a flood of requests cannot overshoot. Here: one cent, and
        twenty pings.
        """),
        code("""
        from labkit.responder import ping_software

        ping_stats, responder_stats = ping_software(model, count=20, budget_usd=0.01)
        print()
        print("\\n".join(responder_stats.summary_lines()))
        """),
        md("""
        ## 4. What would make it faster

        - **A smaller, faster model**, and **fewer output tokens** (the *fields-only* strategy asks for the
          changed fields, not the whole packet): latency grows with every token the model writes.
        - **Prompt caching**: a long fixed prompt (a specification, worked examples) can be cached by the API, so
          repeated requests pay a tenth of the input price for it and are read faster. labkit marks the fixed part
          for caching whenever it is long enough to qualify.
        - **Tool use**: the checksum is computed by code — fewer errors, but one more round trip.
        - **Answer the easy part in code**: copy, swap and checksum in Python, ask the model only what is new —
          at which point the model is doing nothing, and you have written a network stack.

        That last point is the lesson of the series: a model can *describe* and *imitate* a protocol remarkably
        well, but a rule-following program does the job in microseconds and never hallucinates a digit.

        ## Exercise: the embedded stack's shortcut

        A stack does not have to add up all 32 words again to answer a ping. Turning a request into a reply
        changes one 16-bit word of the ICMP message — `08 00` (type 8, code 0) becomes `00 00` — so it can
        *update* the checksum instead (RFC 1624): in one's-complement arithmetic, the new checksum is the old one
        plus the amount the word went down by, 0x0800 (plus one more if that addition carries out of 16 bits).
        Dunkels' own uIP answers pings exactly like this. The request's ICMP checksum is printed below. What is
        the reply's? One addition, no loop.
        """),
        code("""
        from labkit import exercises

        icmp_request = echo_request()[20:]
        print(f"request ICMP checksum: 0x{int.from_bytes(icmp_request[2:4], 'big'):04x}")
        icmp_reply = bytes([0, 0, 0, 0]) + icmp_request[4:]      # type 0, code 0, checksum zeroed for the check
        answer = None  # your answer here, e.g. 0x1234
        exercises.check_checksum(icmp_reply, answer)
        """),
        md("""
        ## Summary

        - Kernel and reference stack: microseconds. A model: seconds (the seed experiment: 2–5 s; the precursor:
          42.6 s).
        - Every ping costs tokens; a budget guard keeps a responder from running up a bill.
        - Faster models, shorter answers, caching and tools help — and the fastest version is the one without the
          model.

        Optional next: **10 · beyond ping** — ARP and IPv6 neighbour discovery.
        """),
    ]


# --------------------------------------------------------------------------------------------- 10
@notebook("10-beyond-ping")
def nb10():
    return [
        md("""
        # 10 · Beyond ping (optional)

        **Learning goals**
        - see that a stack is more than ping: before an IPv4 ping, ARP finds the MAC address; in IPv6, neighbour
          discovery does;
        - see why labkit answers those with code, not with the model;
        - let the model answer an IPv6 ping, where the checksum covers a pseudo-header.
        """),
        md(MODEL_CHOICE_MD),
        code(MODEL_CHOICE_CODE),
        md("""
        ## 1. ARP: who has 10.0.0.2?

        On Ethernet, a host must learn the MAC address behind an IP address before it can send a ping: it
        broadcasts an ARP *who-has*, and the owner answers *is-at*. The frame is built with scapy; labkit's
        reference stack answers it the way Linux does.
        """),
        code("""
        from scapy.layers.l2 import ARP, Ether
        from labkit.packets import hexdump
        from labkit.stack import ReferenceStack

        who_has = bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") /
                        ARP(op="who-has", hwsrc="02:00:00:00:00:01", psrc="10.0.0.1", pdst="10.0.0.2"))
        print(hexdump(who_has))
        result = ReferenceStack().respond(who_has, link="ether")
        print()
        print(result.kind, "-", result.reason)
        print(hexdump(result.replies[0]))
        """),
        code("""
        from labkit.widgets import PacketView

        PacketView(result.replies[0], link="ether")
        """),
        md("""
        The live responder (notebook 08) answers ARP and neighbour discovery **with the reference stack, never with
        the model**: if the model fumbled an ARP reply, no ping could even reach it, and every later measurement
        would be meaningless. The model gets the question the experiment is about — the Echo Request.

        ## 2. IPv6 neighbour discovery

        IPv6 has no ARP; a *neighbour solicitation* (ICMPv6 type 135) asks the same question, and a *neighbour
        advertisement* (136) answers it.
        """),
        code("""
        from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6

        solicitation = bytes(Ether(src="02:00:00:00:00:01", dst="33:33:ff:00:00:02") /
                             IPv6(src="fd00::1", dst="ff02::1:ff00:2", hlim=255) /
                             ICMPv6ND_NS(tgt="fd00::2") / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"))
        result6 = ReferenceStack().respond(solicitation, link="ether")
        print(result6.kind, "-", result6.reason)
        print(hexdump(result6.replies[0]))
        """),
        md("""
        ## 3. An IPv6 ping, answered by the model

        ICMPv6 has no IP header checksum, but its own checksum covers a *pseudo-header*: both 128-bit addresses,
        the length and the next-header value. More words to add — more chances to slip.
        """),
        code("""
        from labkit.packets import echo_request_v6
        from labkit.judge import judge

        request6 = echo_request_v6()
        attempts6 = [model.attempt(echo_request_v6(seq=seq), "zero-shot") for seq in range(1, 21)]
        verdicts6 = [judge(a.request, a.reply) for a in attempts6]
        print(f"{model.name}: {sum(v.accepted for v in verdicts6)} of {len(verdicts6)} IPv6 replies accepted")
        for seq, verdict in enumerate(verdicts6, start=1):
            if not verdict.accepted:
                print(f"  seq {seq:2}: {verdict.reason}")
        """),
        code("""
        from labkit.widgets import ChecksumWalkthrough
        from labkit.stack import echo_reply

        ChecksumWalkthrough.for_packet(echo_reply(request6), "icmpv6.cksum")
        """),
        md("""
        ## Exercise

        In the ARP reply above, which field holds byte 21 (counting from the start of the Ethernet frame)?
        """),
        code("""
        from labkit import exercises

        answer = None  # your answer here, a field name
        exercises.check_which_field(result.replies[0], 21, answer, link="ether")
        """),
        md("""
        ## Summary

        - Real stacks answer ARP (IPv4) and neighbour discovery (IPv6) before any ping gets through; labkit
          leaves those to code so the experiment stays about the echo reply.
        - IPv6 moves the arithmetic into a pseudo-header checksum — still arithmetic, still where models slip.
        - That is the end of the series: a model can imitate a protocol remarkably well, and a few lines of code
          do it perfectly, a hundred thousand times faster.
        """),
    ]


def build(names: list[str] | None = None) -> list[Path]:
    written = []
    for name, builder in NOTEBOOK_SPECS.items():
        if names and name not in names:
            continue
        cells = builder()
        cells[-1].source += f"\n\nWorked answers to the exercises: [solutions/{name}.md](solutions/{name}.md)."
        for number, cell in enumerate(cells):
            cell.id = f"cell-{number:02d}"   # stable ids keep rebuilds free of noise in git diffs
        nb = new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        path = NOTEBOOKS / f"{name}.ipynb"
        nbformat.write(nb, path)
        written.append(path)
    return written


def stable_widget_ids(nb, name: str):
    """Replace the random widget model ids in saved widget state and outputs with ids derived from the
    notebook name and creation order, so re-executing an unchanged notebook gives an identical file."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    if not state:
        return nb
    text = json.dumps(nb)
    for number, old_id in enumerate(list(state)):
        text = text.replace(old_id, hashlib.md5(f"{name}-{number}".encode()).hexdigest())
    return nbformat.from_dict(json.loads(text))


def execute(paths: list[Path], allow_errors: bool = False) -> None:
    from nbclient import NotebookClient

    env_backup = {key: os.environ.pop(key) for key in ("LABKIT_MODEL", "ANTHROPIC_API_KEY") if key in os.environ}
    try:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            # Cells marked NBVAL_SKIP need root (notebook 08): never run them here, keep them without output.
            skipped = {i: cell for i, cell in enumerate(nb.cells) if cell.source.lstrip().startswith("# NBVAL_SKIP")}
            nb.cells = [cell for i, cell in enumerate(nb.cells) if i not in skipped]
            NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}},
                           store_widget_state=True, record_timing=False, allow_errors=allow_errors).execute()
            for i in sorted(skipped):
                nb.cells.insert(i, skipped[i])
            nbformat.write(stable_widget_ids(nb, path.stem), path)
            print("executed", path.name)
    finally:
        os.environ.update(env_backup)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook names (e.g. 01-hexdump); default all")
    parser.add_argument("--execute", action="store_true", help="run the notebooks so they carry outputs")
    parser.add_argument("--allow-errors", action="store_true", help="keep going past failing cells (drafting only)")
    args = parser.parse_args()
    paths = build(args.names)
    if args.execute:
        execute(paths, allow_errors=args.allow_errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
