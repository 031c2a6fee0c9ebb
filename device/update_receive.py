"""Updates over the air, received: the app's files from a bundle, or (ESP32)
firmware. Loaded only when one is posted (webupdate.py's routes).

A bundle (tools/deploy.py --bundle) is checked while it streams in and its
files are staged under update.d/new/; only a bundle whose SHA-256 matches is
kept, marked staged in update.d/state.json, and the board restarts: at the
boot, update.py switches it in, tries it and rolls it back if it does
not confirm. Every step there is a rename that can be redone, so a power
cut at any point still ends in one whole version.

A firmware image (ESP32, POST /api/update/firmware?sha256=HEX) is written
to the next OTA partition in 4096-byte blocks and set to boot only when its
hash matches; the new firmware is marked valid when the app confirms, else
the bootloader goes back to the previous one at the next reset.
"""

import json
import os
from binascii import hexlify
from hashlib import sha256

from httpserver.response import HTTPException
from httpserver.uploads import reader
from updatefs import NEW, STATE, exists, is_dir, makedirs, rmtree, state, version, write_json

MAGIC = b"HSBUNDLE1 "
HEAD = 84  # MAGIC, 64 hex digits, a space, 8 digits of manifest length, "\n"
MANIFEST_MAX = 8192
BLOCK = 4096  # an ESP32 flash erase block: what Partition.writeblocks takes


def _valid_path(path):
    # Files of the app only: no way out of the flash, into update.d/ or over the config.
    if not isinstance(path, str) or path == "config.json" or path.startswith("update.d/"):
        return False
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return False
    return True


# -- the routes (webupdate.py) ----------------------------------------------------------
def _authorize(request, cfg):
    """The app's password (already checked by its hook, which set
    request.user) or update_token as a Bearer token. (Without either the
    routes do not exist: webupdate.py adds them only then.)

    Not httpserver.auth.BearerAuth: that module would load during an upload
    on a board that has no password, where the heap is shortest."""
    if getattr(request, "user", None):
        return
    token = cfg.get("update_token")
    from httpserver.signing import same_secret

    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer" or not same_secret(given.strip(), token):
        raise HTTPException(401, None, {"WWW-Authenticate": 'Bearer realm="update"'})


async def handle(request, cfg, firmware=False):
    """POST /api/update (a bundle) or /api/update/firmware: check, stage, reply,
    then restart (update_restart_s later, 1) to switch at the boot."""
    _authorize(request, cfg)
    if firmware:
        label = await receive_firmware(request, request.query_params.get("sha256", [""])[0])
        reply = {"staged": "firmware", "partition": label, "version": version()}
    else:
        reply = {"staged": await receive(request), "version": version()}
    import asyncio

    asyncio.create_task(_restart(float(cfg.get("update_restart_s", 1))))
    reply["restarting"] = True
    return reply


async def _restart(delay):
    import asyncio

    print("update: staged, restarting in %s s" % delay)
    await asyncio.sleep(delay)
    try:
        import machine

        machine.reset()
    except (ImportError, AttributeError):
        print("update: restart the server to switch to the new version")


# -- receiving -----------------------------------------------------------------
async def _fill(body, view):
    # Exactly len(view) bytes of the body into view (they come in pieces), or a 400.
    got = 0
    while got < len(view):
        count = await body.readinto(view[got:])
        if not count:
            raise HTTPException(400, "the bundle ends early\n")
        got += count


def _json(view):
    try:
        return json.loads(view)  # MicroPython's json parses a memoryview in place
    except TypeError:
        return json.loads(bytes(view))  # CPython's takes bytes, not a memoryview


def _check_room(request):
    length = request.headers.get("content-length")
    if not length:
        return
    import status

    try:
        free = status.probe().fs_free()  # the filesystem the app is on, as /api/status says
    except (OSError, AttributeError):
        return
    if int(length) > free:
        raise HTTPException(507, "%s B do not fit: %d B free on flash\n" % (length, free))


async def receive(request):
    """Stream a bundle into update.d/new/ and mark it staged; returns its version.

    Nothing outside update.d/ changes here; a bundle that is cut off, malformed
    or has the wrong SHA-256 leaves no staged file (400), as does a full
    flash (507).
    """
    pending = (state() or {}).get("state")
    if pending and pending != "staged":
        raise HTTPException(409, "the last update is not finished: try again in a minute\n")
    _check_room(request)
    if pending:  # a bundle staged before and not booted yet: this one replaces it
        os.remove(STATE)
    rmtree("update.d/new")
    rmtree("update.d/old")
    try:
        return await _receive(request)
    except BaseException as e:
        rmtree("update.d/new")
        if isinstance(e, OSError) and e.args and e.args[0] == 28:  # ENOSPC
            raise HTTPException(507, "the flash is full\n")
        raise


