# VIRTUAL BOARD STAND-IN for machine.Timer - not firmware code. machine.py
# runs this in its own namespace at the first use of machine.Timer (_RP2 is
# machine.py's).
class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kwargs):
        ids = (-1,) if _RP2 else (0, 1, 2, 3)
        if id not in ids:
            raise ValueError("Timer doesn't exist")
        self._run = 0  # bumped by init() and deinit(): an older thread then stops
        if kwargs:
            self.init(**kwargs)

    def init(self, *, mode=PERIODIC, period=-1, freq=None, callback=None):
        import _thread

        if freq:
            period = 1000 // freq
        self._run += 1
        _thread.start_new_thread(self._wait, (self._run, mode, period, callback))

    def _wait(self, run, mode, period, callback):
        import time

        while True:
            time.sleep_ms(period)
            if run != self._run:
                return
            if callback:
                callback(self)
            if mode == self.ONE_SHOT:
                return

    def deinit(self):
        self._run += 1
