"""``python -m sagasim.storms jitter|storm [options]``: run an experiment."""

from __future__ import annotations

import sys

from sagasim.storms import jitter, storm

USAGE = "usage: python -m sagasim.storms {jitter,storm} [options] (-h for help)"


def main(argv: list[str] | None = None) -> int:
    """Dispatch to :func:`sagasim.storms.jitter.main` or
    :func:`sagasim.storms.storm.main`."""
    argv = sys.argv[1:] if argv is None else argv
    commands = {"jitter": jitter.main, "storm": storm.main}
    if not argv or argv[0] not in commands:
        print(USAGE, file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
