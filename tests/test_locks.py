"""Locks between flygnn processes: refuse at once, or wait for the holder where asked."""

import threading

import pytest

from flygnn.locks import LockHeld, exclusive_lock


def test_a_held_lock_refuses_a_second_holder_with_who_holds_it(tmp_path):
    lock = tmp_path / "locks" / "run.lock"
    with exclusive_lock(lock, "the analysis of sigma-0"):
        with pytest.raises(LockHeld, match=r"the analysis of sigma-0 is running in another flygnn \(pid \d+ on "):
            with exclusive_lock(lock, "the analysis of sigma-0"):
                pass
    with exclusive_lock(lock, "the analysis of sigma-0"):  # released when the block ends
        pass


def test_a_waiting_lock_is_taken_as_soon_as_the_holder_lets_go(tmp_path, caplog):
    lock = tmp_path / "dataset.lock"
    taken = threading.Event()

    def second() -> None:
        with exclusive_lock(lock, "the simulation of cpu-sigma-0", wait=True):
            taken.set()

    with exclusive_lock(lock, "the simulation of cpu-sigma-0"):
        waiter = threading.Thread(target=second)
        waiter.start()
        assert not taken.wait(0.5)  # blocked while the first holds it
    waiter.join(timeout=10)
    assert taken.is_set()
    assert "the simulation of cpu-sigma-0 is running in another flygnn" in caplog.text
    assert "waiting for it to end" in caplog.text