async def _receive(request):
    body = reader(request)
    # One buffer for the head and then every file's pieces, made first, while
    # the heap still has a block for it (read() would allocate each piece).
    view = body.view = memoryview(bytearray(2048))  # settle() drops a refused rest with it
    await _fill(body, view[:HEAD])
    head = bytes(view[:HEAD])
    if head[:10] != MAGIC or head[-1:] != b"\n":
        raise HTTPException(400, "not an update bundle (make one with deploy.py --bundle)\n")
    expected = head[10:74]
    try:
        size = int(head[75:83])
    except ValueError:
        size = -1
    if not 0 < size <= MANIFEST_MAX:
        raise HTTPException(400, "bad bundle manifest length\n")
    digest = sha256()
    # Read into the buffer when it fits (a bundle of the whole app has a
    # manifest of about 2K): a second block of that size may not be free.
    raw = view[:size] if size <= len(view) else memoryview(bytearray(size))
    await _fill(body, raw)
    digest.update(raw)
    try:
        manifest = _json(raw)
        new_version = str(manifest["version"])
        files = manifest["files"]
    except (ValueError, KeyError, TypeError):
        raise HTTPException(400, "bad bundle manifest\n")
    del raw
    paths = []
    for entry in files:
        if not (isinstance(entry, list) and len(entry) == 2 and _valid_path(entry[0])):
            raise HTTPException(400, "bad file in the bundle: %s\n" % (entry,))
        if not isinstance(entry[1], int) or entry[1] < 0:
            raise HTTPException(400, "bad size for %s\n" % entry[0])
        path, left = entry
        paths.append(path)
        makedirs(NEW + path)
        with open(NEW + path, "wb") as f:
            while left:
                count = await body.readinto(view if left >= len(view) else view[:left])
                if not count:
                    raise HTTPException(400, "the bundle ends early\n")
                piece = view if count == len(view) else view[:count]
                digest.update(piece)
                f.write(piece)
                left -= count
    if await body.readinto(view[:1]):
        raise HTTPException(400, "data after the bundle's last file\n")
    if hexlify(digest.digest()) != expected:
        raise HTTPException(400, "SHA-256 mismatch: the bundle is damaged; nothing changed\n")
    write_json(
        STATE,
        {
            "state": "staged",
            "version": new_version,
            "from": version(),
            "files": paths,
            "added": [p for p in paths if not exists(p)],
            "drop": _stale(paths),
        },
    )
    return new_version


def _stale(paths):
    """Live files the new version does without: library modules it no longer
    has, and a .py beside a new .mpy (or the reverse), which would shadow it."""
    keep = set(paths)
    stale = []
    for path in paths:
        other = None
        if path.endswith(".mpy"):
            other = path[:-4] + ".py"
        elif path.endswith(".py") and path not in ("boot.py", "main.py"):
            other = path[:-3] + ".mpy"
        if other and other not in keep and exists(other):
            stale.append(other)
    try:
        names = os.listdir("lib/httpserver")
    except OSError:
        names = ()
    for name in names:
        path = "lib/httpserver/" + name
        if path not in keep and path not in stale and not is_dir(path):
            stale.append(path)
    return stale


# -- firmware (ESP32) ------------------------------------------------------------
async def receive_firmware(request, expected):
    """Write a firmware image to the next OTA partition; set it to boot if its
    SHA-256 is expected (hex). Returns the partition's label."""
    try:
        from esp32 import Partition  # type: ignore[import-not-found]  # ESP32 only: guarded
    except ImportError:
        raise HTTPException(501, "firmware updates need an ESP32\n")
    if len(expected) != 64:
        raise HTTPException(400, "give the image's SHA-256 as ?sha256=HEX\n")
    try:
        part = Partition(Partition.RUNNING).get_next_update()
    except OSError:
        raise HTTPException(501, "this firmware has no OTA partitions\n")
    room = part.info()[3]
    length = request.headers.get("content-length")
    if length and int(length) > room:
        raise HTTPException(413, "the image is larger than the %d B partition\n" % room)
    digest = sha256()
    block = bytearray(BLOCK)
    view = memoryview(block)
    number = filled = 0
    body = reader(request)
    while True:
        # Straight into the block: nothing allocated per piece.
        count = await body.readinto(view[filled:])
        if count:
            digest.update(view[filled : filled + count])
            filled += count
        if filled == BLOCK or not count and filled:
            if (number + 1) * BLOCK > room:
                raise HTTPException(413, "the image is larger than the %d B partition\n" % room)
            for i in range(filled, BLOCK):
                block[i] = 0xFF  # erased flash
            part.writeblocks(number, block)
            number += 1
            filled = 0
        if not count:
            break
    if hexlify(digest.digest()).decode() != expected.lower():
        raise HTTPException(400, "SHA-256 mismatch: the image is damaged; the boot is unchanged\n")
    part.set_boot()
    label = part.info()[4]
    write_json(STATE, {"state": "firmware", "version": label, "from": version()})
    return label
