"""Self-checks for the notebooks: every checker returns a Feedback (✓, or ✗ with a hint that names the mistake).

One module per kind of exercise; import them from here.
"""

from labkit.exercises.capture import check_flagged
from labkit.exercises.code import (
    check_carry_cases,
    check_field_lookup,
    check_incremental_update,
    check_internet_checksum,
    check_reply_builder,
)
from labkit.exercises.core import (
    check_byte,
    check_checksum,
    check_echo_reply,
    check_hex_field,
    check_swap,
    check_which_field,
)
from labkit.exercises.feedback import Feedback
from labkit.exercises.ipv6 import check_checksum_words, check_solicited_node
from labkit.exercises.latency import check_reply_checksum_update
from labkit.exercises.live import check_csum_errors, check_drop_counter
from labkit.exercises.llm import check_latency_plan, check_really_better, check_strategy_benchmark
from labkit.exercises.predict import check_prediction
from labkit.exercises.reading import check_header_length, check_which_accepted, check_wrong_data_byte
from labkit.exercises.taxonomy import check_first_false_step, numbered, planted_working
from labkit.exercises.unseen import data_slip_reply, mystery_request, options_request, reply_lineup

__all__ = [
    "Feedback",
    "check_byte",
    "check_carry_cases",
    "check_checksum",
    "check_checksum_words",
    "check_drop_counter",
    "check_csum_errors",
    "check_reply_checksum_update",
    "check_echo_reply",
    "check_field_lookup",
    "check_flagged",
    "check_header_length",
    "check_first_false_step",
    "check_hex_field",
    "check_incremental_update",
    "check_internet_checksum",
    "check_latency_plan",
    "check_prediction",
    "check_really_better",
    "check_reply_builder",
    "check_solicited_node",
    "check_strategy_benchmark",
    "check_swap",
    "check_which_accepted",
    "check_which_field",
    "check_wrong_data_byte",
    "data_slip_reply",
    "mystery_request",
    "numbered",
    "options_request",
    "planted_working",
    "reply_lineup",
]
