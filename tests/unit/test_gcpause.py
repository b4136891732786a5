import gc
import threading

from reconciler.engine import gcpause


def test_paused_disables_the_collector_and_restores_it():
    assert gc.isenabled()
    with gcpause.paused():
        assert not gc.isenabled()
        with gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()               # the outer block still runs
    assert gc.isenabled()


def test_a_pause_ending_in_another_thread_keeps_the_collector_off_until_the_last_ends():
    inside, release = threading.Event(), threading.Event()

    def worker():
        with gcpause.paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    with gcpause.paused():
        pass
    assert not gc.isenabled()                   # the worker's pause is still open
    release.set()
    t.join(5)
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
