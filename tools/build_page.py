"""Gzip the status page for the board: device/www/index.html -> index.html.gz.

The board stores and serves only the gzipped page (Content-Encoding: gzip).
The output is reproducible (no timestamp or file name in the gzip header),
so it only changes when the page does.

    python tools/build_page.py           # rebuild
    python tools/build_page.py --check   # exit 1 when the .gz is out of date
"""

import gzip
import pathlib
import sys

PAGE = pathlib.Path(__file__).resolve().parent.parent / "device" / "www" / "index.html"


def build(source=PAGE):
    return gzip.compress(source.read_bytes(), compresslevel=9, mtime=0)


def main(argv):
    target = PAGE.with_name(PAGE.name + ".gz")
    data = build()
    if "--check" in argv:
        current = target.read_bytes() if target.exists() else b""
        if (gzip.decompress(current) if current else b"") != PAGE.read_bytes():
            print("%s is out of date: run python tools/build_page.py" % target)
            return 1
        print(
            "%s is up to date (%d bytes, page %d bytes)"
            % (target, len(current), PAGE.stat().st_size)
        )
        return 0
    target.write_bytes(data)
    print("wrote %s (%d bytes, page %d bytes)" % (target, len(data), PAGE.stat().st_size))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
