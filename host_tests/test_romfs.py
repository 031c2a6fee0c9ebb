"""deploy --romfs, proven on a virtual board with a ROMFS partition (issue 15).

The virtual board (tools/vboard.py --romfs SIZE) holds the partition in the
memory of the process that runs the MicroPython unix port, outside its heap,
as flash is; `mpremote romfs` writes it through the vfs.rom_ioctl stand-in and
each boot mounts it at /rom with /rom/lib on sys.path, as firmware does.
Without --romfs the virtual board is like stock ESP32 and Pico W firmware:
no ROMFS.
"""

import json
import shutil

import test_deploy
from test_deploy import (
    REPO,
    assert_clean_failure,
    fetch,
    free_port,
    mpremote,
    run_deploy,
    served_url,
)

vboard = test_deploy.vboard  # the virtual board fixture


def repo_snapshot(tmp_path):
    """lib/httpserver and device/ of this checkout, copied so every deploy sees the same."""
    lib = tmp_path / "repo-lib"
    shutil.copytree(REPO / "lib" / "httpserver", lib / "httpserver")
    device = tmp_path / "repo-device"
    shutil.copytree(REPO / "device", device)
    return ["--lib", lib, "--device", device]


def deploy_to(tmp_path, vb, *extra):
    port = free_port()
    return run_deploy(
        tmp_path,
        "--board",
        vb.board,
        "--port",
        vb.link,
        "--http-port",
        port,
        "--timeout",
        30,
        *extra,
    )


def heap_free(url):
    status, body = fetch(url + "api/status")
    assert status == 200
    return json.loads(body)["heap_free"]


def test_deploy_romfs_boots_the_status_app_from_rom_with_more_heap_free(tmp_path, vboard):
    sources = repo_snapshot(tmp_path)
    vb = vboard("esp32", extra=["--romfs", "256K"])
    dry = deploy_to(tmp_path, vb, "--romfs", "--dry-run", *sources)
    assert dry.returncode == 0 and "would write the ROMFS image" in dry.stdout, dry.stdout
    assert "Not a valid ROMFS" in mpremote(vb.link, "romfs", "query")  # still erased
    # First the ordinary way (.mpy in /lib), then the same sources in ROMFS.
    in_ram = served_url(deploy_to(tmp_path, vb, *sources))
    free_in_ram = heap_free(in_ram)
    assert (vb.flash / "lib" / "httpserver").is_dir()

    proc = deploy_to(tmp_path, vb, "--romfs", *sources)
    url = served_url(proc)
    assert "ROMFS image written" in proc.stdout, proc.stdout
    status, page = fetch(url)
    assert status == 200 and b"<html" in page.lower()
    # The modules are only in the image: the flash keeps the sources the
    # firmware runs, the config and the page; the /lib copies were removed.
    left = sorted(p.relative_to(vb.flash).as_posix() for p in vb.flash.rglob("*") if p.is_file())
    assert not [p for p in left if p.endswith((".mpy", ".deploy-tmp"))], left
    assert {"boot.py", "main.py", "config.json"} <= set(left), left
    # Bytecode runs in place from the partition: far more heap left for an app.
    free_in_rom = heap_free(url)
    assert free_in_rom - free_in_ram > 10000, (free_in_ram, free_in_rom)

    again = deploy_to(tmp_path, vb, "--romfs", *sources)
    served_url(again)
    assert "unchanged" in again.stdout and "ROMFS image written" not in again.stdout, again.stdout
    # (mpremote stops the app to ask: last)
    query = mpremote(vb.link, "romfs", "query")
    assert "ROMFS image size" in query, query


def test_deploy_romfs_to_firmware_without_romfs_says_so_and_writes_nothing(tmp_path, vboard):
    vb = vboard("pico_w")
    assert "ROMFS is not enabled" in mpremote(vb.link, "romfs", "query")
    proc = deploy_to(tmp_path, vb, "--romfs")
    assert_clean_failure(proc, 1, "has no ROMFS partition", "without --romfs")
    assert not [p for p in vb.flash.rglob("*") if p.is_file()]


def test_deploy_romfs_image_larger_than_the_partition_stops(tmp_path, vboard):
    vb = vboard("esp32", extra=["--romfs", "16K"])
    proc = deploy_to(tmp_path, vb, "--romfs")
    assert_clean_failure(proc, 1, "does not fit the board's partition (16384 B)")
    assert not [p for p in vb.flash.rglob("*") if p.is_file()]
