"""@context is logged with its input and read back (spec/store.md 11.3, issue 22 point 7)."""
from advm.durable import inputs
from advm.runtime.contracts import CONTEXT_LIMIT, context_of
from advm.store import keys, log


def test_an_input_with_a_context_round_trips_through_the_log():
    item = {"op": "send", "who": "a@", "channel": "ping", "message": {"n": 1}, "now": 5,
            "context": {"origin": "https://ok.example", "ip": "10.0.0.7"}}
    assert inputs.from_entry(_logged(item)) == item
    plain = {"op": "send", "who": "a@", "channel": "ping", "message": {"n": 1}, "now": 5}
    assert inputs.from_entry(_logged(plain)) == plain


def _logged(item):
    """The entry the store reads back from the record logged for `item` (seq 3)."""
    return log.decode("d", keys.log_key("d", 3), inputs.record(3, item, []))


def test_context_of_keeps_strings_and_cuts_at_the_limit():
    assert context_of({"origin": "o" * (CONTEXT_LIMIT + 1), "ip": 7}) == {"origin": "o" * CONTEXT_LIMIT, "ip": ""}
    assert context_of("nonsense") == {"origin": "", "ip": ""}
