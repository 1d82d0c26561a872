"""Self-checks for the notebooks: every checker returns a Feedback (✓, or ✗ with a hint that names the mistake).

One module per kind of exercise; import them from here.
"""

from labkit.exercises.core import (check_checksum, check_echo_reply, check_hex_field, check_swap,
                                   check_which_field)
from labkit.exercises.feedback import Feedback
from labkit.exercises.llm import check_latency_plan, check_really_better, check_strategy_benchmark
from labkit.exercises.predict import check_prediction

__all__ = ["Feedback", "check_checksum", "check_echo_reply", "check_hex_field", "check_latency_plan",
           "check_prediction", "check_really_better", "check_strategy_benchmark", "check_swap", "check_which_field"]
