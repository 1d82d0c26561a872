"""labkit.golden: the notebooks' copies of three golden captures are the committed ones, read the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.errors import LabkitError
from labkit.golden import CAPTURES, GOLDEN, golden_exchange
from labkit.judge import judge

TESTS_DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_package_copy_is_the_committed_capture(name) -> None:
    file = GOLDEN[name][0]
    assert (CAPTURES / file).read_bytes() == (TESTS_DATA / file).read_bytes()


def test_ping_exchange_is_a_request_and_the_kernels_reply() -> None:
    exchange = golden_exchange("ping")
    assert exchange.request[20] == 8 and exchange.reply[20] == 0
    assert exchange.request[12:16] == exchange.reply[16:20]
    assert exchange.request[4:6] != exchange.reply[4:6]  # the kernel picks its own IP ID
    assert exchange.request[6] & 0x40 and not exchange.reply[6] & 0x40  # ping sets DF, the reply has it clear
    assert judge(exchange.request, exchange.reply).correct  # and the judge passes the kernel's reply
    assert golden_exchange("ping", 1).request[26:28] == b"\x00\x02"


def test_ttl_is_the_kernels_own() -> None:
    exchange = golden_exchange("ping_tos_ttl")
    assert (exchange.request[8], exchange.reply[8]) == (7, 64)
    assert exchange.request[1] == exchange.reply[1] == 0x10


def test_fragmented_exchange_keeps_its_fragments_together() -> None:
    exchange = golden_exchange("ping_s3000")
    assert [len(p) for p in exchange.request_fragments] == [1500, 1500, 68]
    assert [len(p) for p in exchange.reply_fragments] == [1500, 1500, 68]
    assert len({p[4:6] for p in exchange.reply_fragments}) == 1


def test_bad_names_and_indexes_are_one_line_errors() -> None:
    with pytest.raises(LabkitError, match="no golden capture 'nope'"):
        golden_exchange("nope")
    with pytest.raises(LabkitError, match="index 9"):
        golden_exchange("ping", 9)


def test_side_by_side_shows_every_view_in_html_and_text() -> None:
    from labkit.golden import SideBySide
    from labkit.widgets import PacketView

    exchange = golden_exchange("ping")
    both = SideBySide(PacketView(exchange.request, title="request"), PacketView(exchange.reply, title="reply"))
    bundle = both._repr_mimebundle_()
    assert bundle["text/html"].count("display:flex") == 1 and "request" in bundle["text/html"]
    assert "echo-request" in repr(both) and "echo-reply" in repr(both)


def test_the_kernel_answered_within_a_millisecond() -> None:
    """What notebook 02 says about the kernel's speed, checked on every exchange it could show."""
    for name in GOLDEN:
        for index in (0, 1):
            assert 0 < golden_exchange(name, index).delay_s < 0.001


def test_reply_rules_explain_every_field_that_changed() -> None:
    from labkit.golden import LINUX_REPLY_RULES, reply_rules

    exchange = golden_exchange("ping_tos_ttl")
    rows = {name: (before, after, why) for name, before, after, why in reply_rules(exchange.request, exchange.reply)}
    assert rows["ip.ttl"][:2] == ("7", "64") and "Linux's choice" in rows["ip.ttl"][2]
    assert rows["icmp.seq"][2] == "copied" and rows["ip.tos"][2] == "copied"
    changed = {name for name, (before, after, _) in rows.items() if before != after}
    assert changed <= set(LINUX_REPLY_RULES), changed - set(LINUX_REPLY_RULES)
