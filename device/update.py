"""Updates at boot (received by update_receive.py): boot.py calls at_boot() when
update.d/state.json exists. A staged version is switched in (the live files
to update.d/old/, the new ones into place) and the board restarts; the boot
after that arms a timer, and the new version must confirm() it is healthy
(webupdate.py starts confirm_after(update_confirm_s)) before update_trial_s
runs out, else the board resets and the boot that finds an unconfirmed
trial puts update.d/old/ back. New ESP32 firmware is marked valid by
confirm(), else the bootloader goes back to the previous one at the reset.

Loaded at boot only when an update waits: it stays loaded only during a
trial.
"""

import os

from updatefs import NEW, OLD, RESULT, STATE, exists, move, read_json, rmtree, state, write_json

_timer = None  # the trial's reset timer (kept referenced while armed)
trial = None  # the state being tried, until confirm()


def at_boot():
    """boot.py, when update.d/state.json exists: switch to a staged version,
    start the trial of a switched one (or of new firmware), roll back one
    that did not confirm. Every step but a trial ends in a reset, so that a
    version never runs with modules of the other one loaded (nor this one)."""
    global trial
    current = state()
    kind = current and current.get("state")
    if kind == "staged":
        _switch(current)
        current["state"] = "switched"
        write_json(STATE, current)
    elif kind in ("switched", "firmware"):
        current["state"] = "trial" if kind == "switched" else "firmware-trial"
        write_json(STATE, current)
        print("update: trying %s" % current["version"])
        trial = current
        _arm((read_json("config.json") or {}).get("update_trial_s", 60))
        return
    elif kind == "trial":
        print("update: %s did not confirm, going back" % current["version"])
        _rollback(current)
    elif current:
        # New firmware that did not confirm: the bootloader went back.
        _finish(current, "rolled back")
    else:
        os.remove(STATE)  # unreadable: nothing can be done with it
    _reset()


def _switch(current):
    # Each step is a rename that a later boot can redo after a power cut.
    for path in current["drop"]:
        if exists(path):
            move(path, OLD + path)
    for path in current["files"]:
        if exists(NEW + path):
            if exists(path) and not exists(OLD + path):
                move(path, OLD + path)
            move(NEW + path, path)
    rmtree("update.d/new")


def _rollback(current):
    for path in current["files"] + current["drop"]:
        if exists(OLD + path):
            move(OLD + path, path)
        elif path in current["added"]:
            try:
                os.remove(path)
            except OSError:
                pass
    _finish(current, "rolled back")


def _finish(current, result):
    rmtree("update.d/old")
    rmtree("update.d/new")
    write_json(RESULT, {"version": current["version"], "from": current["from"], "result": result})
    os.remove(STATE)
    print("update: %s %s" % (result, current["version"]))


def _arm(seconds):
    # Reset if the new version has not confirmed in time: also when it
    # stopped at the REPL with an error, where nothing else would restart it.
    global _timer
    from machine import Timer

    try:
        _timer = Timer(-1)  # a virtual timer (rp2 and others)
    except ValueError:
        _timer = Timer(0)  # ESP32: hardware timers only
    _timer.init(mode=Timer.ONE_SHOT, period=int(seconds * 1000), callback=_expired)


def _expired(_):
    _reset()


def _reset():
    import machine

    machine.reset()


async def confirm_after(seconds):
    """Confirm once the app has served for seconds (webupdate.py starts this)."""
    import asyncio

    await asyncio.sleep(seconds)
    confirm()


def confirm():
    """The new version serves: keep it (and, on ESP32, its firmware)."""
    global trial, _timer
    if trial is None:
        return
    if _timer is not None:
        _timer.deinit()
        _timer = None
    if trial["state"] == "firmware-trial":
        from esp32 import Partition  # type: ignore[import-not-found]  # state of an ESP32 only

        Partition.mark_app_valid_cancel_rollback()
    _finish(trial, "updated")
    trial = None
